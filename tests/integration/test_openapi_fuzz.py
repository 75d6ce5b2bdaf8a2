"""Every HTTP API, fuzzed by schemathesis from its own OpenAPI document: no server error.

The services run as real processes, with real databases and the real broker, and are
called as each kind of caller would: a département team, a collectivité, an actor, an
administrator. Any 5xx fails the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from shared.auth.tokens import Role, mint
from shared.settings import AuthSettings, KafkaSettings
from stack.harness.process import ROOT, ServiceProcess, free_port

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

SERVICES = [
    "requests",
    "matching",
    "billing",
    "notifications",
    # Its API has the most operations (sheets, search, trainings, experiences, reports,
    # surveys, suggestions): four callers need more than the default 300 s on a busy machine.
    pytest.param("resources", marks=pytest.mark.timeout(900)),
]
RESULTS = ROOT / "tests" / "perf" / "results"
# Examples per operation and caller. The README's test command runs 25 (within CI's time);
# the long form (docs/security.md) runs 100: ``MG_FUZZ_EXAMPLES=100 pytest <this file>``.
EXAMPLES = int(os.environ.get("MG_FUZZ_EXAMPLES", "25"))
SCHEMATHESIS = ROOT / ".venv" / "bin" / "schemathesis"

CALLERS = {
    "departement": {"role": Role.DEPARTEMENT, "departement": "49", "scope": None},
    "collectivite": {"role": Role.COLLECTIVITE, "departement": "49", "scope": "49007"},
    "actor": {"role": Role.ACTOR, "departement": "49", "scope": "caue49"},
    "admin": {"role": Role.ADMIN, "departement": None, "scope": None},
}


def token(caller: str) -> str:
    spec = CALLERS[caller]
    return mint(
        AuthSettings(),
        role=spec["role"],  # type: ignore[arg-type]
        subject=f"fuzz-{caller}",
        departement=spec["departement"],  # type: ignore[arg-type]
        scope=spec["scope"],  # type: ignore[arg-type]
    )


# 100 examples per operation and caller (the long form) take minutes per service.
@pytest.mark.timeout(2400)
@pytest.mark.parametrize("service", SERVICES)
async def test_no_operation_answers_a_server_error(
    service: str,
    fresh_database: Callable[[str], Awaitable[str]],
    kafka_topics: KafkaSettings,
    tmp_path: Path,
) -> None:
    port = free_port()
    upper = service.upper()
    process = ServiceProcess(
        f"services.{service}.entrypoints.main",
        env={
            f"MG_{upper}_DATABASE_URL": await fresh_database(service),
            f"MG_{upper}_HTTP_PORT": str(port),
            f"MG_{upper}_CONSUMER_OFFSET_RESET": "latest",
            f"MG_{upper}_LOG_LEVEL": "WARNING",
            "MG_KAFKA_BOOTSTRAP_SERVERS": kafka_topics.bootstrap_servers,
            # The fuzzer is one caller sending as fast as it can: not what the limit is for.
            "MG_HTTP_RATE_LIMIT_PER_SECOND": "100000",
            "MG_HTTP_RATE_LIMIT_BURST": "100000",
        },
        port=port,
        log_path=tmp_path / f"{service}.log",
    )
    await process.start()
    summary: dict[str, object] = {}
    try:
        await process.wait_ready(timeout=60)
        for caller in CALLERS:
            run = await asyncio.create_subprocess_exec(
                str(SCHEMATHESIS),
                "run",
                f"{process.base_url}/openapi.json",
                "--header",
                f"Authorization: Bearer {token(caller)}",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                str(EXAMPLES),
                "--seed",
                "2026",
                "--generation-deterministic",
                "--no-color",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            out, _ = await asyncio.wait_for(run.communicate(), timeout=900)
            text = out.decode(errors="replace")
            summary[caller] = {
                "returncode": run.returncode,
                "summary": [
                    line for line in text.splitlines() if re.search(r"\d+ (passed|failed)", line)
                ],
            }
            assert run.returncode == 0, (
                f"{service} as {caller}:\n{text[-4000:]}\n{process.log_tail()}"
            )
    finally:
        await process.stop()
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"openapi_fuzz_{service}.json").write_text(json.dumps(summary, indent=2))
