"""A local dysmsapi-compatible endpoint: the network peer for the Alibaba Cloud
SMS tests and the bench.

It serves the SendSms RPC action of Dysmsapi 2017-05-25 the way the official SDK
calls it (``POST /`` with the action in ``x-acs-action`` and the parameters in
the query) and checks the request's ACS3-HMAC-SHA256 signature, written here
from Alibaba Cloud's description of V3 request signing (canonical request,
string to sign, HMAC-SHA256 with the AccessKey secret), not from the SDK, so a
request the SDK signed wrongly is refused as Aliyun would refuse it. Each
request takes the next scripted reply (or a success) and is recorded.

Lives with the tests (test equipment, not product code); the bench imports it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from itertools import count
from urllib.parse import parse_qsl, quote

from aiohttp import web

ACCESS_KEY_ID = "LTAI5tTestAccessKeyId"
ACCESS_KEY_SECRET = "test-access-key-secret"
SIGN_NAME = "斗门区应急管理局"

_AUTHORIZATION = re.compile(r"ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]+)")


@dataclass(frozen=True)
class Reply:
    code: str = "OK"  # Aliyun's answer code; "OK" is a success
    status: int = 200  # SendSms refuses most things with 200 and a code; the gateway with an HTTP error
    message: str = ""
    hang: bool = False  # never answer, to trigger the client's timeout


def refusal(code: str, message: str = "", status: int = 200) -> Reply:
    return Reply(code=code, status=status, message=message or code)


HANG = Reply(hang=True)


@dataclass
class RecordedSms:
    action: str
    access_key_id: str | None
    signed: bool  # the ACS3-HMAC-SHA256 signature checks out with the secret
    phone_numbers: str | None
    sign_name: str | None
    template_code: str | None
    template_param: dict | None
    query: dict[str, str] = field(repr=False)


def _encode(text: str) -> str:
    return quote(text, safe="-_.~", encoding="utf-8")


def expected_signature(secret: str, method: str, path: str, query: dict[str, str], headers: dict[str, str],
                       signed_headers: list[str], payload_hash: str) -> str:
    """The V3 signature of a request, as Alibaba Cloud computes it."""
    canonical_query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(query.items(), key=lambda kv: _encode(
        kv[0])))
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed_headers)
    canonical_request = "\n".join([method, quote(path or "/", safe="/~"), canonical_query, canonical_headers,
                                   ";".join(signed_headers), payload_hash])
    string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical_request.encode()).hexdigest()
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


class FakeAliyunSms:
    def __init__(self, access_key_id: str = ACCESS_KEY_ID, access_key_secret: str = ACCESS_KEY_SECRET):
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.requests: list[RecordedSms] = []
        self._script: list[Reply] = []
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._biz_ids = count(900619746936498440)
        self.endpoint = ""  # http://127.0.0.1:PORT, for SUNCLOCK_ALIYUN_SMS_ENDPOINT

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order, then succeed."""
        self._script.extend(replies)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application()
        app.router.add_post("/", self._rpc)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.endpoint = f"http://{host}:{self._runner.addresses[0][1]}"
        return self.endpoint

    async def close(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeAliyunSms:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _check_signature(self, request: web.Request, body: bytes, query: dict[str, str]) -> tuple[str | None, bool]:
        found = _AUTHORIZATION.fullmatch(request.headers.get("Authorization", ""))
        if found is None:
            return None, False
        key_id, signed_headers, signature = found.groups()
        headers = {name.lower(): value for name, value in request.headers.items()}
        payload_hash = hashlib.sha256(body).hexdigest()
        if headers.get("x-acs-content-sha256") != payload_hash:
            return key_id, False
        expected = expected_signature(self.access_key_secret, request.method, request.path, query, headers,
                                      signed_headers.split(";"), payload_hash)
        return key_id, hmac.compare_digest(expected, signature)

    async def _rpc(self, request: web.Request) -> web.Response:
        body = await request.read()
        query = dict(parse_qsl(request.query_string, keep_blank_values=True))
        key_id, signed = self._check_signature(request, body, query)
        param = query.get("TemplateParam")
        self.requests.append(RecordedSms(
            action=request.headers.get("x-acs-action", ""), access_key_id=key_id, signed=signed,
            phone_numbers=query.get("PhoneNumbers"), sign_name=query.get("SignName"),
            template_code=query.get("TemplateCode"), template_param=json.loads(param) if param else None,
            query=query))
        if key_id is None:
            return _answer(refusal("MissingAuthorization", "no signed Authorization header", 400))
        if key_id != self.access_key_id:
            return _answer(refusal("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404))
        if not signed:
            return _answer(refusal("SignatureDoesNotMatch", "The request signature does not conform.", 400))
        if request.headers.get("x-acs-action") != "SendSms" or request.headers.get("x-acs-version") != "2017-05-25":
            return _answer(refusal("InvalidAction.NotFound", "Specified api is not found.", 404))
        reply = self._script.pop(0) if self._script else Reply()
        if reply.hang:
            await self._release.wait()
            return web.Response(status=503)
        if reply.code == "OK":
            return web.json_response({"Code": "OK", "Message": "OK", "BizId": f"{next(self._biz_ids)}^0",
                                      "RequestId": "F655A8D5-B967-440B-8683-DAD6FF8DE990"})
        return _answer(reply)


def _answer(reply: Reply) -> web.Response:
    return web.json_response({"Code": reply.code, "Message": reply.message, "RequestId":
                              "A1B2C3D4-0000-4000-8000-000000000000"}, status=reply.status)
