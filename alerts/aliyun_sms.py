"""SMS through Alibaba Cloud SMS (阿里云短信, dysmsapi SendSms), with the official SDK.

An approved template is sent, not our text: the template file
(:mod:`alerts.aliyun_templates`) picks the template for the message's step and
kind of matter and fills its variables from the facts rendered with the message
(:func:`alerts.render.sms_facts`). The SDK signs each request (ACS3-HMAC-SHA256)
and its own retries stay off: retrying is decided once, in :mod:`alerts.policy`,
from the answer codes classified in :mod:`alerts.aliyun_errors`. Aliyun's
``BizId`` is the receipt's provider id.
"""

from __future__ import annotations

import json

from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_dysmsapi20170525.models import SendSmsRequest
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.exceptions import ResponseException, UnretryableException
from darabonba.runtime import RuntimeOptions

from alerts.aliyun_errors import classify_aliyun_error
from alerts.aliyun_templates import AliyunTemplates, TemplateTooLong
from alerts.base import ChannelName, DeliveryError, Message, Receipt
from alerts.channels import parse_endpoint

DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com"


def _facts(message: Message) -> dict[str, str]:
    try:
        facts = json.loads(message.html or "")
    except json.JSONDecodeError:
        facts = None
    if not isinstance(facts, dict) or "step" not in facts:
        # Rendered by a version without template facts: no template can be filled.
        raise DeliveryError("the message carries no template facts", permanent=True, code="no_facts")
    return facts


def aliyun_number(e164: str) -> str:
    """Aliyun takes a mainland number as +86…, 86… or bare, so it goes as stored;
    any other as country code and number, without the "+"."""
    return e164 if e164.startswith("+86") else e164.removeprefix("+")


def _error_from_answer(code: str | None, status: int | None, detail: str | None) -> DeliveryError:
    permanent, reason = classify_aliyun_error(code, status)
    if detail:
        reason = f"{reason}: {detail}"  # masked by DeliveryError: it may quote the number
    return DeliveryError(reason, permanent=permanent, code=code or str(status))


def _unanswered(exc: UnretryableException, timeout: float) -> DeliveryError:
    # The SDK turns aiohttp's errors into a RetryError (the original is its
    # context) inside an UnretryableException: look down the chain for a timeout.
    cause: BaseException | None = getattr(exc, "inner_exception", None) or exc
    inner = cause
    while cause is not None and not isinstance(cause, TimeoutError):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        return DeliveryError(f"no answer from Aliyun within {timeout:g} s", permanent=False, code="timeout")
    detail = getattr(inner, "message", None) or str(inner)
    return DeliveryError(f"cannot reach Aliyun: {detail}", permanent=False, code="connection")


class AliyunSmsChannel:
    name: ChannelName = ChannelName.SMS
    provider = "aliyun"

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        templates: AliyunTemplates,
        endpoint: str | None = None,
        timeout: float = 10.0,
    ):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        protocol, host = parse_endpoint(endpoint or DEFAULT_ENDPOINT)
        self._sign_name = sign_name
        self._templates = templates
        self._timeout = timeout
        milliseconds = int(timeout * 1000)
        # No event loop is needed to build it: the SDK opens an aiohttp session per request.
        self._client = Client(Config(
            access_key_id=access_key_id, access_key_secret=access_key_secret, endpoint=host, protocol=protocol,
            region_id="cn-hangzhou", read_timeout=milliseconds, connect_timeout=milliseconds))
        self._runtime = RuntimeOptions(autoretry=False, read_timeout=milliseconds, connect_timeout=milliseconds)

    def request_for(self, message: Message) -> SendSmsRequest:
        """The SendSms request for ``message``: its template, variables and number."""
        facts = _facts(message)
        template = self._templates.choose(facts["step"], facts.get("kind", ""))
        if template is None:
            raise DeliveryError(f"no template for step {facts['step']!r} in {self._templates.path}",
                                permanent=True, code="no_template")
        try:
            values = template.values(facts)
        except TemplateTooLong as exc:
            raise DeliveryError(str(exc), permanent=True, code="param_too_long") from exc
        return SendSmsRequest(
            phone_numbers=aliyun_number(message.to),
            sign_name=self._sign_name,
            template_code=template.code,
            template_param=json.dumps(values, ensure_ascii=False),
        )

    async def send(self, message: Message) -> Receipt:
        if message.channel != ChannelName.SMS:
            raise ValueError(f"AliyunSmsChannel cannot send a {message.channel!r} message")
        request = self.request_for(message)
        try:
            response = await self._client.send_sms_with_options_async(request, self._runtime)
        except ResponseException as exc:  # refused by the API gateway, with an HTTP error
            raise _error_from_answer(exc.code, exc.status_code, exc.message) from exc
        except UnretryableException as exc:  # no answer: the SDK wraps what went wrong
            raise _unanswered(exc, self._timeout) from exc
        body = response.body
        if body is None or body.code != "OK":
            code = body.code if body is not None else None
            raise _error_from_answer(code, response.status_code, body.message if body is not None else None)
        if not body.biz_id:
            # Accepted without an id: it may be on its way, but a duplicate beats a lost alert.
            raise DeliveryError("Aliyun accepted the request but returned no BizId", permanent=False, code="no_biz_id")
        return Receipt(provider=self.provider, provider_id=body.biz_id)

    async def aclose(self) -> None:
        return None  # the SDK keeps no connection between requests
