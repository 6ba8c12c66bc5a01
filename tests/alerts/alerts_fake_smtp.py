"""A local SMTP server (aiosmtpd) that records what it accepts: the email peer.

aiosmtpd's Controller runs the server on its own thread and event loop, so
the channel under test talks to it over a real socket. The handler can be told
to refuse at RCPT or DATA with any reply, e.g. ``451 ...`` or ``550 ...``.

Lives with the tests; the bench imports it by putting this folder on ``sys.path``.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import cached_property

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    authenticated_as: str | None
    connection: int  # numbers the server's connections in the order they delivered
    at: float = field(default_factory=time.time)  # when it arrived (wall clock), for lag measured from outside

    @cached_property
    def message(self) -> EmailMessage:
        # Parsed when a test reads it, not on the server thread: the bench
        # measures the channel, not the stdlib email parser.
        return message_from_bytes(self.raw, policy=policy.default)


class RecordingHandler:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse_rcpt: str | None = None  # e.g. "550 5.1.1 No such user"
        self.refuse_data: str | None = None  # e.g. "451 4.3.0 Try again later"
        self.drop_connection_after_data = False  # close the connection after accepting one message
        self._lock = threading.Lock()  # the server thread appends, the test reads
        self._connections: dict[int, int] = {}  # id(server protocol) -> number; servers kept in _servers
        self._servers: list = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_data:
            return self.refuse_data
        user = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        with self._lock:
            if id(server) not in self._connections:
                self._servers.append(server)  # kept alive so that its id is not reused
                self._connections[id(server)] = len(self._servers)
            number = self._connections[id(server)]
            self.received.append(
                Received(envelope.mail_from, tuple(envelope.rcpt_tos), envelope.original_content, user, number)
            )
        if self.drop_connection_after_data:
            self.drop_connection_after_data = False
            # The reply is written first; the connection then goes, as when a relay restarts.
            server.loop.call_soon(server.transport.close)
        return "250 Message accepted for delivery"

    @property
    def connections(self) -> int:
        """How many connections delivered at least one message."""
        with self._lock:
            return len(self._servers)


class PasswordCheck:
    """aiosmtpd authenticator accepting one login."""

    def __init__(self, username: str, password: str):
        self._expected = (username.encode(), password.encode())

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == self._expected
        # Returning the LoginPassword makes it session.auth_data, so the
        # handler can record who sent the message.
        return AuthResult(success=ok, auth_data=auth_data if ok else None, handled=False)


def free_port() -> int:
    # aiosmtpd's Controller checks readiness by connecting to the port it was
    # given, so port 0 cannot be used; ask the OS for a free one instead.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(
    handler: RecordingHandler,
    *,
    credentials: tuple[str, str] | None = None,
    starttls_context: ssl.SSLContext | None = None,
    implicit_tls_context: ssl.SSLContext | None = None,
    port: int | None = None,
) -> Iterator[Controller]:
    """Run an SMTP server on 127.0.0.1 for the duration of the ``with`` block.

    ``credentials`` enables AUTH (also without TLS, as on a lab relay);
    ``starttls_context`` offers and requires STARTTLS; ``implicit_tls_context``
    serves TLS from the first byte (SMTPS). ``port`` reuses a port, e.g. to
    restart a server that a client knows.
    """
    kwargs: dict = {}
    if credentials is not None:
        # Without TLS, AUTH is offered but not required: aiosmtpd warns about
        # requiring it in clear text. Tests check who logged in instead.
        with_tls = starttls_context is not None
        kwargs.update(
            authenticator=PasswordCheck(*credentials),
            auth_required=with_tls,
            auth_require_tls=with_tls,
        )
    if starttls_context is not None:
        kwargs.update(tls_context=starttls_context, require_starttls=True)
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port or free_port(),
        ssl_context=implicit_tls_context,
        server_hostname="sunclock-test-smtp",
        ready_timeout=5.0,
        **kwargs,
    )
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()
