"""The whole product as real OS processes, for benchmarks and failure drills.

    async with Stack(StackOptions(instances=2, notifications=True)) as stack:
        ...  # stack.url("requests"), stack.kill("matching", 0), stack.add_instance("billing")

Each service runs as ``python -m services.<name>.entrypoints.main`` (a
:class:`~stack.harness.process.ServiceProcess`) on a database of its own
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
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import asyncpg  # type: ignore[import-untyped]
import httpx

from shared.auth.tokens import Role, mint
from shared.contracts.topics import (
    DEFAULT_PARTITIONS,
)
from shared.contracts.vocabulary import Phase, Theme
from shared.messaging.admin import ensure_topics
from shared.settings import AuthSettings, KafkaSettings
from stack.harness.databases import PG_ADMIN_DSN, create_database, drop_databases
from stack.harness.kafka_groups import describe_consumer_groups, group_ids, partition_of
from stack.harness.mail_clock import MailClock
from stack.harness.process import (
    ROOT,
    ProfiledServiceProcess,
    ServiceProcess,
    free_port,
    service_module,
)
from stack.harness.resources import ResourceSampler, find_kafka_pid

CORE_SERVICES = ("requests", "matching", "billing")
DEFAULT_DEPARTEMENTS = ("49", "35", "24", "44", "29", "56")


def notifications_available() -> bool:
    """Whether this checkout's notifications service consumes events (a stack may run it)."""
    try:
        from services.notifications.entrypoints import consumers
    except ImportError:
        return False
    return bool(getattr(consumers, "CONSUMED_TOPICS", ()))


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
    # The resources service (documentation, trainings, experiences; ADR 0023).
    resources: bool = False
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
        self.services: tuple[str, ...] = (
            CORE_SERVICES
            + (("notifications",) if self.options.notifications else ())
            + (("resources",) if self.options.resources else ())
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
            self.database_urls[service] = await create_database(
                f"stack_{service}_{self.run_id}", self.options.admin_dsn
            )
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
            names = [url.rsplit("/", 1)[1] for url in self.database_urls.values()]
            await drop_databases(names, self.options.admin_dsn)
            self.database_urls.clear()

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
            **self.kafka.environment(),
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
        module = service_module(service)
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
