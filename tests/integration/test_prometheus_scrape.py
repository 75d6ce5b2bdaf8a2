"""A real Prometheus scrapes the four services, run as their own processes.

The scrape configuration is ``infra/prometheus/prometheus.yml`` with the test's
ports and a 1 s interval, and it loads the alert rules of
``infra/prometheus/rules/``: so the test checks that the jobs, the metrics path
and the rules work against the real exposition, not only ``promtool``'s syntax.
The ``prometheus`` binary comes from Debian's ``prometheus`` package, which
``infra/setup.sh`` installs; the test fails, and does not skip, without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shared.auth.tokens import Role
from shared.contracts.topics import REQUESTS_REQUEST
from shared.settings import KafkaSettings
from stack.harness.process import ROOT, LoggedProcess, free_port
from tests.support.own_process import service_process
from tests.support.submissions import demande_body
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.timeout(180)]

SERVICES = ("requests", "matching", "billing", "notifications", "resources")
CONFIG = ROOT / "infra" / "prometheus" / "prometheus.yml"
RULES_DIR = ROOT / "infra" / "prometheus" / "rules"
DASHBOARDS_DIR = ROOT / "infra" / "grafana" / "dashboards"
# Grafana's variables, as a query needs them to run without Grafana.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$instance": ".*",
    "$departement": ".*",
}
INSTALL_HINT = (
    "install Debian's package: apt-get install -y --no-install-recommends prometheus "
    "(infra/setup.sh does), or set MG_PROMETHEUS_BIN to the binary"
)


def prometheus_binary() -> str:
    """The ``prometheus`` server binary; a missing one is a failure, never a skip."""
    configured = os.environ.get("MG_PROMETHEUS_BIN")
    found = configured or shutil.which("prometheus")
    if not found or not os.access(found, os.X_OK):
        pytest.fail(f"prometheus binary not found ({configured or 'PATH'}): {INSTALL_HINT}")
    return found


def scrape_config(ports: dict[str, int]) -> dict[str, Any]:
    """The repository's configuration, pointed at the test's ports, scraping every second."""
    config: dict[str, Any] = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    config["global"] |= {"scrape_interval": "1s", "scrape_timeout": "1s"}
    config["global"]["evaluation_interval"] = "1s"
    config["rule_files"] = [str(RULES_DIR / Path(p).name) for p in config["rule_files"]]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(SERVICES), f"one scrape job per service expected, got {sorted(jobs)}"
    for name, job in jobs.items():
        assert job["metrics_path"] == "/metrics/", f"{name}: metrics_path {job['metrics_path']}"
        job["static_configs"] = [{"targets": [f"127.0.0.1:{ports[name]}"]}]
    return config


class Prometheus(LoggedProcess):
    """``prometheus`` on a free port, its storage and log in ``directory``."""

    def __init__(self, binary: str, config: dict[str, Any], directory: Path) -> None:
        super().__init__(directory / "prometheus.log")
        self.binary = binary
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.directory = directory
        self.config_path = directory / "prometheus.yml"
        # JSON is YAML: no serialiser needed.
        self.config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                self.binary,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )

    async def wait_ready(self, client: httpx.AsyncClient, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.returncode is not None:
                raise RuntimeError(
                    f"prometheus exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/-/ready")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"prometheus not ready after {timeout}s:\n{self.log_tail()}")
            await asyncio.sleep(0.2)


async def query(client: httpx.AsyncClient, promql: str) -> list[dict[str, Any]]:
    """An instant query; the vector's elements (``metric`` labels and ``value``)."""
    response = await client.get("/api/v1/query", params={"query": promql})
    response.raise_for_status()
    answer = response.json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


async def targets_report(client: httpx.AsyncClient) -> str:
    with contextlib.suppress(httpx.HTTPError):
        active = (await client.get("/api/v1/targets")).json()["data"]["activeTargets"]
        return "\n".join(
            f"  {t['labels'].get('job')} {t['scrapeUrl']}: {t['health']} {t['lastError']}"
            for t in active
        )
    return "  (targets unavailable)"


