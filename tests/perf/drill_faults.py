"""The failure drills' moving parts: clients that retry as real ones do, a tap that
keeps event positions, the drills (what is killed when, for how long), the supervisor
that restarts a service that exits by itself, and the drills' log."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from stack.harness.flows import (
    ActorDriver,
    EventTap,
)
from stack.harness.servers import SERVERS, OwnServers
from stack.harness.stack import Instance, Stack
from tests.perf.result_file import log

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

    async def _post_to(
        self,
        client: Callable[[], httpx.AsyncClient],
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
    ) -> int:
        deadline = time.monotonic() + self.patience
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await client().post(path, json=body, headers=headers)
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
