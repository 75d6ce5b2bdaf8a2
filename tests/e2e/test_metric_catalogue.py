"""After the demo's scenario, every metric of the catalogue is on the ``/metrics`` of the
services that emit it, with samples, and the business metrics carry the label values of
what was played.

The four services run as their own processes (``stack/harness/stack.py``) on fresh
databases, with the real broker and a real SMTP server; the scenario is the demo's own
(``stack/scenario/``, :func:`stack.scenario.play.play`), smaller: two départements, a few
dozen demandes from real communes, actors accepting, declining and letting proposals
expire, missions completed and invoiced, the annual cotisation run, notifications sent.

The catalogue is read from the code: the product's metrics from
``shared/observability/metrics.py`` (with :data:`EMITTED_BY`, who emits each), FastStream's
from the middleware that ``shared.messaging.broker`` puts on every broker. The expected
label values come from the services' APIs and from the events the scenario saw, never
from the metrics themselves.
"""

from __future__ import annotations

import io
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from rich.console import Console

import shared.observability.metrics as product_metrics
from shared.auth.tokens import Role
from shared.messaging.broker import make_broker
from shared.observability.metrics import (
    CONSUMED_OUTCOMES,
    DEAD_LETTER_REASONS,
    EMITTED_BY,
    SERVICES,
    consumed_event_types,
    consumed_topics,
    emitters,
    published_event_types,
)
from shared.settings import AuthSettings, KafkaSettings
from stack.harness.stack import Stack, StackOptions, bearer_header
from stack.scenario.outcome import Played
from stack.scenario.play import play
from stack.scenario.summary import STATUS_LABELS, deliveries, invoiced

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.timeout(420)]

DEPARTEMENTS = ("49", "35")
DEMANDES = 40
# A proposal left unanswered expires after this long: the scenario lets some expire.
RESPONSE_SECONDS = 6

# Counted only when a publication fails, and labelled with the client's exception class:
# no label set to create in advance, so only its declaration is on /metrics.
FAILURE_ONLY = frozenset({"faststream_published_messages_exceptions"})

Families = dict[str, list[Sample]]


# --- the catalogue -------------------------------------------------------------------------


