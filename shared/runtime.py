"""What runs a service process: database, broker, outbox relay and HTTP app.

Every service builds one :class:`ServiceRuntime` and hands it its routers and
its subscribers; so the four services start, stop, expose metrics and report
health the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request, Response
from faststream.kafka import KafkaBroker
from prometheus_client import make_asgi_app
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.auth.authenticator import Authenticator
from shared.db.engine import make_engine, make_session_factory
from shared.db.migrations import upgrade
from shared.http.asyncapi import asyncapi_router
from shared.http.body_guard import BodyGuard
from shared.http.errors import EXCEPTION_HANDLERS
from shared.http.inputs import RefuseControlCharacters
from shared.http.rate_limit import RateLimiter
from shared.http.scrape import ScrapeToken
from shared.messaging.broker import make_broker
from shared.messaging.consumer import (
    ConsumerUnitOfWork,
    IdempotentConsumer,
    Route,
    consumers_of,
    subscribe,
)
from shared.messaging.dead_letter import DeadLetters
from shared.messaging.offsets import OffsetCommits
from shared.messaging.relay import OutboxRelay
from shared.observability.logging import configure_logging, get_logger, log_context
from shared.observability.metrics import CONSUMER_LAG, HTTP_REQUESTS, initialise_series
from shared.production import ProductionCheck, refuse_unsafe_start, unsafe_settings
from shared.settings import (
    AuthSettings,
    DeploymentSettings,
    HttpSettings,
    KafkaSettings,
    OidcSettings,
    ServiceSettings,
    service_settings,
)

log = get_logger(__name__)

UoW = TypeVar("UoW")
Consuming = TypeVar("Consuming", bound=ConsumerUnitOfWork)

CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class ServiceRuntime:
    def __init__(
        self,
        name: str,
        *,
        migrations_dir: Path,
        settings: ServiceSettings | None = None,
        kafka: KafkaSettings | None = None,
        auth: AuthSettings | None = None,
        oidc: OidcSettings | None = None,
        http: HttpSettings | None = None,
        deployment: DeploymentSettings | None = None,
    ) -> None:
        self.name = name
        self.settings = settings or service_settings(name)
        self.kafka = (kafka or KafkaSettings()).principal(name)
        self.auth = auth or AuthSettings()
        self.oidc = oidc or OidcSettings()
        self.http = http or HttpSettings()
        self.deployment = deployment or DeploymentSettings()
        # A service's own reasons to refuse production (its settings), beside the shared ones.
        self.production_checks: list[ProductionCheck] = []
        self.migrations_dir = migrations_dir
        self.instance_id = self.settings.instance_id or f"{name}-{uuid.uuid4().hex[:8]}"
        self.engine: AsyncEngine = make_engine(
            self.settings.database_url, application_name=self.instance_id
        )
        self.session_factory: async_sessionmaker[AsyncSession] = make_session_factory(self.engine)
        self.broker: KafkaBroker = make_broker(self.kafka, client_id=self.instance_id)
        initialise_series(name, self.instance_id)
        self.dead_letters = DeadLetters(self.broker, consumer=name)
        self.relay = OutboxRelay(
            service=name,
            engine=self.engine,
            broker=self.broker,
            batch_size=self.settings.outbox_batch_size,
            poll_seconds=self.settings.outbox_poll_seconds,
        )
        self.offsets = OffsetCommits(name)
        self._tasks: list[asyncio.Task[None]] = []
        self._lag_reported: set[tuple[str, str]] = set()
        self._periodic: list[tuple[float, Callable[[], Awaitable[object]], str]] = [
            (5.0, self.report_lag, f"{name}-consumer-lag"),
            (2.0, self.relay.report_backlog, f"{name}-outbox-backlog"),
            (self.kafka.offset_commit_interval_seconds, self.offsets.flush, f"{name}-offsets"),
        ]

    def unit_of_work(self, unit_of_work: Callable[..., UoW]) -> Callable[[], UoW]:
        """A factory of the service's units of work; committing one that wrote to the
        outbox wakes the relay (:class:`shared.db.unit_of_work.SqlUnitOfWork`)."""

        def factory() -> UoW:
            return unit_of_work(self.session_factory, self.name, after_commit=self.relay.wake)

        return factory

    def consumer(
        self,
        uow_factory: Callable[[], Consuming],
        routes: Mapping[str, Route[Consuming]],
        *,
        dead_letters_as: str | None = None,
    ) -> IdempotentConsumer[Consuming]:
        """An idempotent consumer of this service: ``routes`` by event type, each event in
        a unit of work from ``uow_factory``, with the service's retries and dead letters
        (``<topic>.<dead_letters_as>.dlq`` for a consumer other than the service's own)."""
        return IdempotentConsumer[Consuming](
            service=self.name,
            uow_factory=uow_factory,
            routes=routes,
            dead_letters=(
                DeadLetters(self.broker, consumer=dead_letters_as)
                if dead_letters_as
                else self.dead_letters
            ),
            max_attempts=self.kafka.max_attempts,
            redelivery_backoff_seconds=self.kafka.redelivery_backoff_seconds,
        )

    def subscribe(
        self, topic: str, consumer: IdempotentConsumer[Any], *, group_suffix: str = ""
    ) -> None:
        """Consume ``topic`` in the service's group (``<group>.<group_suffix>`` for a second
        reader of the same topics), offsets committed by :attr:`offsets`."""
        group = self.settings.consumer_group
        subscribe(
            self.broker,
            topic,
            group_id=f"{group}.{group_suffix}" if group_suffix else group,
            consumer=consumer,
            offsets=self.offsets,
            offset_reset=self.settings.consumer_offset_reset,
            workers=self.kafka.subscriber_workers,
        )

    def unsafe_for_production(self) -> list[str]:
        """Why this service must not start in production; empty when it may, or when
        ``MG_ENV`` is not production."""
        if not self.deployment.production:
            return []
        problems = unsafe_settings(self.auth, self.oidc, self.kafka, self.http)
        for check in self.production_checks:
            problems.extend(check())
        return problems

    def every(self, seconds: float, job: Callable[[], Awaitable[object]], name: str) -> None:
        """Run ``job`` periodically while the service runs; a failure is logged, not fatal."""
        self._periodic.append((seconds, job, name))

    async def _repeat(
        self, seconds: float, job: Callable[[], Awaitable[object]], name: str
    ) -> None:
        while True:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("periodic job failed", job=name, error=repr(exc))
            await asyncio.sleep(seconds)

    async def report_lag(self) -> None:
        """Consumer lag per partition, from each subscriber's own consumer."""
        owned: set[tuple[str, str]] = set()
        for subscriber in self.broker.subscribers:
            for consumer in consumers_of(subscriber):
                for tp in consumer.assignment():
                    end = consumer.highwater(tp)
                    if end is None:
                        continue
                    position = await consumer.position(tp)
                    owned.add((tp.topic, str(tp.partition)))
                    CONSUMER_LAG.labels(self.name, tp.topic, str(tp.partition)).set(
                        max(0, end - position)
                    )
        # Partitions that moved to another instance in a rebalance are no longer ours.
        for gone in self._lag_reported - owned:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(self.name, *gone)
        self._lag_reported = owned

    async def migrate(self) -> None:
        await asyncio.to_thread(upgrade, self.migrations_dir, self.settings.database_url)

    async def start(self) -> None:
        await self.migrate()
        await self.broker.start()
        self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.name}-outbox-relay"))
        for seconds, job, name in self._periodic:
            self._tasks.append(asyncio.create_task(self._repeat(seconds, job, name), name=name))
        log.info("service started", instance=self.instance_id)

    async def stop(self) -> None:
        self.relay.stop()
        # In-flight handlers finish and their offsets are committed while the consumers
        # still belong to their groups; then the consumers leave.
        with contextlib.suppress(Exception):
            await self.offsets.drain(patience_seconds=30.0)
        await self.broker.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.engine.dispose()
        log.info("service stopped", instance=self.instance_id)

    async def ready(self) -> dict[str, bool]:
        checks = {"database": False, "broker": False}
        with contextlib.suppress(Exception):
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = True
        with contextlib.suppress(Exception):
            checks["broker"] = bool(await self.broker.ping(timeout=2.0))
        return checks


