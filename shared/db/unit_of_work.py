"""The unit of work every service's use cases run in.

One database transaction holds the state change, its outbox rows and, for a
consumed event, its processed-event row: all or nothing.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.messaging.inbox import Inbox
from shared.messaging.outbox import OutboxWriter


class SqlUnitOfWork:
    session: AsyncSession
    outbox: OutboxWriter
    inbox: Inbox

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], source: str) -> None:
        self._session_factory = session_factory
        self._source = source

    async def __aenter__(self) -> Self:
        self.session = self._session_factory()
        self.outbox = OutboxWriter(self.session, self._source)
        self.inbox = Inbox(self.session)
        self._open_repositories(self.session)
        return self

    def _open_repositories(self, session: AsyncSession) -> None:
        """Services attach their repositories to the session here."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()
