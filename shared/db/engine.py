"""Database engines and sessions, one pool per service process."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def make_engine(
    url: str, *, pool_size: int = 10, application_name: str = "matiere-grise"
) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping: it costs a round trip per checkout. After a database restart the
        # first failing statement invalidates the whole pool (SQLAlchemy disconnect
        # handling); a consumer redelivers that one message, an API answers 503 once.
        pool_pre_ping=False,
        pool_recycle=1800,
        # Errors are logged: their parameters may hold a contact's email, never shown.
        hide_parameters=True,
        connect_args={"server_settings": {"application_name": application_name}},
    )


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
