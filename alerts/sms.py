"""SMS through Twilio's Programmable Messaging API, with the official client.

The client's asyncio transport (``AsyncTwilioHttpClient``, aiohttp underneath)
is wrapped so that

* every request goes to ``api_base`` when one is configured. twilio-python has
  no base-URL setting; Twilio's own advice is a custom HTTP client, and
  rewriting at that layer (the last step before the wire) covers every domain
  and survives edge/region host rewriting, unlike patching
  ``client.api.base_url``;
* the configured timeout is applied: the async client ignores its own
  ``timeout`` and passes ``None`` to aiohttp, which then never times out;
* basic auth is sent as a plain header, since aiohttp deprecates the
  ``BasicAuth`` helper the client would otherwise use.

Errors are classified once, in :func:`alerts.twilio_errors.classify_twilio_error`,
which the status callback handler reuses for the ``ErrorCode`` of a failed
delivery.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import SplitResult, urlsplit, urlunsplit

import aiohttp
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from alerts.base import ChannelName, DeliveryError, Message, Receipt, SentMessage
from alerts.twilio_errors import classify_twilio_error

T = TypeVar("T")


def _error_from_twilio(exc: TwilioRestException | TwilioServiceException) -> DeliveryError:
    status = exc.status
    # When the body carries no Twilio code the client repeats the HTTP status
    # in ``code``; the table does not know it, so the status decides.
    code = exc.code if isinstance(exc.code, int) else None
    permanent, reason = classify_twilio_error(status, code)
    detail = exc.msg if isinstance(exc, TwilioRestException) else (exc.detail or exc.title)
    if detail:
        reason = f"{reason}: {detail}"  # masked by DeliveryError: it quotes the number
    return DeliveryError(reason, permanent=permanent, code=str(code if code is not None else status))


def _parse_api_base(api_base: str) -> SplitResult:
    base = urlsplit(api_base.rstrip("/"))
    if base.scheme not in ("http", "https") or not base.netloc or base.query or base.fragment:
        raise ValueError(f"Twilio API base must look like http(s)://host[:port][/path], got {api_base!r}")
    return base


class _TwilioHttpClient(AsyncTwilioHttpClient):
    """The official async client, sent to ``api_base`` and with its timeout honoured."""

    def __init__(self, *, api_base: str | None, timeout: float):
        super().__init__(timeout=timeout)
        self._base = _parse_api_base(api_base) if api_base else None

    def _rebase(self, url: str) -> str:
        if self._base is None:
            return url
        parts = urlsplit(url)
        return urlunsplit(
            (self._base.scheme, self._base.netloc, self._base.path + parts.path, parts.query, "")
        )

    async def request(
        self,
        method: str,
        url: str,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if auth is not None:
            # aiohttp deprecates its BasicAuth (which the twilio client would
            # use), so send the same header ourselves.
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {token}"}
        return await super().request(
            method,
            self._rebase(url),
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=timeout if timeout is not None else self.timeout,
            allow_redirects=allow_redirects,
        )


LOG_PAGE = 1000  # messages per page of the log, Twilio's maximum
LOG_PAGES = 20  # pages read at most: the messages to one number since one step's time


class TwilioApi:
    """The official client for one account, built on first use, and what its
    failures mean: shared by the SMS and the voice channel."""

    def __init__(self, account_sid: str, auth_token: str, *, api_base: str | None = None, timeout: float = 10.0):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if api_base:
            _parse_api_base(api_base)  # a bad setting fails at start-up, not at the first alert
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._api_base = api_base
        self.timeout = timeout
        self._http: _TwilioHttpClient | None = None
        self._client: Client | None = None

    def client(self) -> Client:
        # Built on first use: aiohttp's ClientSession must be created inside a
        # running event loop, and channels are built at start-up, before it.
        if self._client is None:
            self._http = _TwilioHttpClient(api_base=self._api_base, timeout=self.timeout)
            self._client = Client(self._account_sid, self._auth_token, http_client=self._http)
        return self._client

    async def create(self, request: Callable[[Client], Awaitable[T]]) -> T:
        """``request(client)``, its failures turned into :class:`DeliveryError`."""
        try:
            return await request(self.client())
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _error_from_twilio(exc) from exc
        # aiohttp's timeouts subclass TimeoutError (and some also ClientError):
        # test for it first so they are reported as timeouts.
        except TimeoutError as exc:
            raise DeliveryError(
                f"no answer from Twilio within {self.timeout:g} s", permanent=False, code="timeout"
            ) from exc
        except aiohttp.ClientError as exc:
            raise DeliveryError(
                f"cannot reach Twilio: {exc.__class__.__name__}: {exc}",
                permanent=False,
                code="connection",
            ) from exc
        except json.JSONDecodeError as exc:
            # A 2xx whose body is not JSON: something between us and Twilio
            # (a proxy, a captive portal) answered; worth another try.
            raise DeliveryError(
                "Twilio's answer was not JSON", permanent=False, code="bad_response"
            ) from exc

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = None
        self._client = None


def receipt_for(sid: str | None, provider: str) -> Receipt:
    if not sid:
        # Accepted (2xx) but no SID: the message may well be on its way, so
        # retrying risks a duplicate; still, a duplicate beats a lost alert.
        raise DeliveryError("Twilio accepted the request but returned no SID", permanent=False, code="no_sid")
    return Receipt(provider=provider, provider_id=sid)


class TwilioSmsChannel:
    name: ChannelName = ChannelName.SMS
    provider = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_: str,
        api_base: str | None = None,
        timeout: float = 10.0,
    ):
        self._api = TwilioApi(account_sid, auth_token, api_base=api_base, timeout=timeout)
        self._from = from_

    async def send(self, message: Message) -> Receipt:
        if message.channel != ChannelName.SMS:
            raise ValueError(f"TwilioSmsChannel cannot send a {message.channel!r} message")
        created = await self._api.create(lambda client: client.messages.create_async(
            to=message.to,
            from_=self._from,
            body=message.body,
            status_callback=message.status_callback or values.unset,
        ))
        return receipt_for(created.sid, self.provider)

    async def sent_since(self, to: str, since: datetime) -> list[SentMessage]:
        """What Twilio's message log holds for ``to`` sent on or after the day of
        ``since`` (``GET …/Messages.json?To=…&DateSent>=…``, page after page).
        Raises DeliveryError when the log cannot be read."""
        try:
            found = await self._api.create(lambda client: self._read_log(client, to, since))
        except TwilioException as exc:  # a page it could not fetch (the client raises no status there)
            raise DeliveryError(f"cannot read Twilio's message log: {exc}", permanent=False, code="log") from exc
        return [SentMessage(provider_id=m.sid, body=m.body or "", sent_at=m.date_sent) for m in found if m.sid]

    @staticmethod
    async def _read_log(client: Client, to: str, since: datetime) -> list:
        """Page after page, as the log's next_page_uri leads, LOG_PAGES at most
        (an endpoint that always offers a next page must not keep this reading)."""
        # By date (``DateSent>=YYYY-MM-DD``, GMT), the form Twilio documents: the day
        # may hold more than asked for, and the caller picks by content anyway.
        day = since.astimezone(UTC).date().isoformat()
        page = await client.messages.page_async(to=to, date_sent_after=day, page_size=LOG_PAGE)
        found = []
        for _ in range(LOG_PAGES):
            found += list(page)
            if not page.next_page_url or (page := await page.next_page_async()) is None:
                break
        return found

    @property
    def timeout(self) -> float:
        return self._api.timeout

    async def aclose(self) -> None:
        await self._api.aclose()
