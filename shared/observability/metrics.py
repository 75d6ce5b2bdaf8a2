"""The product's own Prometheus metrics, declared once (see docs/metrics.md).

FastStream's middleware adds the ``faststream_*`` series of message handling;
these are the outbox, dead letters, idempotency and business figures.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
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
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
