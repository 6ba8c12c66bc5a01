"""alerts.policy: when to retry, when to fall back. Pure, so tables of cases."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.base import DeliveryError
from alerts.policy import (
    FIRST_DELAYS,
    JITTER,
    MAX_ATTEMPTS,
    MAX_DELAY,
    Decision,
    decide,
    nominal_delay,
    other_channel,
)

NOW = datetime(2026, 11, 28, 6, 30, tzinfo=UTC)
TRANSIENT = DeliveryError("Twilio server error (HTTP 500)", permanent=False, code="500")
PERMANENT = DeliveryError("invalid 'To' number", permanent=True, code="21211")


class Fixed(random.Random):
    """A random source whose uniform() always lands at one point of the range."""

    def __init__(self, fraction: float):
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


@pytest.mark.parametrize(
    ("retry_number", "delay"),
    [
        (1, timedelta(seconds=5)),
        (2, timedelta(seconds=15)),
        (3, timedelta(seconds=30)),
        (4, timedelta(minutes=1)),
        (5, timedelta(minutes=2)),
        (6, timedelta(minutes=4)),
        (7, timedelta(minutes=8)),
        (8, timedelta(minutes=10)),  # capped
        (50, timedelta(minutes=10)),
        (10_000, timedelta(minutes=10)),
    ],
)
def test_nominal_delays_start_short_then_double_up_to_the_cap(retry_number, delay):
    assert nominal_delay(retry_number) == delay


@pytest.mark.parametrize(
    ("attempts", "error", "action", "earliest", "latest"),
    [
        (1, TRANSIENT, "retry", 5 * JITTER, 5),
        (2, TRANSIENT, "retry", 15 * JITTER, 15),
        (3, TRANSIENT, "retry", 30 * JITTER, 30),
        (7, TRANSIENT, "retry", 480 * JITTER, 480),
        (MAX_ATTEMPTS, TRANSIENT, "fallback", None, None),
        (MAX_ATTEMPTS + 3, TRANSIENT, "fallback", None, None),
        (1, PERMANENT, "fallback", None, None),
        (4, PERMANENT, "fallback", None, None),
    ],
)
@pytest.mark.parametrize("fraction", [0.0, 0.5, 1.0])
def test_decision_table(attempts, error, action, earliest, latest, fraction):
    decision = decide(attempts, error, NOW, rng=Fixed(fraction))

    assert decision.action == action
    if action == "retry":
        wait = (decision.retry_at - NOW).total_seconds()
        assert earliest <= wait <= latest
    else:
        assert decision.retry_at is None
    assert error.code in decision.reason


def test_first_two_retries_come_within_30_seconds_of_the_first_failure_even_with_slow_sends():
    # Worst case: longest jitter and the first retry itself timing out after 10 s.
    send_timeout = timedelta(seconds=10)
    first = decide(1, TRANSIENT, NOW, rng=Fixed(1.0))
    second = decide(2, TRANSIENT, first.retry_at + send_timeout, rng=Fixed(1.0))

    assert second.retry_at - NOW <= timedelta(seconds=30)
    assert sum(FIRST_DELAYS, timedelta()) + send_timeout <= timedelta(seconds=30)


def test_gives_up_after_max_attempts_with_the_reason():
    decision = decide(MAX_ATTEMPTS, TRANSIENT, NOW)

    assert decision == Decision("fallback", None, decision.reason)
    assert f"after {MAX_ATTEMPTS} attempts" in decision.reason


def test_same_seed_same_schedule():
    one = [decide(n, TRANSIENT, NOW, rng=random.Random(7)).retry_at for n in range(1, MAX_ATTEMPTS)]
    two = [decide(n, TRANSIENT, NOW, rng=random.Random(7)).retry_at for n in range(1, MAX_ATTEMPTS)]
    assert one == two


@given(
    attempts=st.integers(min_value=1, max_value=MAX_ATTEMPTS - 1),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_a_retry_is_always_in_the_future_and_never_later_than_the_cap(attempts, seed):
    decision = decide(attempts, TRANSIENT, NOW, rng=random.Random(seed))

    assert decision.action == "retry"
    assert NOW < decision.retry_at <= NOW + MAX_DELAY


def test_total_retry_time_is_bounded():
    waits = [decide(n, TRANSIENT, NOW, rng=Fixed(1.0)).retry_at - NOW for n in range(1, MAX_ATTEMPTS)]
    assert sum(waits, timedelta()) < timedelta(minutes=20)


@pytest.mark.parametrize("attempts", [0, -1])
def test_attempts_count_the_failed_send(attempts):
    with pytest.raises(ValueError):
        decide(attempts, TRANSIENT, NOW)


def test_now_must_be_aware():
    with pytest.raises(ValueError):
        decide(1, TRANSIENT, NOW.replace(tzinfo=None))


@pytest.mark.parametrize(("name", "other"), [("sms", "email"), ("email", "sms")])
def test_other_channel(name, other):
    assert other_channel(name) == other


def test_other_channel_rejects_unknown_names():
    with pytest.raises(ValueError):
        other_channel("fax")  # type: ignore[arg-type]
