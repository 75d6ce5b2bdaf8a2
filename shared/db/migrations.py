"""Alembic, driven from code: each service keeps its own migration scripts.

A service's ``migrations/env.py`` calls :func:`run_env`; the service and the
tests upgrade with :func:`upgrade`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url)
    config.set_main_option("version_table", "alembic_version")
    return config


def upgrade(migrations_dir: Path, database_url: str, revision: str = "head") -> None:
    """Bring the database to ``revision``; safe to call on every start."""
    command.upgrade(alembic_config(migrations_dir, database_url), revision)


def run_env(metadata: MetaData | Sequence[MetaData]) -> None:
    """The body of every service's ``env.py``."""
    config = context.config

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = async_engine_from_config(
            config.get_section(config.config_ini_section, {})
            | {"sqlalchemy.url": config.get_main_option("sqlalchemy.url") or ""},
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(run_async())
    else:
        raise RuntimeError("run migrations outside the event loop (use asyncio.to_thread)")
