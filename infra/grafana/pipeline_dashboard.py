"""The overview of the pipeline: the four services side by side."""

from __future__ import annotations

from dashboard_model import Dashboard
from panels import (
    AGE_LIMITS,
    API_ROUTES,
    LEADER_LIMITS,
    RATE,
    UP_MAPPINGS,
    quantiles,
    stat,
    targets,
    thresholds,
    timeseries,
)


def pipeline() -> Dashboard:
    d = Dashboard(
        "mg-pipeline",
        "Matière Grise — pipeline",
        "Vue d'ensemble des quatre services : événements consommés et publiés, latence des "
        "traitements, outbox, lettres mortes, retard des consommateurs Kafka, trafic HTTP.",
        tags=("pipeline",),
    )
    d.row(
        "État des services",
        stat(
            "Services joignables",
            "`up` par service : 0 quand Prometheus ne lit plus ses métriques "
            "(alerte MGServiceIndisponible).",
            targets(("up", "{{job}} {{instance}}")),
            width=12,
            limits=thresholds((None, "red"), (1, "green")),
            mappings=UP_MAPPINGS,
        ),
        stat(
            "Relais d'outbox actifs",
            "Instances qui détiennent le verrou du relais, par service : exactement 1 attendu "
            "(alerte MGRelaisOutboxSansLeader à 0).",
            targets(("sum by (service) (mg_outbox_relay_leader)", "{{service}}")),
            width=12,
            limits=LEADER_LIMITS,
        ),
    )
    d.row(
        "Événements",
        timeseries(
            "Événements consommés par service et type",
            "mg_events_consumed_total : handled, duplicate, ignored, retried, dead_lettered.",
            targets(
                (
                    "sum by (service, event_type, outcome) "
                    f"(rate(mg_events_consumed_total[{RATE}]))",
                    "{{service}} · {{event_type}} · {{outcome}}",
                )
            ),
            unit="ops",
        ),
        timeseries(
            "Événements publiés par service et type",
            "mg_events_published_total : événements publiés par le relais d'outbox.",
            targets(
                (
                    f"sum by (service, event_type) (rate(mg_events_published_total[{RATE}]))",
                    "{{service}} · {{event_type}}",
                )
            ),
            unit="ops",
        ),
        timeseries(
            "Latence des traitements p50 / p99",
            "mg_handler_duration_seconds : traitement d'un événement, commit compris.",
            quantiles("mg_handler_duration_seconds", "service", "", "{{service}}", (0.5, 0.99)),
            unit="s",
        ),
        timeseries(
            "Messages Kafka reçus et traités (FastStream)",
            "faststream_received_messages_total par service et sujet ; "
            "faststream_received_processed_messages_total par statut.",
            targets(
                (
                    f"sum by (job, handler) (rate(faststream_received_messages_total[{RATE}]))",
                    "reçus {{job}} ← {{handler}}",
                ),
                (
                    "sum by (job, status) "
                    f"(rate(faststream_received_processed_messages_total[{RATE}]))",
                    "traités {{job}} · {{status}}",
                ),
            ),
            unit="ops",
        ),
    )
    d.row(
        "Outbox",
        timeseries(
            "Lignes d'outbox en attente",
            "mg_outbox_backlog, lu sur l'instance qui mène le relais.",
            targets(
                (
                    "max by (service) (mg_outbox_backlog "
                    "and on (service, instance) mg_outbox_relay_leader == 1)",
                    "{{service}}",
                )
            ),
        ),
        timeseries(
            "Âge de la plus ancienne ligne non publiée",
            "mg_outbox_oldest_age_seconds (0 quand l'outbox est vide) ; alerte MGOutboxBloque "
            "au-delà de 60 s pendant 5 min.",
            targets(
                (
                    "max by (service) (mg_outbox_oldest_age_seconds "
                    "and on (service, instance) mg_outbox_relay_leader == 1)",
                    "{{service}}",
                )
            ),
            unit="s",
            limits=AGE_LIMITS,
        ),
    )
    d.row(
        "Échecs",
        timeseries(
            "Lettres mortes",
            "mg_dead_letters_total : messages envoyés sur <sujet>.<service>.dlq, par raison.",
            targets(
                (
                    f"sum by (service, topic, reason) (increase(mg_dead_letters_total[{RATE}]))",
                    "{{service}} · {{topic}} · {{reason}}",
                )
            ),
            bars=True,
        ),
        timeseries(
            "Événements rejoués ou en lettres mortes",
            "mg_events_consumed_total, issues retried et dead_lettered.",
            targets(
                (
                    "sum by (service, event_type, outcome) (rate(mg_events_consumed_total"
                    f'{{outcome=~"retried|dead_lettered"}}[{RATE}]))',
                    "{{service}} · {{event_type}} · {{outcome}}",
                )
            ),
            unit="ops",
        ),
        timeseries(
            "Exceptions des traitements (FastStream)",
            "faststream_received_processed_messages_exceptions_total : le message est "
            "redélivré (base ou Kafka indisponible).",
            targets(
                (
                    "sum by (job, handler, exception_type) "
                    f"(rate(faststream_received_processed_messages_exceptions_total[{RATE}]))",
                    "{{job}} ← {{handler}} · {{exception_type}}",
                )
            ),
            unit="ops",
            width=24,
        ),
    )
    d.row(
        "Kafka",
        timeseries(
            "Retard des consommateurs par partition",
            "mg_consumer_lag : messages entre la position du groupe et la fin de la partition.",
            targets(
                (
                    "max by (service, topic, partition) (mg_consumer_lag)",
                    "{{service}} · {{topic}}[{{partition}}]",
                )
            ),
        ),
        timeseries(
            "Messages en cours de traitement",
            "faststream_received_messages_in_process par service et sujet.",
            targets(
                (
                    "sum by (job, handler) (faststream_received_messages_in_process)",
                    "{{job}} ← {{handler}}",
                )
            ),
        ),
    )
    d.row(
        "HTTP",
        timeseries(
            "Requêtes HTTP par service",
            "mg_http_requests_total, hors /metrics et /health.",
            targets(
                (
                    f"sum by (service, status) (rate(mg_http_requests_total{{{API_ROUTES}}}"
                    f"[{RATE}]))",
                    "{{service}} · {{status}}",
                )
            ),
            unit="reqps",
        ),
        timeseries(
            "Part des erreurs 5xx",
            "Requêtes 5xx / toutes les requêtes de l'API ; alerte MGTauxErreursHTTP à 5 %.",
            targets(
                (
                    "sum by (service) (rate(mg_http_requests_total"
                    f'{{status=~"5..", {API_ROUTES}}}[{RATE}])) / sum by (service) '
                    f"(rate(mg_http_requests_total{{{API_ROUTES}}}[{RATE}]))",
                    "{{service}}",
                )
            ),
            unit="percentunit",
            limits=thresholds((None, "green"), (0.05, "red")),
        ),
    )
    return d
