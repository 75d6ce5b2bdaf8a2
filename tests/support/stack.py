"""The whole product as real OS processes, for benchmarks and failure drills.

    async with Stack(StackOptions(instances=2, notifications=True)) as stack:
        ...  # stack.url("requests"), stack.kill("matching", 0), stack.add_instance("billing")

Each service runs as ``python -m services.<name>.entrypoints.main`` (a
:class:`~tests.support.service_process.ServiceProcess`) on a database of its own
created for this stack on the PostgreSQL server of the tests (``MG_TEST_PG_ADMIN_DSN``),
on free HTTP ports, with consumer groups of its own (``<service>-stack-<run id>``,
offset reset ``latest``: what others left on the shared topics is none of its
business). ``instances`` processes per service share the database and the groups,
as production instances do.

Around them:

- a synthetic actor catalogue, one actor per département covering every theme and
  phase with a capacity nobody reaches, so that every demande gets one proposal;
- :class:`EventTap`: one consumer over the product's topics (every partition, from
  their end) that timestamps each flow's events per ``request_id``;
- :class:`ActorDriver`: for each proposal made to one of our actors, accepts and then
  completes it over HTTP with that actor's token, as the actor would;
- :class:`MailClock`: a minimal SMTP server (aiosmtpd) that records when each message
  arrives, when the notifications service is part of the stack;
- :class:`ResourceSampler`: CPU seconds and peak RSS of every service process (psutil),
  plus the CPU of the PostgreSQL backends serving each service's database.

The Kafka topics are shared with whatever else runs on the broker: every record is
filtered by our own request ids and actor ids, never assumed to be ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import asyncpg
import httpx
import psutil
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.protocol.admin import (
    DescribeGroupsRequest_v0,
    DescribeGroupsRequest_v1,
    DescribeGroupsRequest_v2,
)
from aiokafka.protocol.api import Request
from aiokafka.structs import ConsumerRecord

from shared.auth.tokens import Role, mint
from shared.contracts.topics import (
    BILLING_INVOICE,
    DEFAULT_PARTITIONS,
    MATCHING_ASSIGNMENT,
    NOTIFICATIONS_DELIVERY,
    REQUESTS_REQUEST,
    TOPICS,
    consumer_group,
)
from shared.contracts.vocabulary import Phase, Theme
from shared.messaging.admin import ensure_topics
from shared.settings import AuthSettings, KafkaSettings
from tests.support.kafka_tap import Follower
from tests.support.service_process import PYTHON, ROOT, ServiceProcess, free_port

PG_ADMIN_DSN = os.environ.get(
    "MG_TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5433/postgres"
)
CORE_SERVICES = ("requests", "matching", "billing")
DEFAULT_DEPARTEMENTS = ("49", "35", "24", "44", "29", "56")

# Event types the tap follows, and the stage of a flow each one marks.
SUBMITTED = "requests.request.submitted.v1"
PROPOSED = "matching.assignment.proposed.v1"
ACCEPTED = "matching.assignment.accepted.v1"
COMPLETED = "matching.assignment.completed.v1"
UNMATCHED = "matching.request.unmatched.v1"
INVOICED = "billing.invoice.issued.v1"
DELIVERED = "notifications.delivery.sent.v1"
STAGE_OF = {
    SUBMITTED: "submitted",
    PROPOSED: "proposed",
    ACCEPTED: "accepted",
    COMPLETED: "completed",
    UNMATCHED: "unmatched",
    INVOICED: "invoiced",
}


def consumed_topics(service: str) -> tuple[str, ...]:
    """The topics a service subscribes to, from the declared topics."""
    return tuple(t.name for t in TOPICS if service in t.consumers)


def group_ids(service: str, service_group: str) -> dict[str, str]:
    """topic -> Kafka group id, as ``shared.messaging.consumer.subscribe`` names them."""
    return {topic: consumer_group(service_group, topic) for topic in consumed_topics(service)}


def partition_of(key: str, partitions: int = DEFAULT_PARTITIONS) -> int:
    """The partition the producers' default partitioner gives ``key`` (murmur2)."""
    every = list(range(partitions))
    return int(DefaultPartitioner()(key.encode(), every, every))


def synthetic_catalogue(departement: str, actor_id: str) -> dict[str, Any]:
    """One actor who covers every need of the département, and is never full."""
    return {
        "departement": departement,
        "actors": [
            {
                "id": actor_id,
                "name": f"Agence d'ingénierie de banc d'essai ({departement})",
                "kind": "atd",
                "themes": {theme.value: 3 for theme in Theme},
                "phases": [phase.value for phase in Phase],
                "territory": {"departements": [departement]},
                "capacity": 10_000_000,
            }
        ],
    }


