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

The checker then compares what was submitted with what ended:

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
import itertools
import json
import os
import random
import signal
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.contracts.topics import all_topic_names
from stack.harness.flows import (
    ActorDriver,
    Demandes,
    EventTap,
    Flow,
    Sighting,
    until_settled,
    warm_up,
)
from stack.harness.process import ROOT
from stack.harness.servers import SERVERS, OwnServers
from stack.harness.stack import Instance, Stack, StackOptions, plain_dsn
from tests.perf.result_file import header, write

RESULTS = Path(__file__).resolve().parent / "results" / "drill.json"
STAGES = ("submitted", "proposed", "accepted", "completed", "invoiced")
# The requester's message for each stage's event (services/notifications/domain/rules.py).
REQUESTER_KIND = {
    "submitted": "demande_recue",
    "proposed": "acteur_propose",
    "accepted": "mission_acceptee",
    "completed": "mission_terminee",
    "invoiced": "facture_emise",
}
MESSAGE_ID_DOMAIN = "matiere-grise.local"
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
    }


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def notifications_available() -> bool:
    try:
        from services.notifications.entrypoints import consumers
    except ImportError:
        return False
    return bool(getattr(consumers, "CONSUMED_TOPICS", ()))


# --- patient clients ----------------------------------------------------------------------


