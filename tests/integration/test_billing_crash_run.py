"""The whole-France annual cotisation run, ``kill -9`` in the middle, then resumed.

Every commune (34,875) and every EPCI (1,253) becomes a member of its
département for 2027 through ``mg-cotisations enrol --year 2027 --all``, run as
its own process. The billing service, a real OS process, starts the run over all
départements (``POST /v1/cotisation-runs``) and is killed with SIGKILL once some
thousands of invoices are committed. Restarted on the same database, it is asked
for the run again: it skips the members already invoiced and finishes.

Then: exactly one cotisation invoice per active member, none for anyone else;
numbers 1..N without gap per département and year; the first run's progress row
counts exactly what was committed before the kill; one outbox event per invoice
and per adhésion, all published at the end. Figures go to
``tests/perf/results/billing_crash_run.json``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth.tokens import Role
from shared.refdata import get_territories
from shared.settings import KafkaSettings
from stack.harness.databases import plain_dsn
from stack.harness.process import ROOT, python
from tests.perf.result_file import write
from tests.support.crash_run import crash_start
from tests.support.own_process import service_process, wait_outbox_drained
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

YEAR = 2027
KILL_AFTER = (3_000, 12_000)  # cotisation invoices committed when the service is killed
ADMIN = bearer(Role.ADMIN, None)
RESULTS = Path(__file__).resolve().parents[1] / "perf" / "results" / "billing_crash_run.json"
COTISATIONS = "SELECT count(*) FROM invoices WHERE invoice_kind = 'cotisation'"


def expected_members() -> tuple[int, int]:
    """Communes, and EPCI counted in their home département (as ``enrol`` does)."""
    territories = get_territories()
    departements = [d.code for d in territories.departements()]
    communes = sum(len(territories.communes_of(d)) for d in departements)
    epcis = sum(
        1
        for d in departements
        for e in territories.epcis_of(d)
        if territories.home_departement(e.siren) == d
    )
    return communes, epcis


async def enrol_everyone(env: Mapping[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        python(),
        "-m",
        "services.billing.entrypoints.cotisation_cli",
        "enrol",
        "--year",
        str(YEAR),
        "--all",
        cwd=ROOT,
        env={**os.environ, **env, "COLUMNS": "200"},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 180)
    output = out.decode("utf-8", "replace")
    assert process.returncode == 0, f"mg-cotisations enrol failed:\n{output[-3000:]}"
    return output.strip().splitlines()[-1]


async def start_run(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/v1/cotisation-runs", json={"year": YEAR}, headers=ADMIN)
    assert response.status_code == 202, response.text
    started: dict[str, Any] = response.json()
    return started


async def read_run(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/cotisation-runs/{run_id}", headers=ADMIN)
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


@pytest.mark.timeout(900)
async def test_kill_9_in_the_middle_of_the_whole_france_run_then_resume(
    fresh_database: Callable[[str], Awaitable[str]],
    kafka_topics: KafkaSettings,
    tmp_path: Path,
) -> None:
    lap, seed, _, kill_after = crash_start(KILL_AFTER)
    communes, epcis = expected_members()

    database_url = await fresh_database("billing_crash")
    service = service_process("billing", database_url, kafka_topics, tmp_path, purpose="crash")
    enrolled = await enrol_everyone(service.env)
    lap("enrol_cli")

    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        await service.start()
        await service.wait_ready(timeout=60)
        lap("first_start")
        first_pid = service.pid

        async with httpx.AsyncClient(base_url=service.base_url, timeout=30.0) as client:
            first = await start_run(client)
            run_started = time.monotonic()
            while (issued := int(await conn.fetchval(COTISATIONS))) < kill_after:
                assert service.running, f"the service died by itself:\n{service.log_tail()}"
                assert time.monotonic() - run_started < 120, (
                    f"only {issued} invoices after 2 minutes:\n{service.log_tail()}"
                )
                await asyncio.sleep(0.05)
        await service.kill()
        seen_at_kill = issued
        run_seconds_before_kill = time.monotonic() - run_started
        before_kill = int(await conn.fetchval(COTISATIONS))
        lap("run_until_kill")
        assert before_kill < first["members"], "the kill came after the run had finished"

        await service.start()
        # The restarted instance joins the consumer group only once the broker has
        # evicted the killed member (session timeout): startup may wait for that.
        await service.wait_ready(timeout=90)
        assert service.pid != first_pid
        lap("restart")

        async with httpx.AsyncClient(base_url=service.base_url, timeout=30.0) as client:
            interrupted = await read_run(client, first["id"])
            second = await start_run(client)
            resumed_at = time.monotonic()
            while (resumed := await read_run(client, second["id"]))["status"] == "running":
                assert service.running, f"the service died by itself:\n{service.log_tail()}"
                assert time.monotonic() - resumed_at < 240, (
                    f"the resumed run is not done after 4 minutes: {resumed}"
                )
                await asyncio.sleep(0.25)
            resume_seconds = time.monotonic() - resumed_at
            lap("resumed_run")
        unpublished, drain_seconds = await wait_outbox_drained(plain_dsn(database_url), 180)
        lap("outbox_drain")

        # One snapshot for every count: the service goes on invoicing the completions that
        # other tests publish on the shared topic meanwhile.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            adhesions = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE status = 'active') AS active, "
                "count(*) FILTER (WHERE collectivite_kind = 'commune') AS communes, "
                "count(*) FILTER (WHERE collectivite_kind = 'epci') AS epcis FROM adhesions "
                "WHERE year = $1",
                YEAR,
            )
            totals = await conn.fetchrow(
                "SELECT count(*) AS invoices, count(DISTINCT source_key) AS keys, "
                "coalesce(sum(total_incl_tax), 0) AS euros FROM invoices "
                "WHERE invoice_kind = 'cotisation'"
            )
            uninvoiced = await conn.fetch(
                "SELECT a.collectivite_code FROM adhesions a LEFT JOIN invoices i "
                "ON i.source_key = 'cotisation:' || a.year || ':' || a.collectivite_code "
                "WHERE a.year = $1 AND a.status = 'active' AND i.id IS NULL LIMIT 20",
                YEAR,
            )
            unexpected = await conn.fetch(
                "SELECT i.number FROM invoices i LEFT JOIN adhesions a "
                "ON i.source_key = 'cotisation:' || a.year || ':' || a.collectivite_code "
                "AND a.departement = i.departement AND a.status = 'active' "
                "WHERE i.invoice_kind = 'cotisation' AND a.id IS NULL LIMIT 20"
            )
            # Every kind counts here: a mission of a completion published on the shared topic
            # by another test takes its number in the same sequence.
            sequences = await conn.fetch(
                "SELECT i.departement, i.year, count(*) AS n, count(DISTINCT i.sequence) AS d, "
                "min(i.sequence) AS lo, max(i.sequence) AS hi, c.last_number "
                "FROM invoices i JOIN invoice_counters c USING (departement, year) "
                "GROUP BY i.departement, i.year, c.last_number"
            )
            gaps = [
                dict(r)
                for r in sequences
                if not (r["n"] == r["d"] == r["hi"] == r["last_number"] and r["lo"] == 1)
            ]
            events = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE event_type = 'billing.invoice.issued.v1' "
                "AND convert_from(payload, 'UTF8')::jsonb ->> 'invoice_kind' = 'cotisation') "
                "AS invoices, "
                "count(DISTINCT convert_from(payload, 'UTF8')::jsonb ->> 'document_id') "
                "FILTER (WHERE event_type = 'billing.invoice.issued.v1') AS documents, "
                "count(*) FILTER (WHERE event_type = 'billing.adhesion.registered.v1') "
                "AS adhesions, count(*) AS rows FROM outbox"
            )
            every_invoice = int(await conn.fetchval("SELECT count(*) FROM invoices"))
            missions = every_invoice - int(totals["invoices"])
    finally:
        await conn.close()
        await service.stop()

    members = int(adhesions["active"])
    run_amounts = Decimal(interrupted["amount_incl_tax"]) + Decimal(resumed["amount_incl_tax"])
    summary = {
        "seed": seed,
        "year": YEAR,
        "enrolled": enrolled,
        "members": members,
        "communes": int(adhesions["communes"]),
        "epcis": int(adhesions["epcis"]),
        "kill_after_invoices": kill_after,
        "invoices_seen_at_kill": seen_at_kill,
        "invoices_before_kill": before_kill,
        "first_run": {
            "members": first["members"],
            "issued_recorded": interrupted["issued"],
            "status_after_restart": interrupted["status"],
            "seconds_until_kill": round(run_seconds_before_kill, 1),
            "invoices_per_second": round(before_kill / run_seconds_before_kill, 1),
        },
        "resumed_run": {
            "status": resumed["status"],
            "members": resumed["members"],
            "issued": resumed["issued"],
            "already_invoiced": resumed["already_invoiced"],
            "seconds": round(resume_seconds, 1),
            "invoices_per_second": round(resumed["issued"] / resume_seconds, 1),
        },
        "invoices_after": int(totals["invoices"]),
        "distinct_source_keys": int(totals["keys"]),
        "euros_incl_tax": str(totals["euros"]),
        "runs_amount_incl_tax": str(run_amounts),
        "members_without_invoice": len(uninvoiced),
        "invoices_without_member": len(unexpected),
        "sequences": len(sequences),
        "sequences_with_gaps": len(gaps),
        "foreign_mission_invoices": missions,
        "outbox": {
            "rows": int(events["rows"]),
            "cotisation_events": int(events["invoices"]),
            "adhesion_events": int(events["adhesions"]),
            "unpublished_at_end": unpublished,
            "drain_seconds": round(drain_seconds, 1),
        },
        "seconds": lap.seconds,
        "phase_seconds": lap.phases,
    }
    print(
        f"\nbilling crash run: {members} members ({summary['communes']} communes, "
        f"{summary['epcis']} EPCI), killed at {before_kill} invoices "
        f"({summary['first_run']['invoices_per_second']:.0f}/s, after "
        f"{summary['first_run']['seconds_until_kill']} s; first run left "
        f"'{interrupted['status']}' with {interrupted['issued']} recorded), resumed run "
        f"{resumed['status']} issued {resumed['issued']} (already {resumed['already_invoiced']})"
        f" in {resume_seconds:.1f} s; {summary['invoices_after']} cotisation invoices, "
        f"{totals['euros']} EUR; {len(sequences)} sequences, {len(gaps)} with gaps; "
        f"outbox {events['rows']} rows, {unpublished} unpublished after "
        f"{drain_seconds:.1f} s; {missions} foreign mission invoices; seed {seed}; "
        f"{summary['seconds']} s {lap.phases}"
    )
    write(RESULTS, summary)

    # Everyone is a member: the reference tariff and the shipped ones all take EPCI.
    assert (summary["communes"], summary["epcis"]) == (communes, epcis)
    assert members == first["members"] == resumed["members"] == communes + epcis
    # The progress row is written with the invoices: it knows what the crash kept.
    assert interrupted["issued"] == before_kill
    assert resumed["status"] == "finished"
    assert resumed["issued"] + before_kill == members
    assert resumed["already_invoiced"] == before_kill
    # Exactly one cotisation invoice per member, none for anyone else.
    assert [r["collectivite_code"] for r in uninvoiced] == []
    assert [r["number"] for r in unexpected] == []
    assert totals["invoices"] == totals["keys"] == members
    assert totals["euros"] == run_amounts
    # No gap, no duplicate, the counter agrees, per département and year.
    assert gaps == []
    # One event per invoice and per adhésion, all published.
    assert events["invoices"] == members
    assert events["documents"] == every_invoice
    assert events["adhesions"] == members
    assert unpublished == 0