def plain_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


# --- processes -----------------------------------------------------------------------


PROFILE_WRAPPER = """
import cProfile, os, runpy, signal, sys
profile = cProfile.Profile()

def dump(*_):
    profile.disable()
    profile.dump_stats(sys.argv[1])
    os._exit(0)

# uvicorn restores this handler after its graceful shutdown and raises SIGTERM again.
signal.signal(signal.SIGTERM, dump)
profile.enable()
try:
    runpy.run_module(sys.argv[2], run_name="__main__", alter_sys=True)
finally:
    dump()
"""


class ProfiledServiceProcess(ServiceProcess):
    """The same process under ``cProfile``; the profile is written at a graceful stop
    (SIGTERM), after uvicorn's own shutdown, to ``profile_path``."""

    def __init__(self, *args: Any, profile_path: Path, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.profile_path = profile_path

    async def start(self) -> None:
        assert not self.running, "already running"
        python = str(PYTHON) if PYTHON.exists() else sys.executable
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts} (cProfile) =====\n".encode())
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                python,
                "-c",
                PROFILE_WRAPPER,
                str(self.profile_path),
                self.module,
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )


@dataclass
class Instance:
    service: str
    index: int
    instance_id: str
    process: ServiceProcess
    ready: bool = False

    @property
    def label(self) -> str:
        return f"{self.service}#{self.index}"

    @property
    def url(self) -> str:
        return self.process.base_url


@dataclass
class StackOptions:
    instances: int = 1
    notifications: bool = False
    departements: tuple[str, ...] = DEFAULT_DEPARTEMENTS
    run_dir: Path | None = None
    log_level: str = "WARNING"
    # The relay is woken by NOTIFY at commit; the poll is only its safety net.
    outbox_poll_seconds: float = 1.0
    keep_databases: bool = False
    profile: bool = False
    extra_env: Mapping[str, str] = field(default_factory=dict)
    admin_dsn: str = PG_ADMIN_DSN
    ready_timeout: float = 90.0


