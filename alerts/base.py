"""The one interface every delivery channel implements.

A channel turns a rendered :class:`Message` into a provider call and either
returns a :class:`Receipt` or raises :class:`DeliveryError`, saying whether a
retry could help. Channels never touch the database, metrics or retry policy:
those decisions are made once, in :mod:`alerts.policy`, by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from alerts.masking import mask
from rules import vocabulary

# A channel's name; ``Channel`` below is the interface a channel implements.
ChannelName = vocabulary.Channel

# Which of a contact's addresses each channel sends to ("mobile" or "email").
# The engine asks :func:`address_field` and knows no channel by name.
ADDRESS_FIELDS: dict[ChannelName, str] = {
    ChannelName.SMS: "mobile",
    ChannelName.EMAIL: "email",
    ChannelName.VOICE: "mobile",
}

# Where a provider that reports on a message after accepting it (delivery, a
# call's outcome) calls back, below the service's public URL; monitor's
# webhooks serve it. Channels whose provider does not report ignore it.
STATUS_CALLBACK_PATH = "/webhooks/twilio/status"


def address_field(channel: str) -> str:
    try:
        return ADDRESS_FIELDS[ChannelName(channel)]
    except (ValueError, KeyError):
        raise ValueError(f"unknown channel {channel!r}") from None


@dataclass(frozen=True)
class Message:
    channel: ChannelName
    to: str  # E.164 mobile number for sms and voice, address for email
    subject: str  # email subject; ignored by sms
    body: str  # the text sent (sms), spoken (voice) or the plain-text part (email); sms and voice end with the ack link
    html: str | None = None  # optional HTML part (email)
    status_callback: str | None = None  # where the provider reports delivery (sms, voice)


@dataclass(frozen=True)
class Receipt:
    provider: str  # "twilio", "smtp", "outbox"
    provider_id: str | None = None  # Twilio SID, SMTP Message-ID, outbox id


class DeliveryError(Exception):
    """A send that did not go through.

    ``permanent`` is true when retrying the same message on the same channel
    cannot help (an invalid number, a rejected address): the policy then falls
    back to the contact's other channel instead of retrying. The reason goes to
    the logs, the database and the incident's timeline, which people of other
    departments read; providers quote the number or address, so it is masked.
    """

    def __init__(self, reason: str, *, permanent: bool, code: str | None = None):
        reason = mask(reason)
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.code = code


@dataclass(frozen=True)
class SentMessage:
    """A message as the provider's log shows it: its id and the text that went out."""

    provider_id: str
    body: str
    sent_at: datetime | None = None


@runtime_checkable
class MessageLog(Protocol):
    """A channel whose provider keeps a log of what it accepted (Twilio does;
    SMTP does not): before a message whose send may have gone through is sent
    again, the log is asked."""

    async def sent_since(self, to: str, since: datetime) -> list[SentMessage]: ...


class Channel(Protocol):
    name: ChannelName
    provider: str

    async def send(self, message: Message) -> Receipt: ...

    async def aclose(self) -> None: ...