def create_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    version: str = "1.0.0",
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    docs = runtime.http.docs if runtime.http.docs is not None else not runtime.deployment.production
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.runtime = runtime
    app.state.authenticator = Authenticator(runtime.auth, runtime.oidc)
    app.state.rate_limiter = RateLimiter(
        runtime.http.rate_limit_per_second, runtime.http.rate_limit_burst
    )
    for exc_type, handler in EXCEPTION_HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
    for router in routers:
        app.include_router(router)
    if docs:
        app.include_router(asyncapi_router(runtime.name))
    token = runtime.http.metrics_token
    app.mount("/metrics", ScrapeToken(make_asgi_app(), token.get_secret_value() if token else None))
    # Added before ``observe``, so that ``observe`` wraps them and counts their refusals;
    # control characters first, then the body (its token, its size).
    app.add_middleware(BodyGuard, settings=runtime.http)
    app.add_middleware(RefuseControlCharacters)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Any:
        offered = request.headers.get("x-correlation-id", "")
        # Only an id that fits our headers and columns is carried on; others are replaced.
        correlation_id = offered if CORRELATION_ID.fullmatch(offered) else str(uuid.uuid4())
        request.state.correlation_id = correlation_id
        started = time.perf_counter()
        with log_context(correlation_id=correlation_id):
            response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        # Scrapes and probes are not traffic: counting them would drown the real requests.
        if not request.url.path.startswith(("/metrics", "/health")):
            HTTP_REQUESTS.labels(
                runtime.name, request.method, path, str(response.status_code)
            ).inc()
        response.headers["x-correlation-id"] = correlation_id
        if path != "/metrics":
            log.debug(
                "http request",
                method=request.method,
                route=path,
                status=response.status_code,
                ms=round((time.perf_counter() - started) * 1000, 2),
            )
        return response

    @app.get("/health/live", tags=["santé"], summary="Le processus répond.")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["santé"], summary="Base de données et Kafka joignables.")
    async def ready(response: Response) -> dict[str, Any]:
        checks = await runtime.ready()
        ok = all(checks.values())
        response.status_code = 200 if ok else 503
        return {"status": "ok" if ok else "indisponible", "checks": checks}

    return app


def run_service(
    name: str, migrations_dir: Path, build: Callable[[ServiceRuntime], FastAPI]
) -> None:
    """The body of every service's console entry point."""
    import uvicorn

    runtime = ServiceRuntime(name, migrations_dir=migrations_dir)
    configure_logging(name, runtime.settings.log_level, runtime.settings.log_format)
    app = build(runtime)
    # After ``build``, which registers the service's own checks; before any connection.
    refuse_unsafe_start(f"mg-{name}", runtime.unsafe_for_production())
    uvicorn.run(
        app,
        host=runtime.settings.http_host,
        port=runtime.settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
    )


def runtime_of(request: Request) -> ServiceRuntime:
    """The runtime of the service that serves ``request``."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def unit_of_work_dependency(unit_of_work: Callable[..., UoW]) -> Callable[[Request], UoW]:
    """A FastAPI dependency giving each request a fresh unit of work of the service."""

    def dependency(request: Request) -> UoW:
        return runtime_of(request).unit_of_work(unit_of_work)()

    return dependency
