"""SmtpEmailChannel's connection pool against a real SMTP server (aiosmtpd).

Connections are counted on the server (which connection delivered each
message) and on the client (how many the pool opened).
"""

from __future__ import annotations

import asyncio

import pytest
from alerts_fake_smtp import smtp_server

from alerts.base import DeliveryError, Message
from alerts.email import SmtpEmailChannel
from alerts.smtp_pool import SmtpPool

SMTP_FROM = "Sunclock <sunclock@alerts.example.org>"


def mail(number: int = 0) -> Message:
    return Message("email", f"head{number}@emb.example.org", f"【预警】第{number}条", "发布权威信息还剩1小时。")


def channel_for(server, **options) -> SmtpEmailChannel:
    return SmtpEmailChannel(server.hostname, server.port, from_addr=SMTP_FROM, timeout=5.0, **options)


async def test_a_burst_of_200_goes_over_no_more_connections_than_the_pool_holds(plain_smtp, smtp_handler):
    channel = channel_for(plain_smtp, pool_size=4)

    await asyncio.gather(*(channel.send(mail(n)) for n in range(200)))

    assert len(smtp_handler.received) == 200
    assert {r.rcpt_tos[0] for r in smtp_handler.received} == {f"head{n}@emb.example.org" for n in range(200)}
    assert smtp_handler.connections <= 4
    assert channel.pool.opened <= 4
    await channel.aclose()


async def test_messages_one_after_another_share_one_connection(plain_smtp, smtp_handler):
    channel = channel_for(plain_smtp)

    for n in range(5):
        await channel.send(mail(n))

    assert [r.connection for r in smtp_handler.received] == [1] * 5
    assert channel.pool.opened == 1
    await channel.aclose()


async def test_a_connection_the_server_drops_is_replaced(plain_smtp, smtp_handler):
    channel = channel_for(plain_smtp)
    smtp_handler.drop_connection_after_data = True
    await channel.send(mail(1))  # accepted, then the server hangs up

    await channel.send(mail(2))

    assert [r.rcpt_tos[0] for r in smtp_handler.received] == ["head1@emb.example.org", "head2@emb.example.org"]
    assert [r.connection for r in smtp_handler.received] == [1, 2]
    await channel.aclose()


async def test_a_server_restart_costs_a_reconnect_not_a_message(smtp_handler):
    with smtp_server(smtp_handler) as server:
        channel = channel_for(server)
        await channel.send(mail(1))
    # The server stopped (closing every connection) and starts again on its port.
    with smtp_server(smtp_handler, port=server.port):
        await channel.send(mail(2))

    assert len(smtp_handler.received) == 2
    assert channel.pool.opened == 2
    await channel.aclose()


async def test_a_421_is_transient_and_the_next_message_reconnects(plain_smtp, smtp_handler):
    channel = channel_for(plain_smtp)
    await channel.send(mail(1))
    smtp_handler.refuse_rcpt = "421 4.3.2 Service shutting down"

    with pytest.raises(DeliveryError) as caught:
        await channel.send(mail(2))
    smtp_handler.refuse_rcpt = None
    await channel.send(mail(3))

    assert not caught.value.permanent and caught.value.code == "421"
    assert channel.pool.opened == 2  # the connection that answered 421 was not reused
    assert [r.connection for r in smtp_handler.received] == [1, 2]
    await channel.aclose()


@pytest.mark.parametrize(
    ("stage", "reply", "permanent"),
    [
        ("rcpt", "550 5.1.1 No such user", True),
        ("rcpt", "450 4.2.1 Mailbox busy", False),
        ("data", "451 4.3.0 Try again later", False),
        ("data", "554 5.7.1 Message rejected", True),
    ],
)
async def test_a_refusal_keeps_its_class_and_the_connection(plain_smtp, smtp_handler, stage, reply, permanent):
    channel = channel_for(plain_smtp)
    setattr(smtp_handler, f"refuse_{stage}", reply)

    with pytest.raises(DeliveryError) as caught:
        await channel.send(mail(1))
    setattr(smtp_handler, f"refuse_{stage}", None)
    await channel.send(mail(2))

    assert (caught.value.permanent, caught.value.code) == (permanent, reply[:3])
    assert channel.pool.opened == 1  # the server answered: the session is still good (after RSET)
    assert len(smtp_handler.received) == 1
    await channel.aclose()


async def test_an_idle_connection_is_reopened(plain_smtp, smtp_handler):
    now = [1000.0]
    template = channel_for(plain_smtp)
    pool = SmtpPool(
        {"hostname": plain_smtp.hostname, "port": plain_smtp.port, "start_tls": False, "timeout": 5.0},
        idle_seconds=30.0,
        monotonic=lambda: now[0],
    )

    await pool.send(template.build(mail(1)))
    now[0] += 29.0
    await pool.send(template.build(mail(2)))  # still fresh: reused
    now[0] += 31.0
    await pool.send(template.build(mail(3)))  # idle too long: reopened

    assert [r.connection for r in smtp_handler.received] == [1, 1, 2]
    assert pool.opened == 2
    await pool.aclose()


async def test_aclose_closes_the_connections(plain_smtp, smtp_handler):
    channel = channel_for(plain_smtp, pool_size=3)
    await asyncio.gather(*(channel.send(mail(n)) for n in range(30)))
    assert channel.pool.open_connections >= 1
    connections = [smtp for smtp, _ in channel.pool._idle]

    await channel.aclose()

    assert channel.pool.open_connections == 0
    assert connections and not any(smtp.is_connected for smtp in connections)


async def test_a_send_after_aclose_opens_a_fresh_connection(plain_smtp, smtp_handler):
    channel = channel_for(plain_smtp)
    await channel.send(mail(1))
    await channel.aclose()

    await channel.send(mail(2))

    assert channel.pool.opened == 2 and len(smtp_handler.received) == 2
    await channel.aclose()


def test_the_pool_needs_a_connection():
    with pytest.raises(ValueError):
        SmtpEmailChannel("h", 25, from_addr=SMTP_FROM, pool_size=0)
