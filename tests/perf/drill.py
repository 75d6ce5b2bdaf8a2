"""Failure drills over a run of demandes: ``kill -9`` of every service in turn, of the
Kafka broker and of PostgreSQL, each restarted; then a checker.

    .venv/bin/python -m tests.perf.drill --demandes 10000 [--rate 8 --rounds 3 --seed 7]

The drill starts a Kafka broker and a PostgreSQL server of its own
(``stack/harness/servers.py``: free ports, state in ``.local/drill/<id>``, the
repository's ``infra/kafka/kafka.sh`` and ``infra/postgres/postgres.py``), creates the
topics, and runs the stack of ``stack/harness/stack.py`` on them (services as real
processes, synthetic actors who accept and complete every proposal). Demandes are posted
at a steady rate over several départements; meanwhile the drills kill, at random moments
(seeded), one target after the other (requests, matching, billing, notifications, the
broker, PostgreSQL; ``--rounds`` times) and restart it after ``--down-min``..``--down-max``
seconds. A service process that exits by itself is restarted, as a supervisor would, and
counted: it must ride out its broker's or database's outage. Clients behave as real ones
do: a demande is POSTed again with the same ``Idempotency-Key`` until the API answers, an
actor retries its accept/complete until matching answers. At the end, even after a
failure, the servers are stopped and deleted (their logs are kept in the run folder).

The checker (``tests/perf/drill_check.py``) then compares what was submitted with what ended:

- every demande accepted by the API is ``completed`` in the requests database, its
  mission ``completed`` in matching's;
- every completed mission is invoiced exactly once (billing ``invoices.assignment_id``),
  and the invoice numbers are gapless per (département, year);
- every expected notification (requester's messages of each event) is ``sent`` in the
  notifications database and arrived at the SMTP sink (by Message-ID);
- per request_id, on the topics: lost (a stage never seen), duplicated after
  de-duplication (two distinct events for one stage: distinct ``ce_id``, distinct
  assignment or invoice), reordered (Kafka timestamps of submitted < proposed < accepted
  < completed < invoiced, and offsets on the assignment topic) -- all must be 0.
  Copies of one event (same ``ce_id``, at-least-once relay) are counted, not failed.

Writes ``tests/perf/results/drill.json`` (``--out``) and, in the run folder
(``.local/stack/drill-<id>``), the services' and servers' logs. The short form is
``tests/integration/test_failure_drills.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from stack.harness.databases import plain_dsn
from stack.harness.flow_run import FlowRun
from stack.harness.flows import (
    Demandes,
    Flow,
    InvoiceOwners,
    Sighting,
    until_settled,
)
from stack.harness.process import ROOT
from stack.harness.servers import OwnServers
from stack.harness.stack import Stack, StackOptions, notifications_available
from tests.perf.drill_check import check, dead_letter_records, verdict
from tests.perf.drill_faults import (
    DrillTap,
    PatientActors,
    Supervisor,
    drill_targets,
    plan_drills,
    run_drills,
)
from tests.perf.result_file import header, log, write

RESULTS = Path(__file__).resolve().parent / "results" / "drill.json"
# A delivery claimed by a killed notifications instance is sent again once its lease ends
# (ADR 0009; 300 s in production). The drills shorten it, with the send timeouts it must
# outlast twice, so that this recovery happens within the run and is checked.
DRILL_LEASE_SECONDS = 20.0


def notification_lease_env(lease_seconds: float) -> dict[str, str]:
    timeout = str(min(5.0, lease_seconds / 3))
    return {
        "MG_NOTIFICATIONS_LEASE_SECONDS": str(lease_seconds),
        "MG_NOTIFICATIONS_SMTP_TIMEOUT_SECONDS": timeout,
        "MG_NOTIFICATIONS_WEBHOOK_TIMEOUT_SECONDS": timeout,
        "MG_NOTIFICATIONS_LES_COMMUNS_TIMEOUT_SECONDS": timeout,
    }


# --- the run ---------------------------------------------------------------------------------


class DrillRun(FlowRun):
    def __init__(self, stack: Stack, seed: int, patience: float = 180.0) -> None:
        self.stack = stack
        self.patience = patience
        self.actors = PatientActors(
            lambda: stack.client("matching"),
            patience=patience,
            billing=lambda: stack.client("billing"),
        )
        self.tap: DrillTap = DrillTap(
            stack.kafka, stack.actor_ids.values(), self.actors.on_proposed
        )
        super().__init__(self.tap, Demandes(stack.options.departements, seed))
        self.flows: list[Flow] = []
        self.warm: list[Flow] = []
        self.submit_retries = 0
        self.submit_retried_statuses: Counter[int] = Counter()
        self._conns: dict[str, asyncpg.Connection] = {}

    async def db(self, service: str) -> asyncpg.Connection:
        conn = self._conns.get(service)
        if conn is None or conn.is_closed():
            conn = self._conns[service] = await asyncpg.connect(
                plain_dsn(self.stack.database_urls[service])
            )
        return conn

    async def query(self, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        """A query that survives a PostgreSQL restart (reconnects, retries)."""
        for attempt in range(60):
            try:
                return list(await (await self.db(service)).fetch(sql, *args))
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                self._conns.pop(service, None)
                if attempt == 59:
                    raise
                await asyncio.sleep(1.0)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        await self.actors.drain()
        await self.tap.stop()
        for conn in self._conns.values():
            with contextlib.suppress(Exception):
                await conn.close()

    async def post(self, flow: Flow, body: dict[str, Any], headers: dict[str, str]) -> None:
        """POST until the API answers (same Idempotency-Key each time)."""
        flow.posted_at = time.time()
        started = time.perf_counter()
        deadline = time.monotonic() + self.patience
        while True:
            try:
                response = await self.stack.client("requests").post(
                    "/v1/requests", json=body, headers=headers
                )
                status = response.status_code
            except (httpx.TransportError, RuntimeError):
                status = 0
            if (status == 0 or status >= 500) and time.monotonic() < deadline:
                self.submit_retries += 1
                self.submit_retried_statuses[status] += 1
                await asyncio.sleep(0.3)
                continue
            flow.http_status = status
            flow.http_seconds = time.perf_counter() - started
            return

    # --- progress -------------------------------------------------------------------------
    async def classify_invoices(self) -> None:
        await self.invoices.classify(self.tap.flows.values(), self._our_invoices)

    async def _our_invoices(self, ids: list[str]) -> set[str]:
        return {str(r["id"]) for r in await self.query("billing", InvoiceOwners.SQL, ids)}

    def sightings(self, flow: Flow, stage: str) -> list[Sighting]:
        found = flow.seen.get(stage, [])
        if stage == "invoiced":
            return [s for s in found if s.ref in self.invoices.ours]
        return list(found)

    def first(self, flow: Flow, stage: str) -> Sighting | None:
        found = self.sightings(flow, stage)
        return min(found, key=lambda s: s.at) if found else None

    def through(self, flow: Flow) -> bool:
        return self.first(flow, "invoiced") is not None

    async def until_through(self, flows: list[Flow], *, timeout: float, stall: float) -> bool:
        async def progress() -> int:
            await self.classify_invoices()
            return sum(1 for f in flows if self.through(f))

        return await until_settled(progress, len(flows), timeout=timeout, stall=stall, poll=0.5)

    async def warm_up(self) -> None:
        self.warm += await self.warm_up_flows(self.stack.options.departements, 20.0, log)

    async def load(self, count: int, rate: float, on_start: Callable[[float], Any]) -> float:
        """Open loop: demande k posted at t0 + k / rate. Returns t0 (monotonic)."""
        t0 = time.monotonic()
        side = asyncio.create_task(on_start(t0))
        tasks = []
        for k in range(count):
            await asyncio.sleep(max(0.0, t0 + k / rate - time.monotonic()))
            flow, body, headers = self.new_flow()
            flow.scheduled_at = time.time()
            self.flows.append(flow)
            tasks.append(asyncio.create_task(self.post(flow, body, headers)))
        await asyncio.gather(*tasks)
        await side
        return t0

    # --- the checker ----------------------------------------------------------------------
    async def settle(self, *, timeout: float, stall: float, notifications: bool) -> bool:
        """Until every flow is through and every state and notification final."""
        deadline = time.monotonic() + timeout
        last: Any = None
        moved = time.monotonic()
        while True:
            await self.actors.drain()
            report = await check(self, notifications)
            progress = (report["flows_through"], report["pending"])
            now = time.monotonic()
            if report["pending"] == 0:
                return True
            if progress != last:
                last, moved = progress, now
            if now > deadline or now - moved > stall:
                return False
            await asyncio.sleep(1.0)


async def drill_run(
    *,
    demandes: int,
    rate: float,
    departements: tuple[str, ...],
    seed: int,
    rounds: int = 1,
    only: tuple[str, ...] = (),
    notifications: bool | None = None,
    down: tuple[float, float] = (1.0, 3.0),
    settle_timeout: float = 180.0,
    log_level: str = "INFO",
    lease_seconds: float = DRILL_LEASE_SECONDS,
) -> dict[str, Any]:
    """Start a broker and a PostgreSQL server of the drill's own, a stack on them, warm it
    up, post ``demandes`` at ``rate`` while the drills run, settle, check; stop and delete
    the servers. Returns the report (``failures``: the non-zero counts)."""
    if notifications is None:
        notifications = notifications_available()
    rng = random.Random(seed)
    started = time.monotonic()
    result: dict[str, Any] = {
        "demandes": demandes,
        "rate_per_s": rate,
        "departements": list(departements),
        "seed": seed,
        "rounds": rounds,
        "only": list(only),
        "notifications": notifications,
        "notifications_lease_seconds": lease_seconds,
    }
    servers = OwnServers()
    run_dir = ROOT / ".local" / "stack" / f"drill-{servers.id}"
    servers.keep_logs = run_dir / "servers"
    result["run_dir"] = str(run_dir)
    try:
        async with servers:
            log(
                f"own broker and PostgreSQL up in {time.monotonic() - started:.1f} s: "
                f"{servers.describe()}"
            )
            options = StackOptions(
                notifications=notifications,
                departements=departements,
                log_level=log_level,
                extra_env=notification_lease_env(lease_seconds),
                run_dir=run_dir,
                admin_dsn=servers.admin_dsn,
                # The whole cluster is deleted with the servers.
                keep_databases=True,
            )
            async with Stack(options, servers.kafka) as stack:
                log(f"stack up in {time.monotonic() - started:.1f} s ({stack.run_dir})")
                await one_run(
                    stack,
                    servers,
                    result,
                    rng,
                    demandes,
                    rate,
                    rounds,
                    only,
                    down,
                    settle_timeout,
                    notifications,
                )
    finally:
        result["servers"] = servers.describe() | {
            "teardown_problems": servers.teardown_problems,
            "state_removed": servers.state_removed,
            "logs": str(servers.keep_logs),
        }
        result["total_seconds"] = round(time.monotonic() - started, 1)
    summary(result)
    with contextlib.suppress(OSError):
        (run_dir / "drill.json").write_text(
            json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n"
        )
    return result


async def one_run(
    stack: Stack,
    servers: OwnServers,
    result: dict[str, Any],
    rng: random.Random,
    demandes: int,
    rate: float,
    rounds: int,
    only: tuple[str, ...],
    down: tuple[float, float],
    settle_timeout: float,
    notifications: bool,
) -> None:
    run = DrillRun(stack, int(result["seed"]))
    supervisor = Supervisor(stack)
    await run.tap.start()
    supervisor.start()
    try:
        await run.warm_up()
        log("warm-up through for every département")
        duration = demandes / rate
        drills = plan_drills(drill_targets(stack.services, rounds, rng, only), duration, rng, down)
        log("plan: " + ", ".join(f"{d.target}@{d.at}s/{d.down}s" for d in drills))
        load_started = time.monotonic()
        supervisor.t0 = load_started
        await run.load(
            demandes, rate, lambda t0: run_drills(stack, servers, supervisor, drills, t0)
        )
        result["load_seconds"] = round(time.monotonic() - load_started, 1)
        log(f"{demandes} demandes posted in {result['load_seconds']} s; settling")
        settled = await run.settle(timeout=settle_timeout, stall=60.0, notifications=notifications)
        result["settled"] = settled
        result["settle_seconds"] = round(
            time.monotonic() - load_started - result["load_seconds"], 1
        )
        report = await check(run, notifications)
        report["services_exited_by_themselves"] = supervisor.exits
        report["dead_letter_records"] = await dead_letter_records(stack)
        result["drills"] = [
            {"target": d.target, "planned_at_s": d.at, "planned_down_s": d.down, **d.report}
            for d in drills
        ]
        result["restarts"] = {
            i.label: i.process.starts for group in stack.instances.values() for i in group
        }
        result["check"] = report
        result["zero_counts"] = verdict(report)
        result["failures"] = {k: v for k, v in result["zero_counts"].items() if v}
    finally:
        await supervisor.stop()
        await run.close()


def summary(result: dict[str, Any]) -> None:
    check = result.get("check") or {}
    topics = check.get("topics", {})
    log(
        f"checked: {check.get('demandes_accepted_by_api')} demandes, "
        f"{check.get('flows_through')} invoiced, settled={result.get('settled')} "
        f"in {result.get('settle_seconds')} s; keys lost {check.get('keys_lost')}, "
        f"duplicated {check.get('keys_duplicated')}, reordered {check.get('keys_reordered')}; "
        f"copies same ce_id {topics.get('copies_same_ce_id_by_stage')}; "
        f"notifications {check.get('notifications', {}).get('expected')} expected, "
        f"lost {check.get('notifications', {}).get('lost')}; "
        f"clients {check.get('clients')}; failures {result.get('failures') or 'none'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--demandes", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=8.0, help="demandes per second")
    parser.add_argument("--departements", default="49,35,24,44,29,56")
    parser.add_argument("--rounds", type=int, default=3, help="times each target is killed")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--down-min", type=float, default=1.0)
    parser.add_argument("--down-max", type=float, default=3.0)
    parser.add_argument("--settle-timeout", type=float, default=900.0)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--lease-seconds", type=float, default=DRILL_LEASE_SECONDS)
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated subset of the targets (requests, matching, billing, "
        "notifications, kafka, postgres), to replay one kind of drill; default: all",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    # A SIGTERM (a CI timeout) unwinds like Ctrl-C: the drill's servers are stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    load_before = os.getloadavg()
    result = asyncio.run(
        drill_run(
            demandes=args.demandes,
            rate=args.rate,
            departements=tuple(args.departements.split(",")),
            seed=args.seed,
            rounds=args.rounds,
            only=tuple(t for t in args.only.split(",") if t),
            down=(args.down_min, args.down_max),
            settle_timeout=args.settle_timeout,
            log_level=args.log_level,
            lease_seconds=args.lease_seconds,
        )
    )
    document = {**header("tests.perf.drill", args, load_before), "drill": result}
    write(args.out, document, indent=1)
    check = result["check"]
    log(
        f"{check['demandes_accepted_by_api']} demandes, {check['flows_through']} invoiced; "
        f"{len(result['drills'])} drills; failures: {result['failures'] or 'none'}"
    )
    log(f"written to {args.out}")
    raise SystemExit(1 if result["failures"] or not result["settled"] else 0)


if __name__ == "__main__":
    main()
