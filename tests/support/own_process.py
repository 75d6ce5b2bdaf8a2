"""A service run as its own OS process on the shared test broker and a database of its own:
what the kill -9 tests and the Prometheus scrape start, and how they see its outbox drain."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import asyncpg

from shared.settings import KafkaSettings
from stack.harness.process import ServiceProcess, free_port, service_module

UNPUBLISHED = "SELECT count(*) FROM outbox WHERE published_at IS NULL"


def service_process(
    service: str,
    database_url: str,
    kafka: KafkaSettings,
    log_dir: Path,
    *,
    purpose: str,
    env: Mapping[str, str] | None = None,
) -> ServiceProcess:
    """``service`` on a free port, in a consumer group of its own, logging to
    ``log_dir/<service>.log``; ``env`` adds or overrides its settings."""
    prefix = f"MG_{service.upper()}_"
    port = free_port()
    return ServiceProcess(
        service_module(service),
        env={
            f"{prefix}DATABASE_URL": database_url,
            f"{prefix}HTTP_PORT": str(port),
            f"{prefix}CONSUMER_GROUP": f"{service}-{purpose}-{uuid.uuid4().hex[:8]}",
            # Records left on the shared topics by earlier runs are none of the test's business.
            f"{prefix}CONSUMER_OFFSET_RESET": "latest",
            f"{prefix}OUTBOX_POLL_SECONDS": "0.2",
            f"{prefix}LOG_LEVEL": "WARNING",
            **kafka.environment(),
            **(env or {}),
        },
        port=port,
        log_path=log_dir / f"{service}.log",
    )


async def wait_outbox_drained(dsn: str, timeout: float = 15.0) -> tuple[int, float]:
    """Unpublished outbox rows left once the relay had ``timeout`` seconds to mark them,
    and the seconds it took."""
    started = time.monotonic()
    conn = await asyncpg.connect(dsn)
    try:
        while True:
            left = int(await conn.fetchval(UNPUBLISHED))
            if left == 0 or time.monotonic() - started > timeout:
                return left, time.monotonic() - started
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
