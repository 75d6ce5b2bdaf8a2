"""The unit of work every service's use cases run in.

One database transaction holds the state change, its outbox rows and, for a
consumed event, its processed-event row: all or nothing.

A database that cannot be reached leaves the unit of work as ``OperationalError``
(PEP 249's class for "the database is not available"), whatever the driver called it:
asyncpg's "the database system is starting up" / "not yet accepting connections"
(SQLSTATE 57P03) reaches SQLAlchemy as a plain ``DBAPIError``, which the idempotent
consumer took for the event's own fault and dead-lettered after three attempts. The
PostgreSQL failure drill lost a demande's notifications that way.

Committing a unit of work that wrote to the outbox calls ``after_commit`` (the runtime
passes its relay's ``wake``), so every entry point, HTTP route, subscriber or job,
publishes at once without having to remember to.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db.errors import database_unavailable
from shared.messaging.inbox import Inbox
from shared.messaging.outbox import OutboxWriter
from shared.messaging.tables import PROCESSED_EVENTS


class SqlUnitOfWork:
    session: AsyncSession
    outbox: OutboxWriter
    inbox: Inbox
    # Where its consumed events are recorded: the service's processed_events by default.
    inbox_table: Table = PROCESSED_EVENTS

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        source: str,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._source = source
        self._after_commit = after_commit

    async def __aenter__(self) -> Self:
        self.session = self._session_factory()
        self.outbox = OutboxWriter(self.session, self._source)
        self.inbox = Inbox(self.session, self.inbox_table)
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
        if (
            isinstance(exc, DBAPIError)
            and exc.orig is not None
            and not isinstance(exc, OperationalError | InterfaceError)
            and database_unavailable(exc)
        ):
            raise OperationalError(
                exc.statement,
                exc.params,
                exc.orig,
                hide_parameters=exc.hide_parameters,
                connection_invalidated=exc.connection_invalidated,
            ) from exc

    def unavailable(self, exc: BaseException) -> bool:
        """Tells the idempotent consumer to wait for the database rather than dead-letter."""
        return database_unavailable(exc)

    async def commit(self) -> None:
        await self.session.commit()
        if self.outbox.written:
            self.outbox.written = []
            if self._after_commit is not None:
                self._after_commit()

    async def rollback(self) -> None:
        await self.session.rollback()
