"""In-memory stand-ins for the adapters, for tests of the service layers.

One module per service (``fakes.requests``, ``fakes.matching``, ``fakes.billing``,
``fakes.notifications``), all on the same :class:`FakeOutbox` and
:class:`FakeUnitOfWorkBase`: a commit moves what was staged to what is committed and
counts the events as published; a rollback drops them.
"""

from __future__ import annotations

from typing import Self

from shared.contracts.base import EventPayload
from shared.messaging.envelope import Envelope


class FakeOutbox:
    def __init__(self, source: str) -> None:
        self.source = source
        self.pending: list[tuple[Envelope, EventPayload]] = []
        # Records forwarded as they are: (topic, key, headers, body).
        self.forwarded: list[tuple[str, str, dict[str, str], bytes]] = []
        self.keys: dict[str, str] = {}

    async def add(
        self,
        payload: EventPayload,
        *,
        departement: str,
        caused_by: Envelope | None = None,
        correlation_id: str | None = None,
        key: str | None = None,
    ) -> Envelope:
        envelope = (
            caused_by.caused(payload.event_type, self.source, departement)
            if caused_by
            else Envelope(
                type=payload.event_type,
                source=self.source,
                departement=departement,
                correlation_id=correlation_id or "",
            )
        )
        self.pending.append((envelope, payload))
        self.keys[envelope.id] = key or departement
        return envelope

    async def forward(
        self, envelope: Envelope, *, topic: str, key: str, headers: dict[str, str], body: bytes
    ) -> None:
        self.forwarded.append((topic, key, headers, body))

    async def add_many(
        self, items: list[tuple[EventPayload, str]], *, correlation_id: str | None = None
    ) -> list[Envelope]:
        return [
            await self.add(payload, departement=departement, correlation_id=correlation_id)
            for payload, departement in items
        ]


class FakeUnitOfWorkBase:
    """The outbox half of a fake unit of work; services add their repositories and
    override :meth:`_commit_repositories` / :meth:`_rollback_repositories`."""

    def __init__(self, source: str) -> None:
        self.outbox = FakeOutbox(source)
        self.published: list[tuple[Envelope, EventPayload]] = []
        self.commits = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.rollback()

    def _commit_repositories(self) -> None:
        """Move what the repositories staged to what they hold."""

    def _rollback_repositories(self) -> None:
        """Drop what the repositories staged."""

    async def commit(self) -> None:
        self._commit_repositories()
        self.published += self.outbox.pending
        self.outbox.pending.clear()
        self.commits += 1

    async def rollback(self) -> None:
        self._rollback_repositories()
        self.outbox.pending.clear()

    def events(self) -> list[EventPayload]:
        return [payload for _, payload in self.published]
