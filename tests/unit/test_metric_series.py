"""The series that every service creates at zero when it starts, and who emits what."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

import shared.observability.metrics as product_metrics
from shared.messaging.broker import make_broker
from shared.messaging.consumer import InfrastructureUnavailable
from shared.observability.metrics import (
    CONSUMED_OUTCOMES,
    DEAD_LETTER_REASONS,
    EMITTED_BY,
    REDELIVERY_EXCEPTION,
    SERVICES,
    consumed_event_types,
    consumed_topics,
    emitters,
    initialise_series,
    published_event_types,
)
from shared.settings import KafkaSettings


def declared_families() -> set[str]:
    return {
        family.name
        for value in vars(product_metrics).values()
        if isinstance(value, MetricWrapperBase)
        for family in value.describe()
    }


def test_every_metric_names_the_services_that_emit_it() -> None:
    assert declared_families() == set(EMITTED_BY)
    for family in EMITTED_BY:
        assert emitters(family) and set(emitters(family)) <= set(SERVICES)
    # Every service consumes a topic: the consumer's metrics are on all four.
    assert all(consumed_topics(service) for service in SERVICES)


def test_the_known_label_sets_come_from_the_contracts() -> None:
    assert consumed_topics("billing") == ["matching.assignment.v1"]
    assert "matching.assignment.completed.v1" in consumed_event_types("billing")
    assert "requests.command.submit-request.v1" in consumed_event_types("requests")
    assert set(published_event_types("requests")) == {
        # v1 is no longer written (ADR 0020); its series stays at zero.
        "requests.request.submitted.v1",
        "requests.request.submitted.v2",
        "requests.contact.recorded.v1",
        "requests.request.withdrawn.v1",
        "requests.project.phase_opened.v1",
        "requests.project.phase_closed.v1",
        "requests.project.duplicate_suspected.v1",
    }
    assert "notifications.delivery.sent.v1" in published_event_types("notifications")
    # The exception FastStream sees is the one the idempotent consumer raises.
    assert InfrastructureUnavailable.__name__ == REDELIVERY_EXCEPTION


def test_initialise_series_creates_them_at_zero() -> None:
    registry = CollectorRegistry()
    make_broker(
        KafkaSettings(security_protocol="PLAINTEXT"), client_id="billing-series", registry=registry
    )
    initialise_series("billing", "billing-series", registry)
    for event_type in consumed_event_types("billing"):
        for outcome in CONSUMED_OUTCOMES:
            labels = {"service": "billing", "event_type": event_type, "outcome": outcome}
            # The process-wide registry: other tests of the run may have counted already.
            assert REGISTRY.get_sample_value("mg_events_consumed_total", labels) is not None
        assert (
            REGISTRY.get_sample_value(
                "mg_handler_duration_seconds_count",
                {"service": "billing", "event_type": event_type},
            )
            is not None
        )
    for event_type in published_event_types("billing"):
        labels = {"service": "billing", "event_type": event_type}
        assert REGISTRY.get_sample_value("mg_events_published_total", labels) is not None
    for reason in DEAD_LETTER_REASONS:
        labels = {"service": "billing", "topic": "matching.assignment.v1", "reason": reason}
        assert REGISTRY.get_sample_value("mg_dead_letters_total", labels) is not None
    exceptions = {
        "app_name": "billing-series",
        "broker": "kafka",
        "handler": "matching.assignment.v1",
        "exception_type": REDELIVERY_EXCEPTION,
    }
    name = "faststream_received_processed_messages_exceptions_total"
    assert registry.get_sample_value(name, exceptions) == 0.0
    # Again: an existing series keeps its value.
    counter = registry._names_to_collectors[name]
    counter.labels(*exceptions.values()).inc()  # type: ignore[attr-defined]
    initialise_series("billing", "billing-series", registry)
    assert registry.get_sample_value(name, exceptions) == 1.0
