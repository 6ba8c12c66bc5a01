"""Every request gets an id: taken from ``X-Request-ID`` or made up, bound to
the logs while the request runs and sent back in the answer's header.

A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware``)
runs the application in a task of its own behind memory streams, which cost a
registration more than its one insert does.
"""

from __future__ import annotations

import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"


class RequestId:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope.get("headers", ()) if name == HEADER), b"")
        rid = given.decode("latin-1") or uuid.uuid4().hex[:16]
        raw = rid.encode("latin-1")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", ()) if name.lower() != HEADER]
                message["headers"] = [*headers, (HEADER, raw)]
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
