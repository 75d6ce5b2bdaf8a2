"""A database that is down or restarting is told apart from a wrong statement: the HTTP
APIs answer 503 with Retry-After (found by the PostgreSQL failure drill, where matching
answered 500 to its clients while the server was down, then while it was starting up)."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError

from shared.db.errors import database_unavailable
from shared.http.errors import EXCEPTION_HANDLERS


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