def product_families() -> dict[str, str]:
    """Family name -> type, for every metric of shared/observability/metrics.py."""
    found: dict[str, str] = {}
    for value in vars(product_metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                found[family.name] = family.type
    return found


def faststream_families() -> dict[str, str]:
    """Family name -> type, for the middleware that every broker of the product carries."""
    registry = CollectorRegistry()
    make_broker(
        KafkaSettings(security_protocol="PLAINTEXT"),
        client_id="metric-catalogue",
        registry=registry,
    )
    return {family.name: family.type for family in registry.collect()}


def main_samples(family: str, kind: str, samples: list[Sample]) -> list[Sample]:
    """The samples that carry the value: a counter's ``_total``, a histogram's ``_count``,
    a gauge itself (``_created`` alone does not count)."""
    name = {"counter": f"{family}_total", "histogram": f"{family}_count"}.get(kind, family)
    return [s for s in samples if s.name == name]


def value(families: Families, series: str, **labels: str) -> float:
    """Sum of the samples of ``series`` whose labels include ``labels``."""
    family = series.removesuffix("_total").removesuffix("_count").removesuffix("_sum")
    return sum(
        s.value
        for s in families.get(family, [])
        if s.name == series and all(s.labels.get(k) == v for k, v in labels.items())
    )


def label_sets(families: Families, series: str, *names: str) -> set[tuple[str, ...]]:
    family = series.removesuffix("_total").removesuffix("_count")
    return {
        tuple(s.labels.get(n, "") for n in names)
        for s in families.get(family, [])
        if s.name == series
    }


# --- the stack, the scenario, the scrape ---------------------------------------------------


async def scrape(client: httpx.AsyncClient) -> Families:
    response = await client.get("/metrics/")
    response.raise_for_status()
    return {f.name: f.samples for f in text_string_to_metric_families(response.text)}


async def api_totals(
    requests_url: str, departements: tuple[str, ...]
) -> dict[tuple[str, str], int]:
    """(département, status) -> demandes in that status now, from the requests API."""
    auth = AuthSettings()
    totals: dict[tuple[str, str], int] = {}
    async with httpx.AsyncClient(base_url=requests_url, timeout=30) as client:
        for dep in departements:
            for status in STATUS_LABELS:
                response = await client.get(
                    f"/v1/requests?status={status}&limit=1",
                    headers=bearer_header(auth, Role.DEPARTEMENT, dep),
                )
                response.raise_for_status()
                totals[(dep, status)] = int(response.json()["total"])
    return totals


def seen_by_departement(played: Played) -> dict[str, set[str]]:
    """Département -> every lifecycle step the scenario saw on Kafka for its demandes."""
    outcome = played.outcome
    seen: dict[str, set[str]] = {dep: set() for dep in played.departements}
    for request_id, kinds in outcome.seen.items():
        seen[outcome.departement[request_id]] |= kinds
    return seen


def first_routing(played: Played) -> set[tuple[str, str]]:
    """(département, outcome) of matching's first routing of the scenario's demandes:
    proposed when an actor was ever proposed, unmatched when none ever was."""
    outcome = played.outcome
    found = set()
    for request_id, kinds in outcome.seen.items():
        dep = outcome.departement[request_id]
        if "proposed" in kinds:
            found.add((dep, "proposed"))
        elif "unmatched" in kinds:
            found.add((dep, "unmatched"))
    return found


# The scenario does not use the resources platform's API yet (no step of the demo creates
# sheets or trainings); its HTTP and registration metrics are sampled by
# tests/component/test_resources_*.py instead. Its consumers' metrics are checked here.
NOT_IN_THE_SCENARIO = {
    ("mg_http_requests", "resources"),
    ("mg_training_registrations", "resources"),
}


async def test_every_catalogued_metric_is_on_metrics_after_the_scenario(
    kafka_topics: KafkaSettings, tmp_path: Path
) -> None:
    started = time.monotonic()
    options = StackOptions(
        notifications=True,
        resources=True,
        departements=(),  # the scenario loads the shipped catalogues itself
        run_dir=tmp_path,
        outbox_poll_seconds=0.5,
        extra_env={
            "MG_MATCHING_RESPONSE_SECONDS": str(RESPONSE_SECONDS),
            "MG_MATCHING_EXPIRY_SCAN_SECONDS": "1",
            "MG_NOTIFICATIONS_SMTP_CONCURRENCY": "16",
            "MG_NOTIFICATIONS_DISPATCH_POLL_SECONDS": "0.2",
        },
    )
    log = io.StringIO()
    async with Stack(options, kafka_topics) as stack:
        urls = {service: stack.url(service) for service in stack.services}
        assert set(urls) == set(SERVICES)
        played = await play(
            urls,
            kafka_topics,
            demandes=DEMANDES,
            seed=6,
            console=Console(file=log, width=120),
            departements=DEPARTEMENTS,
            billing_env={"MG_BILLING_DATABASE_URL": stack.database_urls["billing"]},
        )
        # The APIs first: a service counts what it committed right after the commit, so
        # whatever they show is counted by the time of the scrape.
        totals = await api_totals(urls["requests"], DEPARTEMENTS)
        money = await invoiced(urls["billing"], DEPARTEMENTS)
        sent = await deliveries(urls["notifications"], DEPARTEMENTS)
        exposed: dict[str, Families] = {}
        for service, url in urls.items():
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                exposed[service] = await scrape(client)
        assert stack.mail is not None
        mails = stack.mail.count  # a message is counted once the mail server took it
        stack_logs = {s: stack.instance(s).process.log_tail(15) for s in stack.services}
    played_seconds = time.monotonic() - started
    scenario_log = log.getvalue()
    context = f"\n--- scenario:\n{scenario_log[-3000:]}\n--- services:\n" + "\n".join(
        f"{s}:\n{tail}" for s, tail in stack_logs.items()
    )

    # --- every metric of the catalogue, on every service that emits it, with samples -----
    product = product_families()
    assert set(product) == set(EMITTED_BY), (
        "shared/observability/metrics.py and EMITTED_BY disagree: "
        f"{sorted(set(product) ^ set(EMITTED_BY))}"
    )
    faststream = faststream_families()
    missing: list[str] = []
    for family, kind in product.items():
        for service in emitters(family):
            if (family, service) in NOT_IN_THE_SCENARIO:
                continue
            if not main_samples(family, kind, exposed[service].get(family, [])):
                missing.append(f"{family} on {service}")
    for family, kind in faststream.items():
        for service in SERVICES:  # every service consumes and publishes
            if family not in exposed[service]:
                missing.append(f"{family} on {service} (not declared)")
            elif family not in FAILURE_ONLY and not main_samples(
                family, kind, exposed[service][family]
            ):
                missing.append(f"{family} on {service}")
    assert not missing, f"metrics without a sample after the scenario: {missing}{context}"

    # --- the series known in advance are there from the start -----------------------------
    for service in SERVICES:
        families = exposed[service]
        for event_type in consumed_event_types(service):
            for outcome in CONSUMED_OUTCOMES:
                assert ("mg_events_consumed" in families) and label_sets(
                    families, "mg_events_consumed_total", "event_type", "outcome"
                ) >= {(event_type, outcome)}, f"{service}: {event_type} {outcome}"
        for topic in consumed_topics(service):
            assert label_sets(families, "mg_dead_letters_total", "topic", "reason") >= {
                (topic, reason) for reason in DEAD_LETTER_REASONS
            }, f"{service}: dead letters of {topic}"
            assert label_sets(
                families, "faststream_received_processed_messages_exceptions_total", "handler"
            ) >= {(topic,)}, f"{service}: FastStream exceptions of {topic}"
            assert any(s.labels["topic"] == topic for s in families["mg_consumer_lag"]), (
                f"{service}: no lag reported for {topic}"
            )
        assert label_sets(families, "mg_events_published_total", "event_type") >= {
            (t,) for t in published_event_types(service)
        }, f"{service}: published event types"
        assert value(families, "mg_outbox_relay_leader", service=service) == 1.0, service
    assert label_sets(exposed["notifications"], "mg_notifications_total", "channel", "outcome") >= {
        (channel, outcome)
        for channel in ("email", "webhook")
        for outcome in ("sent", "retried", "dead_lettered", "skipped")
    }

    # --- the pipeline's figures agree with what was played ---------------------------------
    outcome = played.outcome
    submitted = len(outcome.submitted_at)
    assert submitted >= DEMANDES * 0.9, f"only {submitted} demandes submitted{context}"
    requests_m, matching_m = exposed["requests"], exposed["matching"]
    assert (
        value(
            requests_m,
            "mg_events_consumed_total",
            event_type="requests.command.submit-request.v1",
            outcome="handled",
        )
        >= outcome.channel["événement"]
        > 0
    )
    assert (
        value(
            requests_m,
            "mg_http_requests_total",
            method="POST",
            route="/v1/requests",
            status="201",
        )
        >= outcome.channel["HTTP"]
    )
    assert (
        value(
            requests_m,
            "mg_events_published_total",
            event_type="requests.request.submitted.v2",
        )
        >= submitted
    )
    assert (
        value(
            matching_m,
            "mg_events_consumed_total",
            event_type="requests.request.submitted.v2",
            outcome="handled",
        )
        >= submitted
    )

    # --- business metrics: the label values of the départements played ---------------------
    # Demandes: every status the APIs show now, every step the events showed, by département.
    seen = seen_by_departement(played)
    expected_demandes = {(dep, s) for (dep, s), n in totals.items() if n > 0}
    for dep, kinds in seen.items():
        expected_demandes.add((dep, "submitted"))
        if "proposed" in kinds:
            expected_demandes.add((dep, "proposed"))
        if "accepted" in kinds:
            expected_demandes.add((dep, "in_progress"))
    assert {s for _, s in expected_demandes} == set(STATUS_LABELS), (
        f"the scenario did not go through every status: {sorted(expected_demandes)}{context}"
    )
    for dep, status in sorted(expected_demandes):
        assert value(requests_m, "mg_demandes_total", departement=dep, status=status) >= max(
            1, totals[(dep, status)]
        ), f"mg_demandes_total{{{dep}, {status}}}{context}"
    for dep in DEPARTEMENTS:
        in_api = sum(n for (d, _), n in totals.items() if d == dep)
        assert value(requests_m, "mg_demandes_total", departement=dep, status="submitted") >= in_api

    # Matching: proposed and unmatched by département; one latency per routed demande.
    routed = first_routing(played)
    assert {o for _, o in routed} == {"proposed", "unmatched"}, f"{routed}{context}"
    for dep, routing in sorted(routed):
        assert (
            value(matching_m, "mg_matching_outcomes_total", departement=dep, outcome=routing) >= 1
        ), f"mg_matching_outcomes_total{{{dep}, {routing}}}"
    for dep in DEPARTEMENTS:
        outcomes = value(matching_m, "mg_matching_outcomes_total", departement=dep)
        assert outcomes >= sum(1 for i in outcome.seen if outcome.departement[i] == dep) * 0.9
        assert value(matching_m, "mg_matching_latency_seconds_count", departement=dep) == outcomes

    # Billing: every (département, kind) of the invoices in the API, with their euros.
    billing_m = exposed["billing"]
    assert {kind for _, kind in money} >= {"cotisation", "mission"}, f"{money}{context}"
    for (dep, kind), (count, total) in sorted(money.items()):
        assert value(billing_m, "mg_invoices_total", departement=dep, kind=kind) >= count
        euros_counted = Decimal(
            str(value(billing_m, "mg_invoiced_euros_total", departement=dep, kind=kind))
        )
        assert euros_counted >= total - Decimal("0.01") * count, (dep, kind, euros_counted, total)
    assert {dep for dep, _ in money} == set(DEPARTEMENTS)

    # Notifications: emails the SMTP server accepted, counted as sent.
    notifications_m = exposed["notifications"]
    emails_sent = value(notifications_m, "mg_notifications_total", channel="email", outcome="sent")
    sent_in_api = sum(
        n for (channel, status), n in sent.items() if (channel, status) == ("email", "sent")
    )
    assert 0 < sent_in_api <= emails_sent <= mails, (sent_in_api, emails_sent, mails)
    assert value(notifications_m, "mg_notification_send_seconds_count", channel="email") >= (
        emails_sent
    )
    assert outcome.email_latencies_ms, f"no acknowledgement email seen{context}"

    print(
        f"\nscenario: {submitted} demandes, answers {dict(outcome.answers)}, "
        f"{sum(c for c, _ in money.values())} invoices, {mails} emails; "
        f"{played.seconds:.0f} s of scenario, {played_seconds:.0f} s in all"
    )
