"""A small bounded pool of aiosmtplib connections, reused across messages.

At most ``size`` connections are open at once; a sender waits for a free one.
Connections are opened lazily, checked before reuse (still connected, not idle
longer than ``idle_seconds``) and thrown away after an error that may have
left them half-broken. The pool belongs to one event loop: used from another
(tests run one loop per test) it forgets the old loop's connections.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from email.message import Message as MimeMessage
from typing import Any

import aiosmtplib


def _reusable_after(exc: BaseException) -> bool:
    """Whether a connection can carry another message after ``exc``.

    A refusal the server answered (a 550 for a recipient, a 451 for the data)
    leaves the session usable: aiosmtplib resets the envelope (RSET). A 421
    means the server is closing the channel; anything else (lost connection,
    time-out, TLS trouble) leaves it in an unknown state.
    """
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(refused.code != 421 for refused in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code != 421 and not isinstance(exc, aiosmtplib.SMTPAuthenticationError)
    return False


def _close(smtp: aiosmtplib.SMTP) -> None:
    try:
        smtp.close()
    except RuntimeError:  # its event loop is already closed: nothing left to close
        pass


class SmtpPool:
    def __init__(
        self,
        connect_options: dict[str, Any],
        *,
        size: int = 4,
        idle_seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        if size < 1:
            raise ValueError("the SMTP pool needs at least one connection")
        self._options = connect_options
        self._size = size
        self._idle_seconds = idle_seconds
        self._monotonic = monotonic
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []  # (connection, last used)
        self._busy: set[aiosmtplib.SMTP] = set()
        self._gate: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.opened = 0  # connections opened so far, for tests and diagnostics

    def _bind_loop(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._gate is None:
            # Connections and the semaphore belong to the loop that made them.
            for smtp, _ in self._idle:
                _close(smtp)
            self._idle.clear()
            self._busy.clear()
            self._loop = loop
            self._gate = asyncio.Semaphore(self._size)
        return self._gate

    async def send(self, mime: MimeMessage) -> None:
        """Send ``mime`` on a pooled connection; raises what aiosmtplib raised."""
        gate = self._bind_loop()
        async with gate:
            smtp, reused = await self._checkout()
            try:
                await smtp.send_message(mime)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                self._discard(smtp)
                if not reused:
                    raise
                # The server dropped the connection while it sat in the pool
                # (restart, idle cut-off) and we had not noticed yet: once
                # more on a fresh connection, as the first send would have.
                smtp = await self._open()
                try:
                    await smtp.send_message(mime)
                except BaseException as again:
                    self._release(smtp, ok=_reusable_after(again))
                    raise
            except BaseException as exc:
                self._release(smtp, ok=_reusable_after(exc))
                raise
            self._release(smtp, ok=True)

    async def _checkout(self) -> tuple[aiosmtplib.SMTP, bool]:
        now = self._monotonic()
        while self._idle:
            smtp, last_used = self._idle.pop()
            if smtp.is_connected and now - last_used < self._idle_seconds:
                self._busy.add(smtp)
                return smtp, True
            await self._quietly_close(smtp)
        return await self._open(), False

    async def _open(self) -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(**self._options)
        await smtp.connect()  # also STARTTLS and AUTH, as configured
        self.opened += 1
        self._busy.add(smtp)
        return smtp

    def _release(self, smtp: aiosmtplib.SMTP, *, ok: bool) -> None:
        self._busy.discard(smtp)
        if ok and smtp.is_connected and self._gate is not None:
            self._idle.append((smtp, self._monotonic()))
        else:
            _close(smtp)

    def _discard(self, smtp: aiosmtplib.SMTP) -> None:
        self._busy.discard(smtp)
        _close(smtp)

    @staticmethod
    async def _quietly_close(smtp: aiosmtplib.SMTP) -> None:
        if smtp.is_connected:
            try:
                await smtp.quit(timeout=2.0)
            except (aiosmtplib.SMTPException, OSError):
                pass
        _close(smtp)

    async def aclose(self) -> None:
        """QUIT and close every idle connection; busy ones close when released."""
        idle, self._idle = self._idle, []
        for smtp, _ in idle:
            await self._quietly_close(smtp)
        # A send still in flight finds no gate and closes its connection.
        self._gate = None
        self._loop = None

    @property
    def open_connections(self) -> int:
        return len(self._idle) + len(self._busy)
