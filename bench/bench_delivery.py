"""Delivery throughput: messages/second through each real channel to local peers.

    .venv/bin/python bench/bench_delivery.py [--count 1000] [--concurrency 50]

SMS goes through TwilioSmsChannel (the real twilio client) to the local
Twilio-compatible endpoint, calls through TwilioVoiceChannel (the same client,
Calls API, the TwiML built for each call) to the same endpoint, SMS through
AliyunSmsChannel (the official dysmsapi SDK, which signs every request and opens
a connection per request) to the local dysmsapi-compatible endpoint, email
through SmtpEmailChannel to a local aiosmtpd server. The peers run in this
process on their own threads and event loops,
so the figures include the peers' work and share the GIL with the client:
read them as a lower bound and for comparisons between versions, not as what
Twilio or a production relay would sustain. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The peers are test equipment and live with the tests (tests/alerts); the
# bench borrows them rather than shipping a copy in product code.
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests" / "alerts")]

from alerts_fake_aliyun import ACCESS_KEY_ID, ACCESS_KEY_SECRET, SIGN_NAME, FakeAliyunSms  # noqa: E402
from alerts_fake_smtp import RecordingHandler, smtp_server  # noqa: E402
from alerts_fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio  # noqa: E402

from alerts.aliyun_sms import AliyunSmsChannel  # noqa: E402
from alerts.aliyun_templates import load_aliyun_templates  # noqa: E402
from alerts.base import Channel, Message  # noqa: E402
from alerts.email import SmtpEmailChannel  # noqa: E402
from alerts.render import DeadlineInfo, MessageContext, render  # noqa: E402
from alerts.sms import TwilioSmsChannel  # noqa: E402
from alerts.voice import TwilioVoiceChannel  # noqa: E402

OCCURRED = datetime(2026, 11, 28, 6, 30, tzinfo=UTC)
CALLBACK = "https://sunclock.example.org/webhooks/twilio/status"


class ThreadedPeer:
    """A fake provider (FakeTwilio, FakeAliyunSms) on its own thread and event
    loop, like aiosmtpd's Controller."""

    def __init__(self, server: FakeTwilio | FakeAliyunSms) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self):  # noqa: ANN204 - the server given
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout=10)
        return self.server

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def sample_context(number: int) -> MessageContext:
    release = DeadlineInfo("authoritative_release", "发布权威信息", OCCURRED + timedelta(hours=5), "pending")
    return MessageContext(
        step="warning",
        occurrence=1,
        incident_id=number,
        incident_title=f"斗门区某化工厂爆炸事故（压测 {number}）",
        severity="I",
        department_name="区应急管理局",
        occurred_at=OCCURRED,
        deadlines=(release,),
        now=release.due_at - timedelta(hours=1),
        ack_url=f"https://sunclock.example.org/ack/{number:08d}.signature",
        recipient_name="张主任",
    )


def build_messages(count: int) -> tuple[list[Message], list[Message], float]:
    started = time.perf_counter()
    sms, email = [], []
    for number in range(count):
        ctx = sample_context(number)
        text = render(ctx, "sms")
        mail = render(ctx, "email")
        # The SMS's facts ride in its html slot, as the service stores them (for Aliyun's templates).
        sms.append(Message("sms", f"+86138{number:08d}", text.subject, text.body, text.html, status_callback=CALLBACK))
        email.append(Message("email", f"head{number}@emb.example.org", mail.subject, mail.body, mail.html))
    return sms, email, time.perf_counter() - started


def build_calls(count: int) -> list[Message]:
    calls = []
    for number in range(count):
        spoken = render(sample_context(number), "voice")
        calls.append(Message("voice", f"+86138{number:08d}", spoken.subject, spoken.body, status_callback=CALLBACK))
    return calls


async def deliver(channel: Channel, messages: list[Message], concurrency: int) -> tuple[float, list[float], int]:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    failures = 0

    async def one(message: Message) -> None:
        nonlocal failures
        async with gate:
            started = time.perf_counter()
            try:
                await channel.send(message)
            except Exception as exc:  # counted and reported below, a bench must finish
                failures += 1
                if failures == 1:
                    print(f"  first failure: {exc!r}", file=sys.stderr)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(message) for message in messages))
    elapsed = time.perf_counter() - started
    await channel.aclose()
    return elapsed, latencies, failures


def report(label: str, count: int, elapsed: float, latencies: list[float], failures: int) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p95 = ordered[int(len(ordered) * 0.95) - 1] * 1000 if ordered else 0.0
    print(
        f"{label:<10} {count / elapsed:9.1f} messages/s   {count} in {elapsed:6.2f} s   "
        f"p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   failures {failures}"
    )


async def run(count: int, concurrency: int) -> None:
    sms_messages, email_messages, render_time = build_messages(count)
    print(f"render {2 * count / render_time:9.1f} messages/s   ({count} SMS + {count} emails)")

    with ThreadedPeer(FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)) as twilio:
        channel = TwilioSmsChannel(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, api_base=twilio.base_url)
        report("sms", count, *await deliver(channel, sms_messages, concurrency))

    with ThreadedPeer(FakeAliyunSms()) as aliyun:
        channel = AliyunSmsChannel(ACCESS_KEY_ID, ACCESS_KEY_SECRET, SIGN_NAME, load_aliyun_templates(),
                                   endpoint=aliyun.endpoint)
        report("sms-aliyun", count, *await deliver(channel, sms_messages, concurrency))
        signed = sum(request.signed for request in aliyun.requests)
        print(f"           {signed} of {len(aliyun.requests)} requests carried a valid signature")

    handler = RecordingHandler()
    with smtp_server(handler) as server:
        channel = SmtpEmailChannel(server.hostname, server.port, from_addr="Sunclock <sunclock@alerts.example.org>")
        report("email", count, *await deliver(channel, email_messages, concurrency))

    with ThreadedPeer(FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)) as twilio:
        channel = TwilioVoiceChannel(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, public_url="https://sunclock.example.org",
                                     api_base=twilio.base_url)
        report("voice", count, *await deliver(channel, build_calls(count), concurrency))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="messages per channel (default 1000)")
    parser.add_argument("--concurrency", type=int, default=50, help="sends in flight at once (default 50)")
    args = parser.parse_args()
    print(f"{args.count} messages per channel, concurrency {args.concurrency}")
    asyncio.run(run(args.count, args.concurrency))


if __name__ == "__main__":
    main()
