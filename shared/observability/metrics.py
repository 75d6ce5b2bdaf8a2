"""The product's own Prometheus metrics, declared once (see docs/metrics.md).

FastStream's middleware adds the ``faststream_*`` series of message handling;
these are the outbox, dead letters, idempotency and business figures.

A labelled series appears only after its first observation, which ``increase()``
cannot see. :func:`initialise_series` creates at zero, when a service starts, every
series whose labels are known in advance: the event types it consumes and publishes,
the outcomes of a consumed event, the generic dead-letter reasons of each topic it
reads. :data:`EMITTED_BY` says which services expose each metric.
"""

from __future__ import annotations

from faststream.prometheus.container import MetricsContainer
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from shared.contracts.registry import EVENT_MODELS
from shared.contracts.topics import TOPICS

# What a person or a remote server may keep us waiting for (a routing, an SMTP or webhook
# send): from 10 ms to 30 s, one scale so that their dashboards compare.
WAIT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

EVENTS_CONSUMED = Counter(
    "mg_events_consumed_total",
    "Events received by a consumer, by outcome "
    "(handled, duplicate, ignored, dead_lettered, retried).",
    ["service", "event_type", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "mg_handler_duration_seconds",
    "Time to handle one consumed event, database commit included.",
    ["service", "event_type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_PUBLISHED = Counter(
    "mg_events_published_total",
    "Events published by the outbox relay.",
    ["service", "event_type"],
)
OUTBOX_BACKLOG = Gauge(
    "mg_outbox_backlog",
    "Outbox rows not yet published.",
    ["service"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "mg_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox row (0 when empty).",
    ["service"],
)
OUTBOX_RELAY_LEADER = Gauge(
    "mg_outbox_relay_leader",
    "1 when this instance holds the outbox relay lock of its service.",
    ["service"],
)
DEAD_LETTERS = Counter(
    "mg_dead_letters_total",
    "Messages sent to a dead-letter topic, by original topic and reason.",
    ["service", "topic", "reason"],
)
HTTP_REQUESTS = Counter(
    "mg_http_requests_total",
    "HTTP requests served, by route and status code.",
    ["service", "method", "route", "status"],
)
DEMANDES = Counter(
    "mg_demandes_total",
    "Demandes that changed status, by département and new status.",
    ["departement", "status"],
)
CONSUMER_LAG = Gauge(
    "mg_consumer_lag",
    "Records behind the end of the partition, per consumer group and partition.",
    ["service", "topic", "partition"],
)
MATCHING_OUTCOMES = Counter(
    "mg_matching_outcomes_total",
    "Demandes routed by the matching service, by département and outcome (proposed, unmatched).",
    ["departement", "outcome"],
)
MATCHING_LATENCY = Histogram(
    "mg_matching_latency_seconds",
    "From a demande's submission to its first proposal (or unmatched verdict).",
    ["departement"],
    buckets=WAIT_BUCKETS,
)
INVOICES = Counter(
    "mg_invoices_total",
    "Invoices and credit notes issued, by département and kind (cotisation, mission, avoir).",
    ["departement", "kind"],
)
INVOICED_EUROS = Counter(
    "mg_invoiced_euros_total",
    "Euros invoiced including tax, by département and kind (credit notes: kind avoir).",
    ["departement", "kind"],
)
TRAINING_REGISTRATIONS = Counter(
    "mg_training_registrations_total",
    "Registrations to training sessions, by département and outcome "
    "(registered, waiting, promoted, cancelled).",
    ["departement", "outcome"],
)
NOTIFICATIONS = Counter(
    "mg_notifications_total",
    "Delivery attempts by channel (email, webhook) and outcome "
    "(sent, retried, dead_lettered, skipped).",
    ["channel", "outcome"],
)
NOTIFICATION_SEND_SECONDS = Histogram(
    "mg_notification_send_seconds",
    "Time of one send attempt (SMTP or webhook POST), by channel.",
    ["channel"],
    buckets=WAIT_BUCKETS,
)
OFFSET_COMMITS = Counter(
    "mg_offset_commits_total",
    "Background commits of consumer offsets, by outcome "
    "(committed, abandoned after a rebalance, failed and retried).",
    ["service", "outcome"],
)


# --- who emits what ----------------------------------------------------------------------

SERVICES: tuple[str, ...] = ("requests", "matching", "billing", "notifications", "resources")
# The shared runtime, outbox relay and idempotent consumer of every service.
EVERY_SERVICE = "every service"

EMITTED_BY: dict[str, str] = {
    "mg_events_consumed": EVERY_SERVICE,
    "mg_handler_duration_seconds": EVERY_SERVICE,
    "mg_events_published": EVERY_SERVICE,
    "mg_outbox_backlog": EVERY_SERVICE,
    "mg_outbox_oldest_age_seconds": EVERY_SERVICE,
    "mg_outbox_relay_leader": EVERY_SERVICE,
    "mg_offset_commits": EVERY_SERVICE,
    "mg_dead_letters": EVERY_SERVICE,
    "mg_http_requests": EVERY_SERVICE,
    "mg_consumer_lag": EVERY_SERVICE,
    "mg_demandes": "requests",
    "mg_matching_outcomes": "matching",
    "mg_matching_latency_seconds": "matching",
    "mg_invoices": "billing",
    "mg_invoiced_euros": "billing",
    "mg_notifications": "notifications",
    "mg_notification_send_seconds": "notifications",
    "mg_training_registrations": "resources",
}
"""Family name (a counter's without ``_total``) -> the service that emits it, or
:data:`EVERY_SERVICE`. Every service consumes at least one topic
(``shared/contracts/topics.py``), so the consumer's metrics are on all four."""


def emitters(family: str) -> tuple[str, ...]:
    """The services whose ``/metrics`` carry ``family``."""
    owner = EMITTED_BY[family]
    return SERVICES if owner == EVERY_SERVICE else (owner,)


# --- series known before the first event ----------------------------------------------------

# Outcomes of an event type the consumer handles; ``ignored`` belongs to the types it
# does not handle, which are not known in advance.
CONSUMED_OUTCOMES = ("handled", "duplicate", "retried", "dead_lettered")
# What becomes of a background commit of consumer offsets (shared/messaging/offsets.py).
OFFSET_COMMIT_OUTCOMES = ("committed", "abandoned", "failed")
# The dead-letter reasons of every consumer; handlers add their own (``conflict``, ...).
DEAD_LETTER_REASONS = ("invalid_envelope", "invalid_payload", "handler_error")
# The one exception the idempotent consumer lets FastStream see, so that the message is
# delivered again (``shared.messaging.consumer.InfrastructureUnavailable``).
REDELIVERY_EXCEPTION = "InfrastructureUnavailable"


def consumed_topics(service: str) -> list[str]:
    return [t.name for t in TOPICS if service in t.consumers]


def consumed_event_types(service: str) -> list[str]:
    topics = set(consumed_topics(service))
    return [m.event_type for m in EVENT_MODELS if m.topic in topics]


def published_event_types(service: str) -> list[str]:
    topics = {t.name for t in TOPICS if t.writer == service}
    return [m.event_type for m in EVENT_MODELS if m.topic in topics]


def initialise_series(
    service: str, instance_id: str, registry: CollectorRegistry = REGISTRY
) -> None:
    """Create at zero the series of ``service`` whose labels are known before its first
    event, so that they are on ``/metrics`` from the start and ``increase()`` counts the
    first increment. ``instance_id`` is FastStream's ``app_name`` label (the broker's
    client id). Safe to call again: ``labels()`` keeps an existing series as it is."""
    for event_type in consumed_event_types(service):
        HANDLER_SECONDS.labels(service, event_type)
        for outcome in CONSUMED_OUTCOMES:
            EVENTS_CONSUMED.labels(service, event_type, outcome)
    for event_type in published_event_types(service):
        EVENTS_PUBLISHED.labels(service, event_type)
    for outcome in OFFSET_COMMIT_OUTCOMES:
        OFFSET_COMMITS.labels(service, outcome)
    # FastStream's own collectors: the container finds those its middleware declared
    # in ``registry`` (shared.messaging.broker), or declares them as the middleware would.
    faststream = MetricsContainer(registry, custom_label_names=())
    for topic in consumed_topics(service):
        for reason in DEAD_LETTER_REASONS:
            DEAD_LETTERS.labels(service, topic, reason)
        faststream.received_processed_messages_exceptions_total.labels(
            app_name=instance_id, broker="kafka", handler=topic, exception_type=REDELIVERY_EXCEPTION
        )