class Stack:
    def __init__(self, options: StackOptions | None = None, kafka: KafkaSettings | None = None):
        self.options = options or StackOptions()
        self.kafka = kafka or KafkaSettings()
        self.run_id = uuid.uuid4().hex[:8]
        self.run_dir = self.options.run_dir or ROOT / ".local" / "stack" / self.run_id
        self.services: tuple[str, ...] = CORE_SERVICES + (
            ("notifications",) if self.options.notifications else ()
        )
        self.instances: dict[str, list[Instance]] = {s: [] for s in self.services}
        self.database_urls: dict[str, str] = {}
        self.consumer_groups = {s: f"{s}-stack-{self.run_id}" for s in self.services}
        self.actor_ids = {d: f"stack-{self.run_id}-{d}" for d in self.options.departements}
        self.sampler = ResourceSampler()
        self.mail: MailClock | None = None
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._next: dict[str, int] = defaultdict(int)
        self._sampler_task: asyncio.Task[None] | None = None

    # --- life -----------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        await ensure_topics(self.kafka)
        for service in self.services:
            self.database_urls[service] = await self._create_database(service)
        if self.options.notifications:
            self.mail = MailClock()
            self.mail.start()
        spawned = [
            await self._spawn(service, index)
            for service in self.services
            for index in range(self.options.instances)
        ]
        await asyncio.gather(
            *(i.process.wait_ready(timeout=self.options.ready_timeout) for i in spawned)
        )
        for instance in spawned:
            instance.ready = True
        self.sampler.watch_process("driver", os.getpid())
        kafka_pid = find_kafka_pid()
        if kafka_pid is not None:
            self.sampler.watch_process("kafka (shared broker)", kafka_pid)
        for service, url in self.database_urls.items():
            self.sampler.watch_database(f"postgres[{service}]", url.rsplit("/", 1)[1])
        self._sampler_task = asyncio.create_task(self.sampler.run(), name="stack-sampler")
        await self.load_catalogues()
        await self.wait_groups()

    async def stop(self) -> None:
        if self._sampler_task is not None:
            self._sampler_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler_task
            self._sampler_task = None
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        await asyncio.gather(
            *(i.process.stop(timeout=30.0) for group in self.instances.values() for i in group),
            return_exceptions=True,
        )
        self.sampler.sample()
        if self.mail is not None:
            self.mail.stop()
        if not self.options.keep_databases and self.database_urls:
            conn = await asyncpg.connect(self.options.admin_dsn)
            try:
                for url in self.database_urls.values():
                    name = url.rsplit("/", 1)[1]
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()
            self.database_urls.clear()

    async def _create_database(self, service: str) -> str:
        name = f"stack_{service}_{self.run_id}"
        conn = await asyncpg.connect(self.options.admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        base = self.options.admin_dsn.rsplit("/", 1)[0]
        return f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"

    def _env(self, service: str, instance_id: str, port: int) -> dict[str, str]:
        prefix = f"MG_{service.upper()}_"
        env = {
            f"{prefix}DATABASE_URL": self.database_urls[service],
            f"{prefix}HTTP_PORT": str(port),
            f"{prefix}CONSUMER_GROUP": self.consumer_groups[service],
            f"{prefix}CONSUMER_OFFSET_RESET": "latest",
            f"{prefix}INSTANCE_ID": instance_id,
            f"{prefix}LOG_LEVEL": self.options.log_level,
            f"{prefix}OUTBOX_POLL_SECONDS": str(self.options.outbox_poll_seconds),
            "MG_KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
        }
        if service == "notifications" and self.mail is not None:
            env |= {
                "MG_NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
                "MG_NOTIFICATIONS_SMTP_PORT": str(self.mail.port),
            }
        return env | dict(self.options.extra_env)

    async def _spawn(self, service: str, index: int) -> Instance:
        instance_id = f"{service}-{self.run_id}-{index}"
        port = free_port()
        env = self._env(service, instance_id, port)
        module = f"services.{service}.entrypoints.main"
        log_path = self.run_dir / f"{service}-{index}.log"
        process: ServiceProcess
        if self.options.profile:
            process = ProfiledServiceProcess(
                module,
                env=env,
                port=port,
                log_path=log_path,
                profile_path=self.run_dir / f"{service}-{index}.prof",
            )
        else:
            process = ServiceProcess(module, env=env, port=port, log_path=log_path)
        instance = Instance(service, index, instance_id, process)
        await process.start()
        self.instances[service].append(instance)
        self.sampler.watch_process(instance.label, process.pid)
        return instance

    # --- drills ---------------------------------------------------------------------
    def instance(self, service: str, index: int = 0) -> Instance:
        return self.instances[service][index]

    async def add_instance(self, service: str, *, wait: bool = True) -> Instance:
        """One more instance of ``service`` in the same group: the group rebalances."""
        instance = await self._spawn(service, len(self.instances[service]))
        await instance.process.wait_ready(timeout=self.options.ready_timeout)
        instance.ready = True
        if wait:
            await self.wait_groups(services=(service,))
        return instance

    async def kill(self, service: str, index: int = 0) -> None:
        """``kill -9`` of one instance."""
        instance = self.instance(service, index)
        instance.ready = False
        await instance.process.kill()

    async def stop_instance(self, service: str, index: int = 0) -> None:
        """Graceful stop (SIGTERM) of one instance."""
        instance = self.instance(service, index)
        instance.ready = False
        await instance.process.stop()

    async def restart(self, service: str, index: int = 0) -> None:
        """Start a killed or stopped instance again, on the same database, port and group."""
        instance = self.instance(service, index)
        await instance.process.start()
        self.sampler.watch_process(instance.label, instance.process.pid)
        await instance.process.wait_ready(timeout=self.options.ready_timeout)
        instance.ready = True

    # --- HTTP -----------------------------------------------------------------------
    def url(self, service: str, index: int = 0) -> str:
        return self.instance(service, index).url

    def client(self, service: str) -> httpx.AsyncClient:
        """A client of one of the ready instances of ``service``, in turn."""
        ready = [i for i in self.instances[service] if i.process.running and i.ready]
        if not ready:
            raise RuntimeError(f"no instance of {service} is running")
        self._next[service] += 1
        instance = ready[self._next[service] % len(ready)]
        client = self._clients.get(instance.label)
        if client is None:
            client = self._clients[instance.label] = httpx.AsyncClient(
                base_url=instance.url,
                timeout=30.0,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
            )
        return client

    async def load_catalogues(self) -> None:
        headers = bearer_header(AuthSettings(), Role.ADMIN, None)
        for departement, actor_id in self.actor_ids.items():
            response = await self.client("matching").put(
                "/v1/actors", json=synthetic_catalogue(departement, actor_id), headers=headers
            )
            if response.status_code != 200:
                raise RuntimeError(f"catalogue of {departement} refused: {response.text}")

    async def database_stats(self) -> dict[str, dict[str, int]]:
        """Per service, its database's counters (``pg_stat_database``): transactions,
        rows read and written. PostgreSQL publishes them within about a second."""
        conn = await asyncpg.connect(self.options.admin_dsn)
        try:
            out = {}
            for service, url in self.database_urls.items():
                row = await conn.fetchrow(
                    "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, "
                    "tup_inserted, tup_updated, tup_deleted FROM pg_stat_database "
                    "WHERE datname = $1",
                    url.rsplit("/", 1)[1],
                )
                out[service] = {k: int(v) for k, v in dict(row or {}).items()}
            return out
        finally:
            await conn.close()

    # --- consumer groups --------------------------------------------------------------
    async def describe_groups(
        self, services: Iterable[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Each group of ``services``: its state and, per member, the partitions it owns."""
        wanted = {
            group: (service, topic)
            for service in services or self.services
            for topic, group in group_ids(service, self.consumer_groups[service]).items()
        }
        described = await describe_consumer_groups(self.kafka, list(wanted))
        for group, (service, topic) in wanted.items():
            described[group] |= {"service": service, "topic": topic}
        return described

    async def wait_groups(
        self, services: Iterable[str] | None = None, timeout: float = 60.0
    ) -> dict[str, dict[str, Any]]:
        """Until every group is stable, with one member per worker of each running instance,
        and every partition of its topic owned."""
        services = tuple(services or self.services)
        workers = int(self.options.extra_env.get("MG_KAFKA_SUBSCRIBER_WORKERS", "1"))
        deadline = time.monotonic() + timeout
        while True:
            described = await self.describe_groups(services)
            pending = []
            for group, d in described.items():
                running = workers * sum(
                    1 for i in self.instances[d["service"]] if i.process.running
                )
                owned = {p for m in d["members"] for p in m["partitions"].get(d["topic"], [])}
                if (
                    d["state"] != "Stable"
                    or len(d["members"]) != running
                    or len(owned) < DEFAULT_PARTITIONS
                ):
                    pending.append(f"{group}: {d['state']}, {len(d['members'])}/{running} members")
            if not pending:
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumer groups not stable: {pending}")
            await asyncio.sleep(0.5)

    async def assignment_report(self) -> dict[str, Any]:
        """Per service and topic: which instance owns which partitions and départements."""
        by_partition: dict[int, list[str]] = defaultdict(list)
        for departement in self.options.departements:
            by_partition[partition_of(departement)].append(departement)
        described = await self.describe_groups()
        report: dict[str, Any] = {
            "partition_of_departement": {
                d: partition_of(d) for d in sorted(self.options.departements)
            }
        }
        for d in described.values():
            members = {}
            for m in sorted(d["members"], key=lambda m: m["client_id"]):
                partitions = sorted(m["partitions"].get(d["topic"], []))
                members[m["client_id"]] = {
                    "partitions": partitions,
                    "departements": sorted(dep for p in partitions for dep in by_partition[p]),
                }
            report.setdefault(d["service"], {})[d["topic"]] = {
                "state": d["state"],
                "members": members,
            }
        return report


def bearer_header(
    auth: AuthSettings, role: Role, departement: str | None, scope: str | None = None
) -> dict[str, str]:
    token = mint(
        auth, role=role, subject=f"stack-{role.value}", departement=departement, scope=scope
    )
    return {"Authorization": f"Bearer {token}"}


# --- consumer group descriptions ---------------------------------------------------------


class _DescribeGroups(
    Request[DescribeGroupsRequest_v0 | DescribeGroupsRequest_v1 | DescribeGroupsRequest_v2]  # type: ignore[misc]
):
    """DescribeGroups up to v2. aiokafka 0.14 declares ``DescribeGroupsResponse_v2`` as the
    response of v3, which has one more field per group: every v3 answer of a Kafka 4 broker
    fails to decode ("Buffer underrun") and the connection is dropped."""

    API_KEY = 15

    def __init__(self, groups: list[str]) -> None:
        self._groups = groups

    def build(self, request_struct_class: type[Any]) -> Any:
        return request_struct_class(self._groups)


async def describe_consumer_groups(
    kafka: KafkaSettings, groups: list[str]
) -> dict[str, dict[str, Any]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        described: dict[str, dict[str, Any]] = {}
        for group in groups:
            node = await admin.find_coordinator(group)
            response = await admin._client.send(node, _DescribeGroups([group]))
            for error_code, group_id, state, _ptype, _protocol, members in response.groups:
                described[group_id] = {
                    "error_code": error_code,
                    "state": state,
                    "members": [
                        {
                            "client_id": client_id,
                            "host": host,
                            "partitions": _partitions(assignment),
                        }
                        for _member_id, client_id, host, _metadata, assignment in members
                    ],
                }
        return described
    finally:
        await admin.close()


def _partitions(raw: bytes | None) -> dict[str, list[int]]:
    if not raw:
        return {}
    decoded = ConsumerProtocolMemberAssignment.decode(raw)
    return {topic: sorted(partitions) for topic, partitions in decoded.assignment}


# --- resources -----------------------------------------------------------------------------


def find_kafka_pid() -> int | None:
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if "kafka.Kafka" in cmdline:
            return int(proc.pid)
    return None


class ResourceSampler:
    """CPU seconds (user + system) and peak RSS per label, sampled every ``interval``.

    A label groups processes: a service instance, or the PostgreSQL backends whose
    process title names one database (their RSS is mostly shared memory: only their
    CPU is reported). A process that dies keeps the CPU time last seen.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self._procs: dict[int, tuple[str, psutil.Process]] = {}
        self._cpu: dict[int, float] = {}
        self._rss: dict[int, float] = {}
        self._databases: dict[str, str] = {}  # database name -> label
        self._peak: dict[str, float] = {}
        self._ticks = 0

    def watch_process(self, label: str, pid: int) -> None:
        with contextlib.suppress(psutil.Error):
            self._procs[pid] = (label, psutil.Process(pid))

    def watch_database(self, label: str, database: str) -> None:
        self._databases[database] = label

    def _scan_backends(self) -> None:
        for proc in psutil.process_iter(["name", "cmdline"]):
            if proc.pid in self._procs or proc.info.get("name") != "postgres":
                continue
            title = " ".join(proc.info.get("cmdline") or [])
            for database, label in self._databases.items():
                if f" {database} " in title:
                    self._procs[proc.pid] = (label, proc)

    def sample(self) -> None:
        if self._databases and self._ticks % 4 == 0:
            self._scan_backends()
        self._ticks += 1
        rss: dict[str, float] = defaultdict(float)
        for pid, (label, proc) in list(self._procs.items()):
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    resident = proc.memory_info().rss / 2**20
            except psutil.Error:
                continue
            self._cpu[pid] = times.user + times.system
            if not label.startswith("postgres["):
                rss[label] += resident
        for label, mib in rss.items():
            self._peak[label] = max(self._peak.get(label, 0.0), mib)

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds per label since each process started, and the machine's busy CPU
        seconds since boot (``machine busy``: every process, ours and everybody else's)."""
        self.sample()
        totals: dict[str, float] = defaultdict(float)
        for pid, (label, _) in self._procs.items():
            totals[label] += self._cpu.get(pid, 0.0)
        machine = psutil.cpu_times()
        totals["machine busy"] = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return dict(totals)

    def reset_peaks(self) -> None:
        self._peak.clear()
        self.sample()

    def peak_rss_mib(self) -> dict[str, float]:
        return {label: round(mib, 1) for label, mib in sorted(self._peak.items())}


def counters_delta(
    before: Mapping[str, Mapping[str, int]], after: Mapping[str, Mapping[str, int]], per: int
) -> dict[str, dict[str, float]]:
    """``after - before`` per key and counter, divided by ``per`` (say, per flow)."""
    return {
        key: {
            name: round((value - before.get(key, {}).get(name, 0)) / max(1, per), 2)
            for name, value in counters.items()
        }
        for key, counters in after.items()
    }


def cpu_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds spent in the interval, per label; ``others on the machine`` is the busy
    time of the machine that none of the watched processes account for."""
    delta = {label: round(after[label] - before.get(label, 0.0), 2) for label in sorted(after)}
    if "machine busy" in delta:
        ours = sum(v for k, v in delta.items() if k != "machine busy")
        delta["others on the machine"] = round(max(0.0, delta["machine busy"] - ours), 2)
    return delta


# --- mail -------------------------------------------------------------------------------------


class MailClock:
    """An SMTP server that accepts everything and keeps, per ``Message-ID``, the time it
    arrived and its ``X-MG-Kind``; headers only, the body is never parsed."""

    def __init__(self) -> None:
        self.port = 0
        self.arrived: dict[str, tuple[float, str]] = {}
        self.count = 0
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.time()
        content = envelope.content
        if isinstance(content, str):
            content = content.encode()
        head = content.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        found: dict[str, str] = {}
        for line in head.split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() in ("message-id", "x-mg-kind"):
                found[name.lower()] = value.strip()
        self.count += 1
        if "message-id" in found:
            self.arrived.setdefault(found["message-id"], (now, found.get("x-mg-kind", "")))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


# --- flows ------------------------------------------------------------------------------------


@dataclass
class Sighting:
    """One record of a flow on a topic: its Kafka timestamp (producer's clock, seconds),
    when the tap read it, and what identifies it."""

    at: float
    read_at: float
    ce_id: str
    partition: int
    ref: str = ""  # assignment id, or invoice document id


@dataclass
class Flow:
    request_id: str
    departement: str
    scheduled_at: float = 0.0
    posted_at: float | None = None
    http_status: int | None = None
    http_seconds: float | None = None
    seen: dict[str, list[Sighting]] = field(default_factory=lambda: defaultdict(list))
    # The actor's side: (started, finished, HTTP status) of accept and of complete.
    accept: tuple[float, float, int] | None = None
    complete: tuple[float, float, int] | None = None

    def first(self, stage: str) -> Sighting | None:
        sightings = self.seen.get(stage)
        return min(sightings, key=lambda s: s.at) if sightings else None


class EventTap(Follower):
    """Reads the product's topics from their end and files our records under their flow.

    ``on_proposed`` is called once per record of a proposal made to one of ``actor_ids``
    (the :class:`ActorDriver` hooks there).
    """

    TOPICS = (
        REQUESTS_REQUEST.name,
        MATCHING_ASSIGNMENT.name,
        BILLING_INVOICE.name,
        NOTIFICATIONS_DELIVERY.name,
    )

    def __init__(
        self,
        kafka: KafkaSettings,
        actor_ids: Iterable[str],
        on_proposed: Callable[[Flow, dict[str, Any]], None] | None = None,
    ) -> None:
        super().__init__(kafka, self.TOPICS)
        self.actor_ids = set(actor_ids)
        self.flows: dict[str, Flow] = {}
        self.on_proposed = on_proposed
        self.foreign_records = 0
        self.deliveries: dict[str, list[tuple[float, str]]] = defaultdict(list)  # source ce_id
        self.read = 0

    def expect(self, flow: Flow) -> None:
        self.flows[flow.request_id] = flow

    def file(self, record: ConsumerRecord[Any, Any], now: float) -> None:
        self.read += 1
        self._file(record, now)

    def _file(self, record: ConsumerRecord[Any, Any], now: float) -> None:
        headers = dict(record.headers or ())
        ce_type = headers.get("ce_type", b"").decode("ascii", "replace")
        if ce_type not in STAGE_OF and ce_type != DELIVERED:
            return
        try:
            body = json.loads(record.value or b"{}")
        except ValueError:
            return
        ce_id = headers.get("ce_id", b"").decode("ascii", "replace")
        at = record.timestamp / 1000
        if ce_type == DELIVERED:
            self.deliveries[str(body.get("source_event_id"))].append((at, str(body.get("kind"))))
            return
        flow = self.flows.get(str(body.get("request_id")))
        if flow is None:
            self.foreign_records += 1
            return
        stage = STAGE_OF[ce_type]
        ref = ""
        if record.topic == MATCHING_ASSIGNMENT.name and stage != "unmatched":
            if body.get("actor_id") not in self.actor_ids:
                # Another matching service on the shared topics routed our demande too.
                self.foreign_records += 1
                return
            ref = str(body.get("assignment_id"))
        elif stage == "invoiced":
            ref = str(body.get("document_id"))
        flow.seen[stage].append(Sighting(at, now, ce_id, record.partition, ref))
        if stage == "proposed" and self.on_proposed is not None:
            self.on_proposed(flow, body)

    def complete_flows(self, flows: Iterable[Flow], stages: Iterable[str]) -> int:
        stages = tuple(stages)
        return sum(1 for f in flows if all(f.seen.get(s) for s in stages))


class ActorDriver:
    """The actors: each proposal made to one of ours is accepted, then completed with
    ``days_spent`` days, over the matching API, with that actor's own token."""

    def __init__(
        self,
        client: Callable[[], httpx.AsyncClient],
        auth: AuthSettings | None = None,
        *,
        days_spent: str = "2",
        concurrency: int = 48,
    ) -> None:
        self._client = client
        self._auth = auth or AuthSettings()
        self._days = days_spent
        self._semaphore = asyncio.Semaphore(concurrency)
        self._headers: dict[tuple[str, str], dict[str, str]] = {}
        self._handled: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.errors: list[str] = []

    def on_proposed(self, flow: Flow, body: dict[str, Any]) -> None:
        assignment_id = str(body["assignment_id"])
        if assignment_id in self._handled:
            return  # the relay published it again: the actor answered already
        self._handled.add(assignment_id)
        task = asyncio.create_task(self._answer(flow, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _actor_headers(self, departement: str, actor_id: str) -> dict[str, str]:
        key = (departement, actor_id)
        if key not in self._headers:
            self._headers[key] = bearer_header(self._auth, Role.ACTOR, departement, actor_id)
        return self._headers[key]

    async def _post(self, path: str, body: dict[str, Any] | None, headers: dict[str, str]) -> int:
        for attempt in range(3):
            try:
                response = await self._client().post(path, json=body, headers=headers)
            except httpx.TransportError as exc:
                if attempt == 2:
                    self.errors.append(f"{path}: {exc!r}")
                    return 0
                await asyncio.sleep(0.5)
                continue
            if response.status_code >= 500 and attempt < 2:
                await asyncio.sleep(0.5)
                continue
            if response.status_code >= 400:
                self.errors.append(f"{path}: {response.status_code} {response.text[:200]}")
            return response.status_code
        return 0

    async def _answer(self, flow: Flow, body: dict[str, Any]) -> None:
        headers = self._actor_headers(str(body["departement"]), str(body["actor_id"]))
        base = f"/v1/assignments/{body['assignment_id']}"
        async with self._semaphore:
            started = time.time()
            status = await self._post(f"{base}/accept", None, headers)
            flow.accept = (started, time.time(), status)
            if status != 200:
                return
            started = time.time()
            status = await self._post(f"{base}/complete", {"days_spent": self._days}, headers)
            flow.complete = (started, time.time(), status)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


# --- demandes ---------------------------------------------------------------------------------


class Demandes:
    """Realistic demandes from real communes and EPCI (``stack/scenario.py``), each with the
    token of whoever files it: the collectivité itself, or its département's team."""

    def __init__(self, departements: Iterable[str], seed: int = 2026) -> None:
        from shared.refdata import get_territories
        from stack.scenario import _draft, _requesters

        self._draft = _draft
        self._rng = random.Random(seed)
        self._auth = AuthSettings()
        territories = get_territories()
        self._requesters = {d: _requesters(territories, self._rng, d, 200) for d in departements}
        self._departements = tuple(departements)
        self._headers: dict[tuple[str, str | None], dict[str, str]] = {}
        self._n = 0

    def next(self, departement: str | None = None) -> tuple[Flow, dict[str, Any], dict[str, str]]:
        """A new flow (its request id is the Idempotency-Key), its body and headers; the
        départements take turns unless one is named."""
        if departement is None:
            departement = self._departements[self._n % len(self._departements)]
            self._n += 1
        code, population, nom = self._rng.choice(self._requesters[departement])
        body = self._draft(self._rng, code, population, nom)
        own = code if self._rng.random() < 0.5 and len(code) == 5 else None
        key = (departement, own)
        if key not in self._headers:
            role = Role.COLLECTIVITE if own else Role.DEPARTEMENT
            self._headers[key] = bearer_header(self._auth, role, departement, own)
        flow = Flow(request_id=str(uuid.uuid4()), departement=departement)
        headers = self._headers[key] | {"Idempotency-Key": flow.request_id}
        return flow, body, headers


async def until_settled(
    progress: Callable[[], Awaitable[int]],
    total: int,
    *,
    timeout: float,
    stall: float,
    poll: float,
) -> bool:
    """Until ``progress()`` reaches ``total``; False after ``timeout``, or after ``stall``
    seconds without progress."""
    deadline = time.monotonic() + timeout
    last, moved = -1, time.monotonic()
    while True:
        done = await progress()
        now = time.monotonic()
        if done == total:
            return True
        if done != last:
            last, moved = done, now
        if now > deadline or now - moved > stall:
            return False
        await asyncio.sleep(poll)


async def warm_up(
    departements: Iterable[str],
    start: Callable[[str], Awaitable[Flow]],
    settle: Callable[[list[Flow]], Awaitable[object]],
    through: Callable[[Flow], bool],
    log: Callable[[str], None],
) -> list[Flow]:
    """One flow per département until each got through: every partition that our keys use
    is then consumed by every group (offset reset ``latest``). Returns every flow started."""
    missing = list(departements)
    started: list[Flow] = []
    for _attempt in range(8):
        batch = [await start(departement) for departement in missing]
        started += batch
        await settle(batch)
        missing = [f.departement for f in batch if not through(f)]
        if not missing:
            return started
        log(f"warm-up: not through yet for {missing}, again")
    raise RuntimeError(f"warm-up never got through for {missing}")


async def submit(
    client: httpx.AsyncClient, flow: Flow, body: dict[str, Any], headers: dict[str, str]
) -> None:
    """POST the demande, timing it; a transport error is recorded as status 0."""
    flow.posted_at = time.time()
    started = time.perf_counter()
    try:
        response = await client.post("/v1/requests", json=body, headers=headers)
        flow.http_status = response.status_code
    except httpx.TransportError:
        flow.http_status = 0
    flow.http_seconds = time.perf_counter() - started


async def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    progress: Callable[[], int] | None = None,
    stall: float | None = None,
) -> bool:
    """Poll ``condition``; give up after ``timeout``, or after ``stall`` seconds without
    ``progress()`` moving."""
    deadline = time.monotonic() + timeout
    last = progress() if progress else 0
    moved = time.monotonic()
    while not condition():
        now = time.monotonic()
        if now > deadline:
            return False
        if progress is not None and stall is not None:
            current = progress()
            if current != last:
                last, moved = current, now
            elif now - moved > stall:
                return False
        await asyncio.sleep(0.1)
    return True


async def gather_bounded(jobs: Iterable[Awaitable[None]], concurrency: int) -> None:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(job: Awaitable[None]) -> None:
        async with semaphore:
            await job

    await asyncio.gather(*(one(j) for j in jobs))


# --- measurements -------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in [0, 1]); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(n * q), at least 1
    return ordered[min(len(ordered), int(rank)) - 1]


def latency_summary(values_ms: list[float]) -> dict[str, Any]:
    """Count, mean and percentiles, in milliseconds. With fewer than 1,000 values the
    p99.9 is the maximum: it is reported, not estimated."""
    if not values_ms:
        return {"n": 0}
    rounded = {
        name: round(value, 1)
        for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999))
        if (value := percentile(values_ms, q)) is not None
    }
    return {
        "n": len(values_ms),
        "mean": round(sum(values_ms) / len(values_ms), 1),
        **rounded,
        "max": round(max(values_ms), 1),
    }


HANDLER_METRIC = "mg_handler_duration_seconds"


async def scrape_handler_seconds(urls: Iterable[str]) -> dict[str, dict[str, float]]:
    """``service/event type`` -> {count, sum, buckets...} of the handler histogram, summed
    over the instances at ``urls`` (their ``/metrics``)."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    async with httpx.AsyncClient(timeout=10.0) as client:
        for url in urls:
            try:
                text = (await client.get(f"{url}/metrics/")).text
            except httpx.HTTPError:
                continue
            for line in text.splitlines():
                if not line.startswith(HANDLER_METRIC):
                    continue
                name, _, rest = line.partition("{")
                labels_text, _, value = rest.rpartition("} ")
                labels = dict(part.split("=", 1) for part in labels_text.split(",") if "=" in part)
                labels = {k: v.strip('"') for k, v in labels.items()}
                key = f"{labels.get('service')}/{labels.get('event_type')}"
                suffix = name.removeprefix(HANDLER_METRIC)
                if suffix == "_bucket":
                    totals[key][f"le={labels.get('le')}"] += float(value)
                elif suffix in ("_count", "_sum"):
                    totals[key][suffix[1:]] += float(value)
    return {k: dict(v) for k, v in totals.items()}


def handler_breakdown(
    before: Mapping[str, Mapping[str, float]], after: Mapping[str, Mapping[str, float]]
) -> dict[str, dict[str, Any]]:
    """Per service/event type, over the interval: events handled, mean handler time and the
    histogram bucket under which 99 % of them fall (an upper bound, bucket resolution)."""
    out: dict[str, dict[str, Any]] = {}
    for key, now in sorted(after.items()):
        was = before.get(key, {})
        count = now.get("count", 0.0) - was.get("count", 0.0)
        if count <= 0:
            continue
        total = now.get("sum", 0.0) - was.get("sum", 0.0)
        buckets = sorted(
            (float(k[3:]), v - was.get(k, 0.0))
            for k, v in now.items()
            if k.startswith("le=") and k != "le=+Inf"
        )
        p99_bound = next((le for le, n in buckets if n >= 0.99 * count), None)
        out[key] = {
            "handled": int(count),
            "mean_ms": round(1000 * total / count, 2),
            "p99_le_ms": round(1000 * p99_bound, 1) if p99_bound is not None else ">5000",
        }
    return out
