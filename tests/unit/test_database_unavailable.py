"""A database that is down or restarting is told apart from a wrong statement.

Found by the PostgreSQL failure drill: matching answered 500 to its clients while the
server was down and while it was starting up (now 503 with Retry-After), and an event
met during the start-up ("the database system is not yet accepting connections",
SQLSTATE 57P03) was dead-lettered as a handler error, losing a demande's notifications
(now the unit of work reports it as OperationalError and the event is delivered again).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from shared.contracts.base import EventPayload
from shared.db.errors import database_unavailable
from shared.db.unit_of_work import SqlUnitOfWork
from shared.http.errors import EXCEPTION_HANDLERS
from shared.messaging.consumer import (
    IdempotentConsumer,
    InfrastructureUnavailable,
    Route,
    is_infrastructure_error,
)
from shared.messaging.dead_letter import FailedRecord
from shared.messaging.envelope import Envelope
from shared.messaging.relay import OutboxRelay


def wrapped(error: Exception, *, invalidated: bool = False) -> DBAPIError:
    """What SQLAlchemy raises for an asyncpg error: its own DBAPI error, then DBAPIError."""
    dbapi_error = AsyncAdapt_asyncpg_dbapi.Error(str(error), error)
    return DBAPIError.instance(
        "SELECT 1",
        None,
        dbapi_error,
        AsyncAdapt_asyncpg_dbapi.Error,
        connection_invalidated=invalidated,
    )


STARTING_UP = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
SHUTTING_DOWN = asyncpg.exceptions.AdminShutdownError("terminating connection")
UNIQUE = asyncpg.exceptions.UniqueViolationError("duplicate key value")


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (ConnectionRefusedError(111, "Connection refused"), True),
        (ConnectionResetError(104, "Connection reset by peer"), True),
        (TimeoutError(), True),
        (wrapped(STARTING_UP), True),
        (wrapped(SHUTTING_DOWN), True),
        (wrapped(UNIQUE, invalidated=True), True),
        (wrapped(UNIQUE), False),
        (ValueError("bad input"), False),
    ],
)
def test_unavailable_is_told_from_wrong(error: BaseException, unavailable: bool) -> None:
    assert database_unavailable(error) is unavailable


def app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    for exc_type, handler in EXCEPTION_HANDLERS.items():
        app.add_exception_handler(exc_type, handler)

    @app.get("/")
    async def route() -> None:
        raise error

    return app


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ConnectionRefusedError(111, "Connection refused"), 503),
        (wrapped(STARTING_UP), 503),
        (wrapped(UNIQUE), 500),
    ],
)
async def test_http_answer(error: Exception, status: int) -> None:
    transport = httpx.ASGITransport(app=app_raising(error), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/")
    assert response.status_code == status
    if status == 503:
        assert response.headers["retry-after"] == "2"
        assert response.json()["detail"].startswith("Service momentanément indisponible")


class Result:
    def scalar_one_or_none(self) -> None:
        return None


class Database:
    """A database whose first ``failures`` statements meet ``error`` (PostgreSQL starting
    up), and that answers afterwards (it is back)."""

    def __init__(self, error: Exception, failures: int = 1_000) -> None:
        self.error = error
        self.failures = failures

    def statement(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise self.error


class Session:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def execute(self, *_: Any, **__: Any) -> Result:
        self.database.statement()
        return Result()

    async def commit(self) -> None:
        self.database.statement()

    async def rollback(self) -> None:
        return None

    async def close(self) -> None:
        return None


def unit_of_work(database: Database) -> SqlUnitOfWork:
    return SqlUnitOfWork(lambda: Session(database), "test")  # type: ignore[arg-type,return-value]


async def test_unit_of_work_reports_an_unreachable_database_as_operational() -> None:
    with pytest.raises(OperationalError) as caught:
        async with unit_of_work(Database(wrapped(STARTING_UP))) as uow:
            await uow.session.execute("SELECT 1")
    assert "starting up" in str(caught.value)


async def test_unit_of_work_leaves_other_database_errors_alone() -> None:
    unique = DBAPIError.instance(
        "INSERT",
        None,
        AsyncAdapt_asyncpg_dbapi.UniqueViolationError(str(UNIQUE), UNIQUE),
        AsyncAdapt_asyncpg_dbapi.Error,
    )
    assert isinstance(unique, IntegrityError)
    with pytest.raises(IntegrityError):
        async with unit_of_work(Database(unique)) as uow:
            await uow.session.execute("INSERT")


class Letters:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, record: FailedRecord, *, reason: str, error: str, attempts: int) -> None:
        self.sent.append(reason)


class Nothing(EventPayload):
    """An event without fields: only its handling matters here."""


async def test_an_event_met_by_a_starting_database_is_delivered_again_not_dead_lettered() -> None:
    letters = Letters()
    # Down for the three attempts of a handler error, back when the dead-letter path
    # looks the event up in the inbox: the window the drill hit.
    database = Database(wrapped(STARTING_UP), failures=3)

    async def handler(uow: SqlUnitOfWork, received: object) -> None:
        raise AssertionError("the inbox claim fails first")

    consumer: IdempotentConsumer[SqlUnitOfWork] = IdempotentConsumer(
        service="test",
        uow_factory=lambda: unit_of_work(database),
        routes={"test.thing.v1": Route(Nothing, handler)},
        dead_letters=letters,  # type: ignore[arg-type]
        retry_backoff_seconds=0.0,
        redelivery_backoff_seconds=0.0,
    )
    envelope = Envelope(type="test.thing.v1", source="test", departement="49")
    headers = tuple((k, v.encode()) for k, v in envelope.to_headers().items())
    record = FailedRecord("test.topic", 0, 7, None, b"{}", headers)
    with pytest.raises(InfrastructureUnavailable):
        await consumer.handle(record)
    assert letters.sent == []


def test_the_consumer_waits_for_a_database_starting_up_instead_of_dead_lettering() -> None:
    # Raised by a handler that reaches the database outside the unit of work's session.
    uow = unit_of_work(Database(wrapped(STARTING_UP)))
    assert is_infrastructure_error(wrapped(STARTING_UP), uow)
    assert not is_infrastructure_error(wrapped(UNIQUE), uow)


async def test_the_relay_backs_off_while_the_database_is_down() -> None:
    # Nobody listens on this port; a wake-up left set by a last commit must not turn the
    # retry into a busy loop (the PostgreSQL drill logged 2,179 attempts in 10 s).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/none")
    relay = OutboxRelay(
        service="drill", engine=engine, broker=KafkaBroker("127.0.0.1:1"), retry_seconds=0.5
    )
    attempts = 0
    lead = relay._lead

    async def counted() -> None:
        nonlocal attempts
        attempts += 1
        await lead()

    relay._lead = counted  # type: ignore[method-assign]
    relay.wake()
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(1.6)
    relay.stop()
    await asyncio.wait_for(task, 5.0)
    await engine.dispose()
    assert 2 <= attempts <= 5, attempts
