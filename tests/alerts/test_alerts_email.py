"""SmtpEmailChannel against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import ssl

import aiosmtplib
import pytest
from alerts_fake_smtp import RecordingHandler, free_port, smtp_server

from alerts.base import DeliveryError, Message
from alerts.email import SmtpEmailChannel, classify_smtp_error
from alerts.masking import mask

TO = "head@emb.example.org"
SMTP_FROM = "Sunclock <sunclock@alerts.example.org>"


def email_message(html: str | None = "<p>逾期 <b>1小时</b></p>") -> Message:
    return Message(
        channel="email",
        to=TO,
        subject="【逾期】Ⅰ级 XX化工厂爆炸 发布权威信息 已超时1小时",
        body="张三：\n\n发布权威信息已超时1小时。\nhttps://sunclock.example.org/ack/t",
        html=html,
    )


def _lines(text: str) -> list[str]:
    return text.strip().splitlines()  # SMTP carries CRLF line ends


async def test_plain_send_is_received_with_a_message_id(email_channel, smtp_handler: RecordingHandler):
    receipt = await email_channel.send(email_message())

    [received] = smtp_handler.received
    assert received.rcpt_tos == (TO,)
    assert received.mail_from == "sunclock@alerts.example.org"
    assert receipt.provider == "smtp"
    assert receipt.provider_id == received.message["Message-ID"]
    assert receipt.provider_id.endswith("@alerts.example.org>")


async def test_message_is_multipart_alternative_with_text_and_html(email_channel, smtp_handler):
    message = email_message()
    await email_channel.send(message)

    mime = smtp_handler.received[0].message
    assert mime.get_content_type() == "multipart/alternative"
    assert mime["Subject"] == message.subject  # non-ASCII survives the header encoding
    assert mime["To"] == TO
    assert mime["Auto-Submitted"] == "auto-generated"
    assert mime["Date"]
    text = mime.get_body(preferencelist=("plain",))
    html = mime.get_body(preferencelist=("html",))
    assert _lines(text.get_content()) == _lines(message.body)
    assert _lines(html.get_content()) == _lines(message.html)


async def test_message_without_html_is_plain_text(email_channel, smtp_handler):
    await email_channel.send(email_message(html=None))

    assert smtp_handler.received[0].message.get_content_type() == "text/plain"


async def test_login_with_credentials(smtp_handler):
    with smtp_server(smtp_handler, credentials=("alerts", "s3cret")) as server:
        channel = SmtpEmailChannel(
            server.hostname, server.port, from_addr=SMTP_FROM, username="alerts", password="s3cret"
        )
        await channel.send(email_message())

    assert smtp_handler.received[0].authenticated_as == "alerts"


async def test_wrong_password_is_permanent(smtp_handler):
    with smtp_server(smtp_handler, credentials=("alerts", "s3cret")) as server:
        channel = SmtpEmailChannel(
            server.hostname, server.port, from_addr=SMTP_FROM, username="alerts", password="wrong"
        )
        with pytest.raises(DeliveryError) as caught:
            await channel.send(email_message())

    assert caught.value.permanent
    assert caught.value.code == "535"
    assert smtp_handler.received == []


@pytest.mark.parametrize(
    ("stage", "reply", "permanent"),
    [
        ("data", "451 4.3.0 Try again later", False),
        ("data", "550 5.7.1 Message rejected", True),
        ("rcpt", "450 4.2.1 Mailbox busy", False),
        ("rcpt", "550 5.1.1 No such user", True),
    ],
)
async def test_4xx_is_transient_and_5xx_permanent(email_channel, smtp_handler, stage, reply, permanent):
    setattr(smtp_handler, f"refuse_{stage}", reply)

    with pytest.raises(DeliveryError) as caught:
        await email_channel.send(email_message())

    assert caught.value.permanent is permanent
    assert caught.value.code == reply[:3]


async def test_connection_refused_is_transient():
    channel = SmtpEmailChannel("127.0.0.1", free_port(), from_addr=SMTP_FROM, timeout=2.0)

    with pytest.raises(DeliveryError) as caught:
        await channel.send(email_message())

    assert not caught.value.permanent
    assert caught.value.code == "connection"


async def test_line_break_in_the_address_is_permanent(email_channel):
    message = Message(channel="email", to="head@emb.example.org\nBcc: x@y.z", subject="s", body="b")

    with pytest.raises(DeliveryError) as caught:
        await email_channel.send(message)

    assert caught.value.permanent


async def test_starttls_with_a_trusted_certificate(smtp_handler, tls):
    with smtp_server(
        smtp_handler, credentials=("alerts", "s3cret"), starttls_context=tls.server_context()
    ) as server:
        channel = SmtpEmailChannel(
            server.hostname,
            server.port,
            from_addr=SMTP_FROM,
            username="alerts",
            password="s3cret",
            starttls=True,
            cert_bundle=str(tls.cert),
        )
        await channel.send(email_message())

    assert smtp_handler.received[0].authenticated_as == "alerts"


async def test_implicit_tls_with_a_trusted_certificate(smtp_handler, tls):
    with smtp_server(smtp_handler, implicit_tls_context=tls.server_context()) as server:
        channel = SmtpEmailChannel(
            server.hostname, server.port, from_addr=SMTP_FROM, use_tls=True, cert_bundle=str(tls.cert)
        )
        await channel.send(email_message())

    assert len(smtp_handler.received) == 1


async def test_untrusted_certificate_is_permanent(smtp_handler, tls):
    with smtp_server(smtp_handler, starttls_context=tls.server_context()) as server:
        # No cert_bundle: the self-signed certificate is not trusted.
        channel = SmtpEmailChannel(server.hostname, server.port, from_addr=SMTP_FROM, starttls=True)
        with pytest.raises(DeliveryError) as caught:
            await channel.send(email_message())

    assert caught.value.permanent
    assert caught.value.code == "tls"


async def test_server_requiring_starttls_refuses_a_plain_client(smtp_handler, tls):
    with smtp_server(smtp_handler, starttls_context=tls.server_context()) as server:
        channel = SmtpEmailChannel(server.hostname, server.port, from_addr=SMTP_FROM)
        with pytest.raises(DeliveryError) as caught:
            await channel.send(email_message())

    assert caught.value.permanent  # 530 Must issue a STARTTLS command first
    assert caught.value.code.startswith("5")


def test_starttls_and_implicit_tls_exclude_each_other():
    with pytest.raises(ValueError):
        SmtpEmailChannel("h", 25, from_addr=SMTP_FROM, starttls=True, use_tls=True)


@pytest.mark.parametrize(
    ("error", "permanent", "code"),
    [
        (aiosmtplib.SMTPResponseException(421, "closing"), False, "421"),
        (aiosmtplib.SMTPDataError(452, "insufficient storage"), False, "452"),
        (aiosmtplib.SMTPDataError(554, "rejected"), True, "554"),
        (aiosmtplib.SMTPSenderRefused(553, "bad sender", "a@b.c"), True, "553"),
        (aiosmtplib.SMTPAuthenticationError(454, "temporary auth failure"), False, "454"),
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), True, "535"),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "unknown", "a@b.c")]),
            True,
            "550",
        ),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(451, "later", "a@b.c")]),
            False,
            "451",
        ),
        (aiosmtplib.SMTPConnectError("refused"), False, "connection"),
        (aiosmtplib.SMTPServerDisconnected("gone"), False, "connection"),
        (aiosmtplib.SMTPConnectTimeoutError("slow"), False, "timeout"),
        (aiosmtplib.SMTPReadTimeoutError("slow"), False, "timeout"),
        (aiosmtplib.SMTPNotSupported("no STARTTLS"), True, "not_supported"),
        (ConnectionResetError(), False, "connection"),
        (ssl.SSLCertVerificationError("self-signed"), True, "tls"),
    ],
)
def test_classification_table(error, permanent, code):
    result = classify_smtp_error(error)
    assert (result.permanent, result.code) == (permanent, code)


async def test_a_refusal_quoting_the_address_is_masked_in_the_reason(email_channel, smtp_handler):
    message = email_message()
    smtp_handler.refuse_rcpt = f"550 5.1.1 <{message.to}>: Recipient address rejected"

    with pytest.raises(DeliveryError) as caught:
        await email_channel.send(message)

    assert message.to not in caught.value.reason and "Recipient address rejected" in caught.value.reason
    assert mask(message.to) in caught.value.reason  # the reason goes to the timeline other departments read
