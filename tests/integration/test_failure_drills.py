"""Failure drills, short form: ``kill -9`` of each service, of the Kafka broker and of
PostgreSQL in turn during a run of demandes.

A few hundred demandes over 3 départements at a steady rate through the whole product
(services as real processes, ``stack/harness/stack.py``), on a broker and a PostgreSQL
server of the drill's own (``stack/harness/servers.py``: free ports, own state
folder, stopped and deleted at the end), so that nothing else is hurt. Meanwhile
requests, matching, billing, notifications, the broker and PostgreSQL are killed one
after the other at random moments (seeded; the seed is in the failure message) and
restarted after 1 to 3 s. Then the checker of ``tests/perf/drill.py``: every demande
completed, every completed mission invoiced exactly once, invoice numbers gapless, every
requester's notification sent and received, no service process that exited by itself,
and per request_id nothing lost, duplicated (after de-duplication on ``ce_id``) or
reordered on the topics.

The long form is ``python -m tests.perf.drill --demandes 10000`` (docs/reliability.md).
"""

from __future__ import annotations

import json
import os

import pytest

from stack.harness.servers import SERVERS
from tests.perf.drill import drill_run

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

DEMANDES = 360
RATE = 4.0  # demandes per second: the load lasts 90 s
DEPARTEMENTS = ("49", "35", "24")


def seed() -> int:
    return int(os.environ.get("MG_DRILL_SEED", "0")) or int.from_bytes(os.urandom(2), "big")


def explain(result: dict[str, object]) -> str:
    return json.dumps(result, indent=1, ensure_ascii=False, default=str)[:16_000]


def assert_clean(result: dict[str, object]) -> None:
    assert result["settled"], f"the run never settled:\n{explain(result)}"
    assert result["failures"] == {}, f"non-zero counts:\n{explain(result)}"
    check = result["check"]
    assert isinstance(check, dict)
    assert check["demandes_accepted_by_api"] == DEMANDES
    assert check["flows_through"] == DEMANDES


@pytest.mark.timeout(600)
async def test_kill_each_service_the_broker_and_the_database_loses_nothing() -> None:
    result = await drill_run(
        demandes=DEMANDES,
        rate=RATE,
        departements=DEPARTEMENTS,
        seed=seed(),
        settle_timeout=120.0,
    )
    drilled = [d["target"] for d in result["drills"]]
    assert {"requests", "matching", "billing", *SERVERS} <= set(drilled), drilled
    assert all(d.get("restart_to_ready_s") is not None for d in result["drills"]), explain(result)
    # Its broker and PostgreSQL are stopped and their state deleted.
    assert result["servers"]["teardown_problems"] == [], explain(result)
    assert result["servers"]["state_removed"], explain(result)
    assert_clean(result)
