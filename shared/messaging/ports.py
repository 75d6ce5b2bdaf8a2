"""What the service layers need of the messaging kernel, as ports.

Use cases write events through :class:`Outbox` and never see how they are stored; the
SQL outbox (:class:`shared.messaging.outbox.OutboxWriter`) and the tests' in-memory one
both satisfy it. :class:`UnitOfWork` is what every service's unit of work port extends
(:class:`shared.db.unit_of_work.SqlUnitOfWork` and the tests' fakes satisfy it); it and the
idempotent consumer's unit of work are both a :class:`Transaction`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

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
        key: str | None = None,
    ) -> Envelope: ...

    async def add_many(
        self, items: list[tuple[EventPayload, str]], *, correlation_id: str | None = None
    ) -> list[Envelope]: ...

    async def forward(
        self, envelope: Envelope, *, topic: str, key: str, headers: dict[str, str], body: bytes
    ) -> None: ...


class Transaction(Protocol):
    """One transaction: ``async with`` opens it, leaving it rolls back what was not
    committed. What a use case's unit of work and a consumer's have in common."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWork(Transaction, Protocol):
    """A transaction whose outbox's events go with the state change, all or nothing.

    Each service's own ``UnitOfWork`` port adds its repositories (as read-only
    properties, so that an implementation may hold narrower types).
    """

    @property
    def outbox(self) -> Outbox: ...

    async def rollback(self) -> None: ...
