"""Databases of their own on the PostgreSQL server of the tests: what the test fixtures, the
benchmarks and the harness's stacks create for a run and drop after it."""

from __future__ import annotations

import os
from collections.abc import Iterable

import asyncpg  # type: ignore[import-untyped]

PG_ADMIN_DSN = os.environ.get(
    "MG_TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5433/postgres"
)


def plain_dsn(database_url: str) -> str:
    """What asyncpg connects to, from the SQLAlchemy URL the services read."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def create_database(name: str, admin_dsn: str = PG_ADMIN_DSN) -> str:
    """An empty database ``name``; returns its SQLAlchemy URL."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def drop_databases(names: Iterable[str], admin_dsn: str = PG_ADMIN_DSN) -> None:
    """Drop them, even with sessions still open (a killed service's)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
