"""Peers that real Sunclock processes talk to, run in a thread of the test process."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "alerts"))

from alerts_fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio  # noqa: E402

from monitor.acks import read_token  # noqa: E402
from tests.conftest import START  # noqa: E402

SECRET = "e2e-secret-key-of-at-least-32-bytes"


class ThreadedTwilio:
    """The fake Twilio endpoint on its own event loop, for processes to reach over HTTP."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)

    def __enter__(self) -> ThreadedTwilio:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(timeout=10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    def env(self) -> dict[str, str]:
        return {"SUNCLOCK_TWILIO_ACCOUNT_SID": ACCOUNT_SID, "SUNCLOCK_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "SUNCLOCK_TWILIO_FROM": FROM_NUMBER, "SUNCLOCK_TWILIO_API_BASE": self.fake.base_url,
                "SUNCLOCK_SECRET_KEY": SECRET}

    def received(self) -> Counter:
        """How many SMS the provider accepted for each (step id, contact id)."""
        counts: Counter = Counter()
        for request in list(self.fake.requests):
            if not request.path.endswith("/Messages.json"):
                continue  # a call (the shipped rule phones the head at the final warning and the breach)
            link = next(word for word in request.form["Body"].split() if "/ack/" in word)
            token = urlparse(link).path.rsplit("/", 1)[1]
            target = read_token(SECRET.encode(), token, START)  # checks the signature; these links are fresh
            counts[(target.step_id, target.contact_id)] += 1
        return counts
