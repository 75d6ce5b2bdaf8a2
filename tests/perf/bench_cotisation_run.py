"""Benchmark of the annual cotisation run over the whole of France, against a baseline.

    .venv/bin/python -m tests.perf.bench_cotisation_run [--year 2027] [--batch 100 --batch 500]

On a fresh database of the PostgreSQL server of the tests (``MG_TEST_PG_ADMIN_DSN``,
by default ``postgresql://postgres@127.0.0.1:5433/postgres``): every commune and EPCI
becomes a member (``adhesions.enrol``), then the run (``open_run`` + ``run_cotisations``,
exactly what ``POST /v1/cotisation-runs`` and ``mg-cotisations run`` do) invoices them
all, once per batch size, starting each time from no invoice at all.

The baseline, on the same machine and database, inserts the same number of equivalent
rows (the run's own invoices, copied) into a table shaped like ``invoices``, with its
indexes, one plain multi-row INSERT and one transaction per batch: no member lookup,
no pricing, no numbering lock, no outbox. The ratio run / baseline is what the
guarantees (gapless numbers, business keys, transactional events) cost.

Writes ``tests/perf/results/cotisation_run.json`` and prints a summary. The database
is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from services.billing.adapters.unit_of_work import BillingUnitOfWork
from services.billing.entrypoints.main import MIGRATIONS, NAME
from services.billing.service_layer.adhesions import enrol
from services.billing.service_layer.cotisation_run import open_run, run_cotisations
from shared.db.engine import make_engine, make_session_factory
from shared.db.migrations import upgrade
from shared.refdata import get_territories
from stack.harness.databases import PG_ADMIN_DSN, create_database, drop_databases, plain_dsn

RESULTS = Path(__file__).resolve().parent / "results" / "cotisation_run.json"
BATCHES = (100, 500, 2000)

# Every column of ``invoices``, in the order of the baseline's arrays and their SQL types.
COLUMNS = (
    ("id", "uuid"),
    ("number", "text"),
    ("departement", "text"),
    ("year", "int"),
    ("sequence", "bigint"),
    ("document_kind", "text"),
    ("invoice_kind", "text"),
    ("collectivite_code", "text"),
    ("collectivite_kind", "text"),
    ("collectivite_name", "text"),
    ("tariff_version", "int"),
    ("lines", "jsonb"),
    ("total_excl_tax", "numeric"),
    ("total_vat", "numeric"),
    ("total_incl_tax", "numeric"),
    ("refers_to", "uuid"),
    ("reason", "text"),
    ("source_key", "text"),
    ("request_id", "uuid"),
    ("assignment_id", "uuid"),
    ("issued_at", "timestamptz"),
)


def rss_mib() -> tuple[float, float]:
    """(current, peak since the last reset) resident memory of this process, in MiB."""
    current = peak = 0.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return round(current, 1), round(peak, 1)


def reset_peak_rss() -> bool:
    """Start a new peak (Linux: writing 5 to clear_refs resets VmHWM); False if unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def reset_invoicing(dsn: str) -> None:
    """Back to "members, no invoice": each measured run starts from the same state."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "TRUNCATE invoices, invoice_counters, cotisation_runs, tariffs, outbox, "
            "processed_events"
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def enrol_all(url: str, year: int) -> tuple[int, float]:
    territories = get_territories()
    departements = [d.code for d in territories.departements()]
    engine = make_engine(url, pool_size=2, application_name="bench-enrol")
    started = time.perf_counter()
    try:
        async with BillingUnitOfWork(make_session_factory(engine), source=NAME) as uow:
            added = await enrol(uow, year, departements, territories, datetime.now(UTC))
    finally:
        await engine.dispose()
    return added, time.perf_counter() - started


async def measure_run(url: str, year: int, batch: int) -> dict[str, Any]:
    await reset_invoicing(plain_dsn(url))
    peak_resettable = reset_peak_rss()
    engine = make_engine(url, pool_size=2, application_name=f"bench-run-{batch}")
    factory = make_session_factory(engine)

    def unit_of_work() -> BillingUnitOfWork:
        return BillingUnitOfWork(factory, source=NAME)

    def now() -> datetime:
        return datetime.now(UTC)

    try:
        started = time.perf_counter()
        plan = await open_run(unit_of_work, year, None, now())
        progress = await run_cotisations(unit_of_work, plan, now, batch=batch)
        seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    _, peak = rss_mib()
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        stored, euros = await conn.fetchrow(
            "SELECT count(*), coalesce(sum(total_incl_tax), 0) FROM invoices"
        )
        events = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE event_type = 'billing.invoice.issued.v1'"
        )
    finally:
        await conn.close()
    assert stored == progress.issued == plan.members, (stored, progress.issued, plan.members)
    assert euros == progress.amount_incl_tax, (euros, progress.amount_incl_tax)
    assert events == stored, (events, stored)
    return {
        "batch": batch,
        "members": plan.members,
        "invoices": progress.issued,
        "euros_incl_tax": str(progress.amount_incl_tax),
        "seconds": round(seconds, 2),
        "invoices_per_second": round(progress.issued / seconds, 1),
        "peak_rss_mib": peak,
        "peak_rss_scope": "this run" if peak_resettable else "process so far",
    }


async def measure_baseline(url: str, batch: int) -> dict[str, Any]:
    """The invoices of the last run, inserted again as plain rows into a twin table."""
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.execute("DROP TABLE IF EXISTS invoices_baseline")
        # Same columns, constraints and indexes (unique number, source key, sequence...).
        await conn.execute("CREATE TABLE invoices_baseline (LIKE invoices INCLUDING ALL)")
        names = ", ".join(name for name, _ in COLUMNS)
        rows = await conn.fetch(
            f"SELECT {names} FROM invoices ORDER BY departement, year, sequence"
        )
        arrays = [
            [str(r["lines"]) if name == "lines" else r[name] for r in rows] for name, _ in COLUMNS
        ]
        # asyncpg caps a statement at 32,767 parameters (21 columns x 2,000 rows is more):
        # one array per column keeps a batch of any size to a single multi-row INSERT.
        statement = (
            f"INSERT INTO invoices_baseline ({names}) SELECT * FROM unnest("
            + ", ".join(f"${i}::{kind}[]" for i, (_, kind) in enumerate(COLUMNS, start=1))
            + ")"
        )
        await conn.execute("VACUUM ANALYZE invoices_baseline")
        started = time.perf_counter()
        for start in range(0, len(rows), batch):
            chunk = [column[start : start + batch] for column in arrays]
            async with conn.transaction():
                await conn.execute(statement, *chunk)
        seconds = time.perf_counter() - started
        copied = await conn.fetchval("SELECT count(*) FROM invoices_baseline")
        await conn.execute("DROP TABLE invoices_baseline")
    finally:
        await conn.close()
    assert copied == len(rows)
    return {
        "batch": batch,
        "rows": len(rows),
        "seconds": round(seconds, 2),
        "rows_per_second": round(len(rows) / seconds, 1),
    }


async def bench(year: int, batches: tuple[int, ...], keep: bool) -> dict[str, Any]:
    load_before = os.getloadavg()
    name = f"bench_cotisations_{uuid.uuid4().hex[:10]}"
    url = await create_database(name)
    try:
        await asyncio.to_thread(upgrade, MIGRATIONS, url)
        members, enrol_seconds = await enrol_all(url, year)
        runs: list[dict[str, Any]] = []
        for batch in batches:
            run = await measure_run(url, year, batch)
            baseline = await measure_baseline(url, batch)
            run["baseline"] = baseline
            run["ratio_run_to_baseline"] = round(run["seconds"] / baseline["seconds"], 1)
            runs.append(run)
            print(
                f"  batch {batch:>5}: {run['invoices']} invoices in {run['seconds']:.1f} s "
                f"({run['invoices_per_second']:.0f}/s, peak RSS {run['peak_rss_mib']} MiB); "
                f"baseline {baseline['seconds']:.2f} s ({baseline['rows_per_second']:.0f} "
                f"rows/s); ratio {run['ratio_run_to_baseline']}x",
                flush=True,
            )
    finally:
        if not keep:
            await drop_databases([name])
    euros = {run["euros_incl_tax"] for run in runs}
    assert len(euros) == 1, f"the runs disagree on the total: {euros}"
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            # Other work on the machine (tests sharing the database) weighs on the figures.
            "load_average_1_5_15_before": [round(x, 2) for x in load_before],
            "load_average_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        },
        "database": {"server": PG_ADMIN_DSN.rsplit("@", 1)[-1].rsplit("/", 1)[0], "name": name},
        "year": year,
        "members": members,
        "enrol_seconds": round(enrol_seconds, 2),
        "euros_incl_tax": euros.pop(),
        "runs": runs,
        "peak_rss_mib_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--year", type=int, default=2027)
    parser.add_argument(
        "--batch", type=int, action="append", help="batch size (repeatable); 100, 500, 2000"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    batches = tuple(args.batch or BATCHES)
    print(f"Whole-France cotisation run {args.year}, batches {batches}", flush=True)
    figures = asyncio.run(bench(args.year, batches, args.keep))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    total = Decimal(figures["euros_incl_tax"])
    print(
        f"{figures['members']} members enrolled in {figures['enrol_seconds']:.1f} s; "
        f"{total:,.2f} EUR invoiced per run; results in {args.output}"
    )
    print(
        f"{'batch':>6} {'seconds':>8} {'inv/s':>7} {'RSS MiB':>8} {'baseline s':>11} {'ratio':>6}"
    )
    for run in figures["runs"]:
        print(
            f"{run['batch']:>6} {run['seconds']:>8.1f} {run['invoices_per_second']:>7.0f} "
            f"{run['peak_rss_mib']:>8.1f} {run['baseline']['seconds']:>11.2f} "
            f"{run['ratio_run_to_baseline']:>5.1f}x"
        )


if __name__ == "__main__":
    main()