async def wait_for(
    client: httpx.AsyncClient,
    promql: str,
    accept: Callable[[list[dict[str, Any]]], bool],
    *,
    timeout: float,
    diagnose: Callable[[], Awaitable[str]],
    what: str = "",
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        result = await query(client, promql)
        if accept(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(
                f"after {timeout}s, `{promql}` ({what or 'expected series'}) gave {result}\n"
                f"{await diagnose()}"
            )
        await asyncio.sleep(0.5)


def by_label(result: list[dict[str, Any]], label: str) -> dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in result}


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every panel of every dashboard, Grafana's variables filled in."""
    found: list[tuple[str, str]] = []
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        stack = list(json.loads(path.read_text(encoding="utf-8"))["panels"])
        while stack:
            panel = stack.pop()
            stack.extend(panel.get("panels", []))
            for t in panel.get("targets", []):
                expr = t["expr"]
                for variable, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(variable, value)
                found.append((f"{path.name}: {panel['title']} {t['refId']}", expr))
    return found


async def test_prometheus_scrapes_the_four_services(
    fresh_database: Callable[[str], Awaitable[str]],
    kafka_topics: KafkaSettings,
    tmp_path: Path,
) -> None:
    binary = prometheus_binary()
    database_urls = {name: await fresh_database(f"prom_{name}") for name in SERVICES}
    services = {
        name: service_process(
            name, database_urls[name], kafka_topics, tmp_path, purpose="prometheus"
        )
        for name in SERVICES
    }
    prometheus = Prometheus(
        binary, scrape_config({n: s.port for n, s in services.items()}), tmp_path
    )

    async def diagnose() -> str:
        async with httpx.AsyncClient(base_url=prometheus.base_url, timeout=5.0) as client:
            targets = await targets_report(client)
        logs = "\n".join(f"--- {n}:\n{s.log_tail(15)}" for n, s in services.items())
        return f"targets:\n{targets}\n--- prometheus:\n{prometheus.log_tail(10)}\n{logs}"

    try:
        await asyncio.gather(*(s.start() for s in services.values()))
        await prometheus.start()
        await asyncio.gather(*(s.wait_ready() for s in services.values()))
        async with httpx.AsyncClient(base_url=prometheus.base_url, timeout=5.0) as prom:
            await prometheus.wait_ready(prom)

            # Every job is scraped, at /metrics/ as configured.
            up = await wait_for(
                prom,
                "up",
                lambda r: by_label(r, "job") == dict.fromkeys(SERVICES, 1.0),
                timeout=20.0,
                diagnose=diagnose,
            )
            assert {r["metric"]["instance"] for r in up} == {
                f"127.0.0.1:{s.port}" for s in services.values()
            }
            # Each service's single instance leads its outbox relay and reports its backlog.
            await wait_for(
                prom,
                "sum by (service) (mg_outbox_relay_leader)",
                lambda r: by_label(r, "service") == dict.fromkeys(SERVICES, 1.0),
                timeout=15.0,
                diagnose=diagnose,
            )
            await wait_for(
                prom,
                "max by (service) (mg_outbox_backlog)",
                lambda r: set(by_label(r, "service")) == set(SERVICES),
                timeout=15.0,
                diagnose=diagnose,
            )
            # matching owns partitions of requests.request.v1 (its lag is reported every
            # 5 s once assigned): from now on it receives what requests publishes.
            await wait_for(
                prom,
                f'mg_consumer_lag{{service="matching", topic="{REQUESTS_REQUEST.name}"}}',
                lambda r: len(r) > 0,
                timeout=40.0,
                diagnose=diagnose,
            )

            # A little traffic: one demande, submitted over HTTP, routed by matching.
            async with httpx.AsyncClient(
                base_url=services["requests"].base_url, timeout=10.0
            ) as api:
                response = await api.post(
                    "/v1/requests",
                    json=demande_body(title="Demande de test des métriques Prometheus"),
                    headers=bearer(Role.DEPARTEMENT, "49"),
                )
                assert response.status_code == 201, response.text

            # Each series, and who counts it.
            expected = [
                (
                    'mg_http_requests_total{service="requests", route="/v1/requests", '
                    'method="POST", status="201"}',
                    "the HTTP middleware",
                ),
                ('mg_demandes_total{departement="49", status="submitted"}', "requests"),
                (
                    'mg_events_published_total{service="requests", '
                    'event_type="requests.request.submitted.v2"}',
                    "the outbox relay of requests",
                ),
                (
                    f'faststream_received_messages_total{{job="matching", '
                    f'handler="{REQUESTS_REQUEST.name}"}}',
                    "FastStream's middleware in matching",
                ),
                (
                    'faststream_received_processed_messages_total{job="matching", status="acked"}',
                    "FastStream's middleware in matching",
                ),
                (
                    'mg_events_consumed_total{service="matching", '
                    'event_type="requests.request.submitted.v2", outcome="handled"}',
                    "the idempotent consumer of matching",
                ),
                (
                    'mg_handler_duration_seconds_count{service="matching"}',
                    "the idempotent consumer of matching",
                ),
                ('mg_matching_outcomes_total{departement="49"}', "matching's use case"),
                ('mg_matching_latency_seconds_count{departement="49"}', "matching's use case"),
            ]
            for promql, what in expected:
                await wait_for(
                    prom,
                    promql,
                    lambda r: any(float(x["value"][1]) >= 1 for x in r),
                    timeout=20.0,
                    diagnose=diagnose,
                    what=f"counted by {what}",
                )

            # The rules load in a real Prometheus and evaluate without error.
            groups = (await prom.get("/api/v1/rules")).json()["data"]["groups"]
            rules = [rule for group in groups for rule in group["rules"]]
            declared = [
                rule
                for path in sorted(RULES_DIR.glob("*.yml"))
                for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
                for rule in group["rules"]
            ]
            assert sorted(r["name"] for r in rules) == sorted(r["alert"] for r in declared)
            broken = {r["name"]: r.get("lastError") for r in rules if r["health"] == "err"}
            assert not broken, f"rules failing in Prometheus: {broken}"
            firing = [
                r["name"] for r in rules if r["type"] == "alerting" and r["state"] == "firing"
            ]
            assert "MGServiceIndisponible" not in firing
            assert "MGRelaisOutboxSansLeader" not in firing

            # Every dashboard query is valid PromQL for this Prometheus.
            queries = dashboard_queries()
            assert queries
            refused: dict[str, str] = {}
            for where, promql in queries:
                answer = await prom.get("/api/v1/query", params={"query": promql})
                if answer.status_code != 200:
                    refused[where] = f"{answer.json().get('error')}: {promql}"
            assert not refused, f"dashboard queries refused by Prometheus: {refused}"
    finally:
        await asyncio.gather(
            prometheus.stop(), *(s.stop() for s in services.values()), return_exceptions=True
        )
