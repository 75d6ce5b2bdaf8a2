"""What the service layers need of the messaging kernel, as ports.

Use cases write events through :class:`Outbox` and never see how they are stored; the
SQL outbox (:class:`shared.messaging.outbox.OutboxWriter`) and the tests' in-memory one
both satisfy it.
"""

from __future__ import annotations

from typing import Protocol

from shared.contracts.base import EventPayload
from shared.messaging.envelope import Envelope


class Outbox(Protocol):
    async def add(
        self,
        payload: EventPayload,
        *,
        departement: str,
        caused_by: Envelope | None = None,
        correlation_id: str | None = None,
    ) -> Envelope: ...

    async def add_many(
        self, items: list[tuple[EventPayload, str]], *, correlation_id: str | None = None
    ) -> list[Envelope]: ...
