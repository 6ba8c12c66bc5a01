"""A local Twilio-compatible endpoint: the network peer for SMS tests and the bench.

It speaks the part of Twilio's REST API that Sunclock uses,
``POST /2010-04-01/Accounts/{sid}/Messages.json`` (send), ``GET`` of the same
path (the message log, filtered by ``To`` and ``DateSent``, in pages) and
``POST .../Calls.json`` with HTTP basic auth, and answers like Twilio does, so
the real ``twilio`` client can be pointed at it with ``api_base``. Each send
takes the next scripted reply (or a success when none is left) and is recorded
for assertions; ``outage`` makes every request fail with one reply until it is
cleared.

Lives with the tests (it is test equipment, not product code); the bench
imports it by putting this folder on ``sys.path``.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import web

MESSAGES_PATH = "/2010-04-01/Accounts/{account_sid}/Messages.json"
CALLS_PATH = "/2010-04-01/Accounts/{account_sid}/Calls.json"

# Credentials for tests and the bench; the SID has the shape Twilio (and its
# published contract) requires.
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token"
FROM_NUMBER = "+15005550006"


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict | None = None  # None with a success status: the Message resource
    hang: bool = False  # never answer, to trigger the client's timeout


def twilio_error(status: int, code: int, message: str) -> Reply:
    """An error the way Twilio's API shapes it."""
    return Reply(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


SUCCESS = Reply(201)
HANG = Reply(0, hang=True)


@dataclass
class RecordedRequest:
    path: str
    form: dict[str, str]
    authorized: bool
    headers: dict[str, str] = field(repr=False)


class FakeTwilio:
    def __init__(self, account_sid: str, auth_token: str):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[RecordedRequest] = []
        self._script: list[Reply] = []
        self._release = asyncio.Event()  # lets hung handlers finish at close()
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        # Seconds before each answer, after the message is recorded (accepted):
        # a slow carrier, so that a sender can be killed between the two.
        self.latency = 0.0
        # While set, every request (send or log) gets this reply: a provider outage.
        self.outage: Reply | None = None
        self.log: list[dict] = []  # the accepted messages, as the log lists them
        self.log_requests: list[dict[str, str]] = []  # the query of each log read

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order, then succeed."""
        self._script.extend(replies)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application()
        app.router.add_post(MESSAGES_PATH, self._create_message)
        app.router.add_post(CALLS_PATH, self._create_call)
        app.router.add_get(MESSAGES_PATH, self._list_messages)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}"
        return self.base_url

    async def close(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTwilio:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _authorized(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization", "") == f"Basic {expected}"

    async def _create_message(self, request: web.Request) -> web.Response:
        return await self._create(request, self._message_resource)

    async def _create_call(self, request: web.Request) -> web.Response:
        return await self._create(request, self._call_resource)

    async def _create(self, request: web.Request, build) -> web.Response:  # noqa: ANN001 - a resource builder
        form = {key: str(value) for key, value in (await request.post()).items()}
        authorized = self._authorized(request)
        self.requests.append(RecordedRequest(request.path, form, authorized, dict(request.headers)))

        if not authorized:
            return _json(twilio_error(401, 20003, "Authenticate"))
        if request.match_info["account_sid"] != self.account_sid:
            return _json(twilio_error(404, 20404, "The requested resource was not found"))
        reply = self.outage or (self._script.pop(0) if self._script else SUCCESS)
        accepted = reply.body is None and 200 <= reply.status < 300
        resource = build(form) if accepted else None
        if resource is not None and build == self._message_resource:
            self.log.append(resource)  # in the log from the moment it is accepted, answered or not
        if self.latency:
            await asyncio.sleep(self.latency)  # simulated carrier latency, not a test waiting for time
        if reply.hang:
            await self._release.wait()
            return web.Response(status=503)
        if resource is not None:
            return web.json_response(_public(resource), status=reply.status)
        return _json(reply)

    async def _list_messages(self, request: web.Request) -> web.Response:
        """The message log: newest first, filtered by To and DateSent (``DateSent>``
        is "at or after", as Twilio's), PageSize at a time."""
        query = dict(request.query)
        self.log_requests.append(query)
        if not self._authorized(request):
            return _json(twilio_error(401, 20003, "Authenticate"))
        if self.outage is not None:
            return _json(self.outage)
        after, before = _when(query.get("DateSent>")), _when(query.get("DateSent<"))
        found = [m for m in reversed(self.log)
                 if ("To" not in query or m["to"] == query["To"])
                 and (after is None or m["_sent"] >= after) and (before is None or m["_sent"] <= before)]
        size, page = int(query.get("PageSize", 50)), int(query.get("Page", 0))
        chunk = found[page * size:(page + 1) * size]
        path = MESSAGES_PATH.format(account_sid=self.account_sid)
        rest = {k: v for k, v in query.items() if k not in ("Page", "PageToken")}

        def uri(n: int) -> str:
            return request.url.with_path(path).with_query({**rest, "Page": str(n), "PageToken": f"PT{n}"}).path_qs

        more = (page + 1) * size < len(found)
        return web.json_response({
            "messages": [_public(m) for m in chunk],
            "page": page, "page_size": size, "start": page * size, "end": page * size + len(chunk) - 1,
            "uri": request.path_qs, "first_page_uri": uri(0), "previous_page_uri": uri(page - 1) if page else None,
            "next_page_uri": uri(page + 1) if more else None,
        })

    def _message_resource(self, form: dict[str, str]) -> dict:
        sid = "SM" + uuid.uuid4().hex
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        sent = datetime.now(UTC).replace(microsecond=0)  # the peer's own clock, as Twilio's
        return {
            "_sent": sent,
            "_at": time.time(),  # when it was accepted, for lag measured from outside
            "date_sent": format_datetime(sent),
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": "Sat, 28 Nov 2026 06:30:00 +0000",
            "date_updated": "Sat, 28 Nov 2026 06:30:00 +0000",
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{base}/Media.json"},
            "to": form.get("To"),
            "uri": f"{base}.json",
        }


    def _call_resource(self, form: dict[str, str]) -> dict:
        sid = "CA" + uuid.uuid4().hex
        base = f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}"
        return {
            "account_sid": self.account_sid,
            "answered_by": None,
            "api_version": "2010-04-01",
            "caller_name": None,
            "date_created": "Sat, 28 Nov 2026 06:30:00 +0000",
            "date_updated": "Sat, 28 Nov 2026 06:30:00 +0000",
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": form.get("From"),
            "from_formatted": form.get("From"),
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {"recordings": f"{base}/Recordings.json"},
            "to": form.get("To"),
            "to_formatted": form.get("To"),
            "trunk_sid": None,
            "uri": f"{base}.json",
        }


def _public(resource: dict) -> dict:
    """The resource as Twilio shows it, without the fake's own bookkeeping."""
    return {k: v for k, v in resource.items() if not k.startswith("_")}


def _when(value: str | None) -> datetime | None:
    """A DateSent filter: a date (its midnight, GMT) or the client's ISO 8601 time."""
    if not value:
        return None
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _json(reply: Reply) -> web.Response:
    return web.json_response(reply.body, status=reply.status)
