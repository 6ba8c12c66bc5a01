"""Email through an SMTP server, with aiosmtplib.

Connections are reused from a small bounded pool
(:class:`alerts.smtp_pool.SmtpPool`): a burst of thousands of alerts must not
open thousands of connections, and a handshake (EHLO, STARTTLS, AUTH) per
message caps throughput at a few dozen a second.
SMTP connections do not multiplex, so each send holds one connection for its
whole transaction. A connection is dropped after any error that may have left
it half-broken (a lost connection, a 421, a time-out) and after an idle time,
so a server restart or an idle cut-off costs one reconnect, never a message:
a send that finds its reused connection gone retries once on a fresh one.
"""

from __future__ import annotations

import ssl
from email.header import Header
from email.message import Message as MimeMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr

import aiosmtplib

from alerts.base import ChannelName, DeliveryError, Message, Receipt
from alerts.smtp_pool import SmtpPool


def classify_smtp_error(exc: BaseException) -> DeliveryError:
    """The :class:`DeliveryError` for anything aiosmtplib raised while sending.

    SMTP says it itself: 4xx replies are temporary, 5xx permanent (RFC 5321
    §4.2.1). Failing to reach or keep the server is transient; a TLS
    certificate the client rejects, or a server lacking STARTTLS/AUTH, is a
    configuration problem that another try cannot fix.
    """
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        # One recipient per message, so one refusal; classify by its reply.
        if exc.recipients:
            exc = exc.recipients[0]
        else:
            return DeliveryError("all recipients refused", permanent=True, code="recipients_refused")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code = exc.code
        reason = f"SMTP {code}: {exc.message}"
        if 400 <= code < 500:
            return DeliveryError(reason, permanent=False, code=str(code))
        if 500 <= code < 600:
            return DeliveryError(reason, permanent=True, code=str(code))
        return DeliveryError(f"unexpected SMTP reply {reason}", permanent=False, code=str(code))
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return DeliveryError(f"SMTP server lacks a feature we need: {exc}", permanent=True, code="not_supported")
    if isinstance(exc, ssl.SSLCertVerificationError) or isinstance(
        exc.__cause__, ssl.SSLCertVerificationError
    ):
        return DeliveryError(f"SMTP server certificate rejected: {exc}", permanent=True, code="tls")
    if isinstance(exc, TimeoutError):
        return DeliveryError(f"SMTP timeout: {exc}", permanent=False, code="timeout")
    if isinstance(exc, (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError)):
        return DeliveryError(f"cannot reach SMTP server: {exc}", permanent=False, code="connection")
    if isinstance(exc, aiosmtplib.SMTPException):
        return DeliveryError(f"SMTP error: {exc}", permanent=False, code="smtp")
    raise TypeError(f"not an SMTP error: {exc!r}")


class SmtpEmailChannel:
    name: ChannelName = ChannelName.EMAIL
    provider = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        from_addr: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        use_tls: bool = False,
        timeout: float = 10.0,
        validate_certs: bool = True,
        cert_bundle: str | None = None,
        pool_size: int = 4,
        idle_seconds: float = 30.0,
    ):
        if starttls and use_tls:
            raise ValueError("starttls and use_tls (implicit TLS) exclude each other")
        if (username is None) != (password is None):
            raise ValueError("set both username and password, or neither")
        self.pool = SmtpPool(
            dict(
                hostname=host,
                port=port,
                username=username,
                password=password,
                # False, not None: None would mean "STARTTLS if offered", and a
                # plain server configured as plain should stay predictable.
                start_tls=starttls,
                use_tls=use_tls,
                timeout=timeout,
                validate_certs=validate_certs,
                cert_bundle=cert_bundle,
            ),
            size=pool_size,
            idle_seconds=idle_seconds,
        )
        # Message-IDs name the sender's domain, as RFC 5322 suggests.
        name, address = parseaddr(from_addr)
        self._msgid_domain = address.rpartition("@")[2] or None
        self._from_header = formataddr((name, address), charset="utf-8") if address else from_addr

    def build(self, message: Message) -> MimeMessage:
        """The MIME message that :meth:`send` submits (text, plus HTML when given).

        Built with the compat32 classes of :mod:`email.mime`: the modern
        ``EmailMessage`` API parses and refolds every header, which cost more
        CPU per alert than the whole SMTP exchange once connections are reused.
        """
        for header in (message.to, message.subject):
            if "\r" in header or "\n" in header:
                raise ValueError("a line break in a header")  # header injection
        text = MIMEText(message.body, "plain", "utf-8")
        mime: MimeMessage
        if message.html is None:
            mime = text
        else:
            mime = MIMEMultipart("alternative")
            mime.attach(text)
            mime.attach(MIMEText(message.html, "html", "utf-8"))
        mime["From"] = self._from_header
        mime["To"] = message.to
        mime["Subject"] = Header(message.subject, "utf-8")
        # The wire header says when the mail was composed; it is not domain
        # time, so it is taken from the system clock like any MTA would.
        mime["Date"] = formatdate(usegmt=True)
        mime["Message-ID"] = make_msgid(domain=self._msgid_domain)
        # RFC 3834: tells vacation responders not to answer an alert.
        mime["Auto-Submitted"] = "auto-generated"
        return mime

    async def send(self, message: Message) -> Receipt:
        if message.channel != ChannelName.EMAIL:
            raise ValueError(f"SmtpEmailChannel cannot send a {message.channel!r} message")
        try:
            mime = self.build(message)
        except ValueError as exc:
            # e.g. a line break in the address or subject: this message can never go out.
            raise DeliveryError(f"cannot build the email: {exc}", permanent=True, code="invalid_message") from exc
        try:
            await self.pool.send(mime)
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise classify_smtp_error(exc) from exc
        return Receipt(provider=self.provider, provider_id=mime["Message-ID"])

    async def aclose(self) -> None:
        await self.pool.aclose()
