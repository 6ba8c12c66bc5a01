"""The one place where a failed send becomes "retry later" or "fall back".

Pure: the caller passes the number of attempts made so far, the error the
channel raised and the current time; nothing here reads a clock or stores
state. Channels only say whether an error is permanent (:class:`DeliveryError`);
how often and how long to keep trying is decided here and nowhere else.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from alerts.base import ChannelName, DeliveryError

# Attempts on one channel, the first send included. Seven retries spread over
# about 15 minutes: long enough to ride out a provider incident, short enough
# that a failed escalation still reaches the contact's other channel well
# before the next step of the ladder (the tightest gap is 30 minutes).
MAX_ATTEMPTS = 8

# Delays before retry 1, 2, 3, ... The first two are short because §5 of the
# spec wants two retries within 30 s of the first failure; after that each
# delay doubles. Jitter only ever shortens a delay (see JITTER), so 5 s + 15 s
# leaves 10 s of that window for the first retry's own send timeout.
FIRST_DELAYS = (timedelta(seconds=5), timedelta(seconds=15))
MAX_DELAY = timedelta(minutes=10)

# A retry waits between JITTER and 1.0 times its nominal delay, so that many
# notifications that failed together (one provider outage) do not all come
# back in the same second.
JITTER = 0.75

Action = Literal["retry", "fallback"]


@dataclass(frozen=True)
class Decision:
    action: Action
    retry_at: datetime | None  # set only for "retry"
    reason: str


def nominal_delay(retry_number: int, max_delay: timedelta = MAX_DELAY) -> timedelta:
    """Delay before retry ``retry_number`` (1-based), before jitter, at most ``max_delay``
    (the first two keep their place: SPEC §5 wants them within 30 s)."""
    if retry_number < 1:
        raise ValueError(f"retry_number must be >= 1, got {retry_number}")
    if retry_number <= len(FIRST_DELAYS):
        return FIRST_DELAYS[retry_number - 1]
    doublings = retry_number - len(FIRST_DELAYS)
    # Cap the exponent before multiplying so a large MAX_ATTEMPTS cannot
    # overflow timedelta; the result is capped at MAX_DELAY anyway.
    delay = FIRST_DELAYS[-1] * (2 ** min(doublings, 32))
    return max(min(delay, max_delay), FIRST_DELAYS[-1])


def decide(
    attempts: int,
    error: DeliveryError,
    now: datetime,
    *,
    rng: random.Random | None = None,
    max_delay: timedelta = MAX_DELAY,
) -> Decision:
    """What to do after attempt number ``attempts`` failed with ``error`` at ``now``.

    ``rng`` makes the jitter reproducible in tests; by default the module
    ``random`` functions are used. ``max_delay`` caps the doubling delays
    (``SUNCLOCK_RETRY_MAX_SECONDS``).
    """
    if attempts < 1:
        raise ValueError(f"attempts counts the failed send too, so it is >= 1, got {attempts}")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")

    label = f"{error.code}: {error.reason}" if error.code else error.reason
    if error.permanent:
        return Decision("fallback", None, f"permanent failure ({label})")
    if attempts >= MAX_ATTEMPTS:
        return Decision("fallback", None, f"gave up after {attempts} attempts ({label})")

    source = rng if rng is not None else random
    delay = nominal_delay(attempts, max_delay) * source.uniform(JITTER, 1.0)
    return Decision(
        "retry",
        now + delay,
        f"transient failure, retry {attempts} of {MAX_ATTEMPTS - 1} ({label})",
    )


# Where a message that failed for good goes next, for the same contact, in
# order: the first of these the step has not used for that contact yet (one
# message per step, contact and channel) and the contact has an address for.
# An unanswered call becomes an SMS, or an email when the step already sent
# the SMS (as the shipped rule does: its calls come on top of SMS and email,
# so there a failed call is recorded and nothing more is sent).
FALLBACKS: dict[ChannelName, tuple[ChannelName, ...]] = {
    ChannelName.SMS: (ChannelName.EMAIL,),
    ChannelName.EMAIL: (ChannelName.SMS,),
    ChannelName.VOICE: (ChannelName.SMS, ChannelName.EMAIL),
}


def fallback_channels(name: str) -> tuple[ChannelName, ...]:
    """The channels a permanently failed message may fall back to, best first."""
    try:
        return FALLBACKS[ChannelName(name)]
    except (ValueError, KeyError):
        raise ValueError(f"unknown channel {name!r}") from None


def other_channel(name: str) -> ChannelName:
    """The first channel a permanently failed message falls back to, for the same contact."""
    return fallback_channels(name)[0]
