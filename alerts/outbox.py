"""The channel of a fresh install: nothing leaves the machine.

The caller already stores every rendered message with its notification, so
accepting a message is all the outbox has to do; the stored copy is what the
outbox page and ``GET /api/v1/outbox`` show.
"""

from __future__ import annotations

import uuid

from alerts.base import ChannelName, Message, Receipt


class OutboxChannel:
    provider = "outbox"

    def __init__(self, name: ChannelName):
        self.name = name

    async def send(self, message: Message) -> Receipt:
        return Receipt(provider=self.provider, provider_id=f"outbox-{uuid.uuid4().hex[:16]}")

    async def aclose(self) -> None:
        return None