class PatientActors(ActorDriver):
    """The actors of the harness, retrying while matching is down (a real actor presses
    the button again). A 409 on a retry means the earlier attempt went through and only
    its answer was lost: it counts as done (and is counted)."""

    def __init__(self, *args: Any, patience: float = 180.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patience = patience
        self.retries = 0
        self.retried_statuses: Counter[int] = Counter()  # 0: no answer (connection refused...)
        self.conflicts_after_retry = 0

    async def _post(self, path: str, body: dict[str, Any] | None, headers: dict[str, str]) -> int:
        deadline = time.monotonic() + self.patience
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._client().post(path, json=body, headers=headers)
                status = response.status_code
            except (httpx.TransportError, RuntimeError) as exc:
                status, text = 0, repr(exc)
            else:
                text = response.text[:200]
            if (status == 0 or status >= 500) and time.monotonic() < deadline:
                self.retries += 1
                self.retried_statuses[status] += 1
                await asyncio.sleep(0.5)
                continue
            if status == 409 and attempt > 1:
                self.conflicts_after_retry += 1
                return 200
            if status == 0 or status >= 400:
                self.errors.append(f"{path}: {status} {text}")
            return status


class DrillTap(EventTap):
    """The harness's tap, also keeping where each event was first read (topic, partition,
    offset), to check the order of a flow's events within a partition."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.positions: dict[str, tuple[str, int, int]] = {}

    def _file(self, record: Any, now: float) -> None:
        super()._file(record, now)
        ce_id = dict(record.headers or ()).get("ce_id", b"").decode("ascii", "replace")
        if ce_id:
            self.positions.setdefault(ce_id, (record.topic, record.partition, record.offset))


# --- drills ----------------------------------------------------------------------------------


@dataclass
class Drill:
    target: str  # a service name, "kafka" or "postgres"
    at: float  # seconds after the start of the load
    down: float  # seconds between the kill and the restart
    report: dict[str, Any] = field(default_factory=dict)


def plan_drills(
    targets: list[str], duration: float, rng: random.Random, down: tuple[float, float]
) -> list[Drill]:
    """One drill per target, one after the other: the load's duration is cut into equal
    slots, each target is killed at a random moment of the first 60 % of its slot."""
    slot = duration / max(1, len(targets))
    return [
        Drill(
            target, round(i * slot + rng.uniform(0.1, 0.6) * slot, 2), round(rng.uniform(*down), 2)
        )
        for i, target in enumerate(targets)
    ]


class Supervisor:
    """Restarts a service process that exited on its own, as systemd or Kubernetes would,
    and records it: a service that dies with its broker or its database is a finding.

    The instances a drill killed on purpose are held (:meth:`hold`) and left to the drill."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.t0 = time.monotonic()
        self.current: str | None = None  # the target of the drill in progress
        self.exits: list[dict[str, Any]] = []
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="drill-supervisor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.asynccontextmanager
    async def hold(self, label: str) -> AsyncIterator[None]:
        async with self._locks[label]:
            yield

    async def _watch(self) -> None:
        while True:
            for service, instances in self.stack.instances.items():
                for instance in instances:
                    lock = self._locks[instance.label]
                    if instance.process.running or lock.locked():
                        continue
                    async with lock:
                        await self._revive(service, instance)
            await asyncio.sleep(0.5)

    async def _revive(self, service: str, instance: Instance) -> None:
        process = instance.process.process
        record: dict[str, Any] = {
            "instance": instance.label,
            "exit_code": process.returncode if process is not None else None,
            "at_s": round(time.monotonic() - self.t0, 2),
            "during_drill_of": self.current,
            "log_tail": instance.process.log_tail(12)[-3000:],
            "restart_attempts": 0,
        }
        self.exits.append(record)
        log(
            f"supervisor: {instance.label} exited by itself (code {record['exit_code']}) at "
            f"t+{record['at_s']} s, during the drill of {self.current}; restarting it"
        )
        instance.ready = False
        started = time.monotonic()
        while True:
            record["restart_attempts"] += 1
            try:
                if not instance.process.running:
                    await instance.process.start()
                await instance.process.wait_ready(timeout=self.stack.options.ready_timeout)
            except (RuntimeError, TimeoutError) as exc:
                record["last_restart_error"] = str(exc)[:300]
                await asyncio.sleep(1.0)
                continue
            instance.ready = True
            record["back_after_s"] = round(time.monotonic() - started, 2)
            return


async def wait_services_ready(stack: Stack, timeout: float = 180.0) -> float:
    """Seconds until every running instance answers ``/health/ready`` (database and broker
    reachable again)."""
    started = time.monotonic()
    for instances in stack.instances.values():
        for instance in instances:
            left = max(1.0, timeout - (time.monotonic() - started))
            with contextlib.suppress(RuntimeError):
                # An instance that exits meanwhile is the supervisor's.
                await instance.process.wait_ready(timeout=left)
    return round(time.monotonic() - started, 2)


async def execute(
    stack: Stack, servers: OwnServers, supervisor: Supervisor, drill: Drill, t0: float
) -> None:
    await asyncio.sleep(max(0.0, t0 + drill.at - time.monotonic()))
    started = time.monotonic()
    drill.report["killed_at_s"] = round(started - t0, 2)
    supervisor.current = drill.target
    exits_before = len(supervisor.exits)
    if drill.target in stack.services:
        async with supervisor.hold(stack.instance(drill.target).label):
            pid = stack.instance(drill.target).process.pid
            await stack.kill(drill.target)
            drill.report["pid"] = pid
            log(f"drill: kill -9 {drill.target} (pid {pid}) at t+{drill.report['killed_at_s']} s")
            await asyncio.sleep(drill.down)
            restart = time.monotonic()
            await stack.restart(drill.target)
            drill.report["restart_to_ready_s"] = round(time.monotonic() - restart, 2)
    else:
        await servers.kill9(drill.target)
        log(f"drill: kill -9 {drill.target} at t+{drill.report['killed_at_s']} s")
        await asyncio.sleep(drill.down)
        restart = time.monotonic()
        drill.report["server_ready_in_s"] = await servers.start(drill.target)
        drill.report["restart_to_ready_s"] = round(time.monotonic() - restart, 2)
        drill.report["services_ready_again_after_s"] = await wait_services_ready(stack)
    drill.report["down_s"] = round(time.monotonic() - started, 2)
    drill.report["services_that_exited"] = [e["instance"] for e in supervisor.exits[exits_before:]]
    supervisor.current = None
    log(f"drill: {drill.target} back after {drill.report['down_s']} s")


async def run_drills(
    stack: Stack, servers: OwnServers, supervisor: Supervisor, drills: list[Drill], t0: float
) -> None:
    for drill in drills:
        await execute(stack, servers, supervisor, drill, t0)


# --- the run ---------------------------------------------------------------------------------


class DrillRun:
    def __init__(self, stack: Stack, seed: int, patience: float = 180.0) -> None:
        self.stack = stack
        self.patience = patience
        self.actors = PatientActors(lambda: stack.client("matching"), patience=patience)
        self.tap = DrillTap(stack.kafka, stack.actor_ids.values(), self.actors.on_proposed)
        self.demandes = Demandes(stack.options.departements, seed)
        self.flows: list[Flow] = []
        self.warm: list[Flow] = []
        self.submit_retries = 0
        self.submit_retried_statuses: Counter[int] = Counter()
        self.our_invoices: set[str] = set()
        self.foreign_invoices: set[str] = set()
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

    async def submit(self, flow: Flow, body: dict[str, Any], headers: dict[str, str]) -> None:
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

    def new_flow(
        self, departement: str | None = None
    ) -> tuple[Flow, dict[str, Any], dict[str, str]]:
        flow, body, headers = self.demandes.next(departement)
        self.tap.expect(flow)
        return flow, body, headers

    # --- progress -------------------------------------------------------------------------
    async def classify_invoices(self) -> None:
        """Invoices on the topic that our billing database holds are ours; others come
        from other billing services on a shared broker."""
        unknown = {
            s.ref
            for f in self.tap.flows.values()
            for s in f.seen.get("invoiced", ())
            if s.ref not in self.our_invoices and s.ref not in self.foreign_invoices
        }
        if not unknown:
            return
        rows = await self.query(
            "billing", "SELECT id FROM invoices WHERE id = ANY($1::uuid[])", sorted(unknown)
        )
        ours = {str(r["id"]) for r in rows}
        self.our_invoices |= ours
        # Published after the commit: an invoice not in our database is not ours.
        self.foreign_invoices |= unknown - ours

    def sightings(self, flow: Flow, stage: str) -> list[Sighting]:
        found = flow.seen.get(stage, [])
        if stage == "invoiced":
            return [s for s in found if s.ref in self.our_invoices]
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
        """One flow per département until each got through (groups read from ``latest``)."""

        async def start(departement: str) -> Flow:
            flow, body, headers = self.new_flow(departement)
            flow.scheduled_at = time.time()
            await self.submit(flow, body, headers)
            return flow

        self.warm += await warm_up(
            self.stack.options.departements,
            start,
            lambda flows: self.until_through(flows, timeout=20.0, stall=20.0),
            self.through,
            log,
        )

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
            tasks.append(asyncio.create_task(self.submit(flow, body, headers)))
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
            report = await self.check(notifications)
            progress = (report["flows_through"], report["pending"])
            now = time.monotonic()
            if report["pending"] == 0:
                return True
            if progress != last:
                last, moved = progress, now
            if now > deadline or now - moved > stall:
                return False
            await asyncio.sleep(1.0)

    async def check(self, notifications: bool) -> dict[str, Any]:
        await self.classify_invoices()
        flows = [f for f in self.flows if f.http_status in (200, 201)]
        ids = [f.request_id for f in flows]
        out: dict[str, Any] = {
            "demandes_offered": len(self.flows),
            "demandes_refused_by_api": dict(
                Counter(str(f.http_status) for f in self.flows if f.http_status not in (200, 201))
            ),
            "demandes_accepted_by_api": len(flows),
            "per_departement": dict(Counter(f.departement for f in flows)),
            "flows_through": sum(1 for f in flows if self.through(f)),
        }

        # On the topics, per request_id.
        lost: Counter[str] = Counter()
        duplicated: Counter[str] = Counter()
        copies: Counter[str] = Counter()
        reordered: list[str] = []
        ties = 0
        bad: dict[str, set[str]] = defaultdict(set)
        for f in flows:
            firsts = []
            for stage in STAGES:
                seen = self.sightings(f, stage)
                if not seen:
                    lost[stage] += 1
                    bad["lost"].add(f.request_id)
                    continue
                distinct_ids = {s.ce_id for s in seen}
                distinct_refs = {s.ref for s in seen}
                extra = max(len(distinct_ids), len(distinct_refs)) - 1
                if extra:
                    duplicated[stage] += extra
                    bad["duplicated"].add(f.request_id)
                copies[stage] += len(seen) - len(distinct_ids)
                firsts.append((stage, min(seen, key=lambda s: s.at)))
            for (_, a), (_, b) in itertools.pairwise(firsts):
                pa, pb = self.tap.positions.get(a.ce_id), self.tap.positions.get(b.ce_id)
                same_partition = pa and pb and pa[:2] == pb[:2]
                if b.at < a.at or (same_partition and pb[2] < pa[2]):  # type: ignore[index]
                    reordered.append(f.request_id)
                    break
                ties += b.at == a.at
        out["topics"] = {
            "lost_by_stage": {s: lost[s] for s in STAGES},
            "duplicated_after_dedup_by_stage": {s: duplicated[s] for s in STAGES},
            "reordered": len(reordered),
            "equal_timestamps_between_stages": ties,
            "copies_same_ce_id_by_stage": {s: copies[s] for s in STAGES},
            "unmatched_seen": sum(1 for f in flows if f.seen.get("unmatched")),
            "invoices_of_other_billing_services": sum(
                1
                for f in flows
                for s in f.seen.get("invoiced", ())
                if s.ref in self.foreign_invoices
            ),
            "records_of_others_read": self.tap.foreign_records,
            "examples": {k: sorted(v)[:10] for k, v in bad.items()} | {"reordered": reordered[:10]},
        }
        out["keys_lost"] = len(bad["lost"])
        out["keys_duplicated"] = len(bad["duplicated"])
        out["keys_reordered"] = len(reordered)

        # ``unmatched`` for one of our demandes: ours (in our matching's outbox) or from
        # another matching service reading the same shared topic (another engineer's stack).
        unmatched = {s.ce_id: f.request_id for f in flows for s in f.seen.get("unmatched", ())}
        ours_unmatched: set[str] = set()
        if unmatched:
            rows = await self.query(
                "matching",
                "SELECT event_id FROM outbox WHERE event_id = ANY($1::text[])",
                sorted(unmatched),
            )
            ours_unmatched = {str(r["event_id"]) for r in rows}
        foreign_unmatched = {rid for ce, rid in unmatched.items() if ce not in ours_unmatched}
        out["topics"]["unmatched_by_our_matching"] = len(ours_unmatched)
        out["topics"]["unmatched_by_other_matching_services"] = len(foreign_unmatched)

        # In the databases.
        stuck = await self.query(
            "requests",
            "SELECT id FROM demandes WHERE id = ANY($1::uuid[]) AND status = 'unmatched'",
            ids,
        )
        overwritten = {str(r["id"]) for r in stuck} & foreign_unmatched
        out["requests_db_unmatched_by_foreign_event"] = len(overwritten)
        requests_status = await self.query(
            "requests",
            "SELECT status, count(*) AS n FROM demandes WHERE id = ANY($1::uuid[]) GROUP BY status",
            ids,
        )
        out["requests_db_status"] = {r["status"]: int(r["n"]) for r in requests_status}
        matching = await self.query(
            "matching",
            "SELECT request_id, id, status FROM assignments WHERE request_id = ANY($1::uuid[])",
            ids,
        )
        per_request = Counter(str(r["request_id"]) for r in matching)
        completed_missions = {str(r["id"]) for r in matching if r["status"] == "completed"}
        out["matching_db"] = {
            "assignments_status": dict(Counter(r["status"] for r in matching)),
            "demandes_without_assignment": len(set(ids) - set(per_request)),
            "demandes_with_several_assignments": sum(1 for n in per_request.values() if n > 1),
        }
        invoices = await self.query(
            "billing",
            "SELECT assignment_id, count(*) AS n FROM invoices "
            "WHERE request_id = ANY($1::uuid[]) AND invoice_kind = 'mission' "
            "AND document_kind = 'invoice' GROUP BY assignment_id",
            ids,
        )
        invoiced = {str(r["assignment_id"]): int(r["n"]) for r in invoices}
        out["billing_db"] = {
            "completed_missions": len(completed_missions),
            "completed_missions_not_invoiced": len(completed_missions - set(invoiced)),
            "missions_invoiced_more_than_once": sum(1 for n in invoiced.values() if n > 1),
            "invoices_of_missions_not_completed": len(set(invoiced) - completed_missions),
            "numbering": await self.numbering(),
        }
        gaps = sum(v["gaps"] for v in out["billing_db"]["numbering"].values())
        counter_mismatch = sum(
            1 for v in out["billing_db"]["numbering"].values() if v["counter"] != v["max"]
        )
        out["billing_db"]["numbering_gaps"] = gaps
        out["billing_db"]["counters_not_at_max"] = counter_mismatch

        # Every event of the drill is valid: none may end on a dead-letter topic (an outage
        # taken for the event's fault would lose it).
        dead: dict[str, dict[str, int]] = {}
        for service in self.stack.services:
            rows = await self.query(
                service,
                "SELECT event_type, count(*) AS n FROM processed_events "
                "WHERE outcome = 'dead_lettered' GROUP BY event_type",
            )
            if rows:
                dead[service] = {r["event_type"]: int(r["n"]) for r in rows}
        out["dead_lettered"] = dead

        pending = (
            out["keys_lost"]
            + (
                len(flows)
                - out["requests_db_status"].get("completed", 0)
                - out["requests_db_unmatched_by_foreign_event"]
            )
            + (len(flows) - out["matching_db"]["assignments_status"].get("completed", 0))
            + out["billing_db"]["completed_missions_not_invoiced"]
        )
        if notifications:
            out["notifications"] = await self.notifications(flows)
            pending += out["notifications"]["lost"]
        out["pending"] = pending
        out["clients"] = {
            "submit_retries": self.submit_retries,
            # Answers that made a client retry: 0 (no answer: the service is down), 503
            # (its database or broker is, Retry-After) are expected; 500 is not.
            "submit_retried_statuses": dict(sorted(self.submit_retried_statuses.items())),
            "actor_retried_statuses": dict(sorted(self.actors.retried_statuses.items())),
            "actor_retries": self.actors.retries,
            "actor_409_after_retry_counted_done": self.actors.conflicts_after_retry,
            "actor_errors": len(self.actors.errors),
            "actor_error_examples": self.actors.errors[:5],
        }
        return out

    async def numbering(self) -> dict[str, dict[str, int]]:
        """Every (département, year) of our billing database: 1..max, no gap, the counter
        at max (all of its invoices, ours or not: gaplessness is the database's)."""
        rows = await self.query(
            "billing",
            "SELECT i.departement, i.year, count(*) AS n, min(sequence) AS lo, "
            "max(sequence) AS hi, "
            "count(DISTINCT sequence) AS distinct_n, max(c.last_number) AS counter "
            "FROM invoices i LEFT JOIN invoice_counters c USING (departement, year) "
            "GROUP BY i.departement, i.year ORDER BY 1, 2",
        )
        return {
            f"{r['departement']}/{r['year']}": {
                "invoices": int(r["n"]),
                "min": int(r["lo"]),
                "max": int(r["hi"]),
                "counter": int(r["counter"] or 0),
                "gaps": int(r["hi"]) - int(r["distinct_n"]) + (int(r["lo"]) - 1),
                "duplicate_numbers": int(r["n"]) - int(r["distinct_n"]),
            }
            for r in rows
        }

    async def notifications(self, flows: list[Flow]) -> dict[str, Any]:
        """For each event of each flow, the requester's message: a delivery row ``sent``,
        and that Message-ID received by the SMTP sink."""
        expected: dict[tuple[str, str], str] = {}  # (source ce_id, kind) -> request id
        for f in flows:
            for stage, kind in REQUESTER_KIND.items():
                first = self.first(f, stage)
                if first is not None:
                    expected[(first.ce_id, kind)] = f.request_id
        rows = await self.query(
            "notifications",
            "SELECT id, source_event_id, kind, recipient_role, status, reason FROM deliveries "
            "WHERE channel = 'email' AND source_event_id = ANY($1::text[])",
            sorted({k[0] for k in expected}),
        )
        by_key: dict[tuple[str, str], list[asyncpg.Record]] = defaultdict(list)
        for r in rows:
            by_key[(r["source_event_id"], r["kind"])].append(r)
        mail = self.stack.mail
        arrived = mail.arrived if mail is not None else {}
        lost = 0
        not_arrived = 0
        duplicated = 0
        statuses: Counter[str] = Counter()
        examples: list[dict[str, Any]] = []
        for key, request_id in expected.items():
            found = by_key.get(key, [])
            sent = [r for r in found if r["status"] == "sent"]
            for r in found:
                statuses[f"{key[1]}:{r['status']}"] += 1
            if not sent:
                lost += 1
                if len(examples) < 10:
                    examples.append(
                        {
                            "request_id": request_id,
                            "kind": key[1],
                            "rows": [{"status": r["status"], "reason": r["reason"]} for r in found],
                        }
                    )
                continue
            duplicated += len(sent) - 1
            not_arrived += sum(1 for r in sent if f"<{r['id']}@{MESSAGE_ID_DOMAIN}>" not in arrived)
        return {
            "expected": len(expected),
            "lost": lost + not_arrived,
            "not_sent": lost,
            "sent_but_not_received_by_smtp": not_arrived,
            "duplicated_after_dedup": duplicated,
            "statuses": dict(sorted(statuses.items())),
            "smtp_messages_received": mail.count if mail else 0,
            "smtp_copies_same_message_id": (mail.count - len(mail.arrived)) if mail else 0,
            "examples": examples,
        }


def verdict(report: dict[str, Any]) -> dict[str, int]:
    """The counts that must all be 0."""
    checks = {
        "demandes_refused_by_api": sum(report["demandes_refused_by_api"].values()),
        "keys_lost": report["keys_lost"],
        "keys_duplicated": report["keys_duplicated"],
        "keys_reordered": report["keys_reordered"],
        # A demande that another stack's matching service declared unmatched on the shared
        # topic is reported apart (``requests_db_unmatched_by_foreign_event``): with a
        # broker of its own (CI) there is none.
        "demandes_not_completed_in_requests_db": report["demandes_accepted_by_api"]
        - report["requests_db_status"].get("completed", 0)
        - report["requests_db_unmatched_by_foreign_event"],
        "missions_not_completed_in_matching_db": report["demandes_accepted_by_api"]
        - report["matching_db"]["assignments_status"].get("completed", 0),
        "demandes_with_several_assignments": report["matching_db"][
            "demandes_with_several_assignments"
        ],
        "completed_missions_not_invoiced": report["billing_db"]["completed_missions_not_invoiced"],
        "missions_invoiced_more_than_once": report["billing_db"][
            "missions_invoiced_more_than_once"
        ],
        "invoice_numbering_gaps": report["billing_db"]["numbering_gaps"],
        "invoice_counters_not_at_max": report["billing_db"]["counters_not_at_max"],
        "actor_errors": report["clients"]["actor_errors"],
        # While a service, its database or its broker is down a client may see no answer,
        # or 503 with Retry-After; a 500 is a server error the outage should not cause.
        "http_server_errors_other_than_503": sum(
            n
            for statuses in (
                report["clients"]["submit_retried_statuses"],
                report["clients"]["actor_retried_statuses"],
            )
            for status, n in statuses.items()
            if int(status) >= 500 and int(status) != 503
        ),
        "events_dead_lettered": sum(
            n for by_type in report.get("dead_lettered", {}).values() for n in by_type.values()
        ),
        "dead_letter_records": sum(report.get("dead_letter_records", {}).values()),
        # A service must ride out an outage of its broker or database, not exit.
        "services_exited_by_themselves": len(report.get("services_exited_by_themselves", ())),
    }
    if "notifications" in report:
        checks["notifications_lost"] = report["notifications"]["lost"]
        checks["notifications_duplicated_after_dedup"] = report["notifications"][
            "duplicated_after_dedup"
        ]
    return checks


# --- one drill run ----------------------------------------------------------------------------


async def dead_letter_records(stack: Stack) -> dict[str, int]:
    """Records on each dead-letter topic (the broker is the drill's own: all are ours)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka.bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(
            [t for t in all_topic_names() if t.endswith(".dlq")]
        )
    finally:
        await admin.close()
    partitions = [
        TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka.bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        begins = await consumer.beginning_offsets(partitions)
    finally:
        await consumer.stop()
    found: Counter[str] = Counter()
    for tp in partitions:
        found[tp.topic] += ends[tp] - begins[tp]
    return {topic: n for topic, n in sorted(found.items()) if n}


def drill_targets(
    services: tuple[str, ...], rounds: int, rng: random.Random, only: tuple[str, ...] = ()
) -> list[str]:
    """Every service, the broker and PostgreSQL (``only``: a subset), in a random (seeded)
    order in each of ``rounds`` rounds: which kill follows which varies from seed to seed."""
    every = [*services, *SERVERS]
    unknown = set(only) - set(every)
    if unknown:
        raise ValueError(f"unknown drill targets {sorted(unknown)}; known: {every}")
    targets: list[str] = []
    for _ in range(rounds):
        this_round = [t for t in every if not only or t in only]
        rng.shuffle(this_round)
        targets += this_round
    return targets


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
        report = await run.check(notifications)
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
