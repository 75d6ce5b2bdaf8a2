"""One dashboard per service: availability, HTTP, events, outbox, Kafka, business."""

from __future__ import annotations

from dashboard_model import Dashboard
from panels import (
    AGE_LIMITS,
    API_ROUTES,
    LEADER_LIMITS,
    RATE,
    UP_MAPPINGS,
    Json,
    quantiles,
    query_variable,
    stat,
    targets,
    thresholds,
    timeseries,
)

SERVICES = ("requests", "matching", "billing", "notifications", "resources")
SERVICE_TITLES = {
    "requests": "demandes (requests)",
    "matching": "mise en relation (matching)",
    "billing": "facturation (billing)",
    "notifications": "notifications",
    "resources": "ressources et échanges (resources)",
}


def business_panels(service: str, inst: str) -> list[Json]:
    if service == "requests":
        return [
            timeseries(
                "Demandes par nouveau statut",
                "mg_demandes_total : changements de statut des demandes, par statut.",
                targets(
                    (
                        f'sum by (status) (rate(mg_demandes_total{{job="requests", {inst}}}'
                        f"[{RATE}]))",
                        "{{status}}",
                    )
                ),
                unit="ops",
                width=24,
            )
        ]
    if service == "matching":
        return [
            timeseries(
                "Issues de la mise en relation",
                "mg_matching_outcomes_total : proposed (au moins un acteur) ou unmatched.",
                targets(
                    (
                        "sum by (outcome) (rate(mg_matching_outcomes_total"
                        f'{{job="matching", {inst}}}[{RATE}]))',
                        "{{outcome}}",
                    )
                ),
                unit="ops",
            ),
            timeseries(
                "Délai de mise en relation p50 / p90 / p99",
                "mg_matching_latency_seconds : du dépôt de la demande à la première "
                "proposition (ou au constat qu'aucun acteur ne convient).",
                quantiles(
                    "mg_matching_latency_seconds",
                    "",
                    f'job="matching", {inst}',
                    "",
                    (0.5, 0.9, 0.99),
                ),
                unit="s",
            ),
        ]
    if service == "billing":
        return [
            timeseries(
                "Factures et avoirs émis",
                "mg_invoices_total par nature (cotisation, mission, avoir).",
                targets(
                    (
                        f'sum by (kind) (increase(mg_invoices_total{{job="billing", {inst}}}'
                        f"[{RATE}]))",
                        "{{kind}}",
                    )
                ),
                bars=True,
            ),
            timeseries(
                "Montant facturé TTC",
                "mg_invoiced_euros_total par nature ; les avoirs y sont comptés en valeur "
                "absolue, sous « avoir ».",
                targets(
                    (
                        "sum by (kind) (increase(mg_invoiced_euros_total"
                        f'{{job="billing", {inst}}}[{RATE}]))',
                        "{{kind}}",
                    )
                ),
                unit="currencyEUR",
                bars=True,
            ),
        ]
    if service == "resources":
        return [
            timeseries(
                "Inscriptions aux formations par issue",
                "mg_training_registrations_total : registered, waiting, promoted, cancelled.",
                targets(
                    (
                        "sum by (outcome) (rate(mg_training_registrations_total"
                        f'{{job="resources", {inst}}}[{RATE}]))',
                        "{{outcome}}",
                    )
                ),
                unit="ops",
                width=24,
            )
        ]
    return [
        timeseries(
            "Notifications par canal et issue",
            "mg_notifications_total : email ou webhook ; sent, retried, dead_lettered.",
            targets(
                (
                    "sum by (channel, outcome) (rate(mg_notifications_total"
                    f'{{job="notifications", {inst}}}[{RATE}]))',
                    "{{channel}} · {{outcome}}",
                )
            ),
            unit="ops",
            width=24,
        )
    ]


def service_dashboard(service: str) -> Dashboard:
    inst = 'instance=~"$instance"'
    own = f'service="{service}", {inst}'
    fs = f'job="{service}", {inst}'
    d = Dashboard(
        f"mg-service-{service}",
        f"Matière Grise — service {SERVICE_TITLES[service]}",
        f"Le service {service} : disponibilité, API HTTP, événements consommés et publiés, "
        "outbox, Kafka et indicateurs métier.",
        tags=("service", service),
        variables=[
            query_variable("instance", "Instance", f'label_values(up{{job="{service}"}}, instance)')
        ],
    )
    d.row(
        "État",
        stat(
            "Instances joignables",
            "`up` de chaque instance.",
            targets((f'up{{job="{service}", {inst}}}', "{{instance}}")),
            limits=thresholds((None, "red"), (1, "green")),
            mappings=UP_MAPPINGS,
        ),
        stat(
            "Relais d'outbox actifs",
            "Instances qui détiennent le verrou du relais : exactement 1 attendu.",
            targets((f'sum(mg_outbox_relay_leader{{service="{service}"}})', "relais")),
            limits=LEADER_LIMITS,
        ),
        stat(
            "Lignes d'outbox en attente",
            "mg_outbox_backlog de l'instance qui mène le relais.",
            targets(
                (
                    f'max(mg_outbox_backlog{{service="{service}"}} '
                    "and on (service, instance) mg_outbox_relay_leader == 1)",
                    "en attente",
                )
            ),
        ),
        stat(
            "Plus ancienne ligne non publiée",
            "mg_outbox_oldest_age_seconds de l'instance qui mène le relais.",
            targets(
                (
                    f'max(mg_outbox_oldest_age_seconds{{service="{service}"}} '
                    "and on (service, instance) mg_outbox_relay_leader == 1)",
                    "âge",
                )
            ),
            unit="s",
            limits=AGE_LIMITS,
        ),
    )
    d.row(
        "API HTTP",
        timeseries(
            "Requêtes par route et statut",
            "mg_http_requests_total, hors /metrics.",
            targets(
                (
                    "sum by (method, route, status) (rate(mg_http_requests_total"
                    f'{{{own}, route!~"unmatched|/metrics.*"}}[{RATE}]))',
                    "{{method}} {{route}} · {{status}}",
                )
            ),
            unit="reqps",
        ),
        timeseries(
            "Part des erreurs 5xx par route",
            "Requêtes 5xx / requêtes de la route (hors /metrics et /health).",
            targets(
                (
                    "sum by (route) (rate(mg_http_requests_total"
                    f'{{{own}, status=~"5..", {API_ROUTES}}}[{RATE}])) / sum by (route) '
                    f"(rate(mg_http_requests_total{{{own}, {API_ROUTES}}}[{RATE}]))",
                    "{{route}}",
                )
            ),
            unit="percentunit",
            limits=thresholds((None, "green"), (0.05, "red")),
        ),
    )
    d.row(
        "Événements consommés",
        timeseries(
            "Événements consommés par type et issue",
            "mg_events_consumed_total.",
            targets(
                (
                    "sum by (event_type, outcome) "
                    f"(rate(mg_events_consumed_total{{{own}}}[{RATE}]))",
                    "{{event_type}} · {{outcome}}",
                )
            ),
            unit="ops",
        ),
        timeseries(
            "Latence des traitements p50 / p99",
            "mg_handler_duration_seconds par type d'événement.",
            quantiles(
                "mg_handler_duration_seconds", "event_type", own, "{{event_type}}", (0.5, 0.99)
            ),
            unit="s",
        ),
        timeseries(
            "Messages reçus et traités (FastStream)",
            "faststream_received_messages_total par sujet ; "
            "faststream_received_processed_messages_total par statut.",
            targets(
                (
                    f"sum by (handler) (rate(faststream_received_messages_total{{{fs}}}[{RATE}]))",
                    "reçus ← {{handler}}",
                ),
                (
                    "sum by (handler, status) "
                    f"(rate(faststream_received_processed_messages_total{{{fs}}}[{RATE}]))",
                    "traités ← {{handler}} · {{status}}",
                ),
            ),
            unit="ops",
        ),
        timeseries(
            "Durée de traitement FastStream p99",
            "faststream_received_processed_messages_duration_seconds par sujet.",
            quantiles(
                "faststream_received_processed_messages_duration_seconds",
                "handler",
                fs,
                "← {{handler}}",
                (0.99,),
            ),
            unit="s",
        ),
        timeseries(
            "Messages en cours et exceptions",
            "faststream_received_messages_in_process ; "
            "faststream_received_processed_messages_exceptions_total (message redélivré).",
            targets(
                (
                    f"sum by (handler) (faststream_received_messages_in_process{{{fs}}})",
                    "en cours ← {{handler}}",
                ),
                (
                    "sum by (handler, exception_type) (rate("
                    f"faststream_received_processed_messages_exceptions_total{{{fs}}}[{RATE}]))",
                    "exceptions ← {{handler}} · {{exception_type}}",
                ),
            ),
        ),
        timeseries(
            "Lettres mortes",
            "mg_dead_letters_total par sujet d'origine et raison.",
            targets(
                (
                    f"sum by (topic, reason) (increase(mg_dead_letters_total{{{own}}}[{RATE}]))",
                    "{{topic}} · {{reason}}",
                )
            ),
            bars=True,
        ),
    )
    d.row(
        "Publication",
        timeseries(
            "Événements publiés par type",
            "mg_events_published_total : publiés par le relais d'outbox.",
            targets(
                (
                    f"sum by (event_type) (rate(mg_events_published_total{{{own}}}[{RATE}]))",
                    "{{event_type}}",
                )
            ),
            unit="ops",
        ),
        timeseries(
            "Publications Kafka (FastStream)",
            "faststream_published_messages_total par sujet et statut ; "
            "faststream_published_messages_exceptions_total.",
            targets(
                (
                    "sum by (destination, status) "
                    f"(rate(faststream_published_messages_total{{{fs}}}[{RATE}]))",
                    "→ {{destination}} · {{status}}",
                ),
                (
                    "sum by (destination, exception_type) "
                    f"(rate(faststream_published_messages_exceptions_total{{{fs}}}[{RATE}]))",
                    "exceptions → {{destination}} · {{exception_type}}",
                ),
            ),
            unit="ops",
        ),
        timeseries(
            "Durée des publications p99",
            "faststream_published_messages_duration_seconds par sujet.",
            quantiles(
                "faststream_published_messages_duration_seconds",
                "destination",
                fs,
                "→ {{destination}}",
                (0.99,),
            ),
            unit="s",
        ),
        timeseries(
            "Relais d'outbox par instance",
            "mg_outbox_relay_leader, mg_outbox_backlog et mg_outbox_oldest_age_seconds "
            "de chaque instance (les instances en attente gardent leur dernière valeur).",
            targets(
                (f"mg_outbox_relay_leader{{{own}}}", "meneur {{instance}}"),
                (f"mg_outbox_backlog{{{own}}}", "en attente {{instance}}"),
                (f"mg_outbox_oldest_age_seconds{{{own}}}", "âge (s) {{instance}}"),
            ),
        ),
    )
    d.row(
        "Kafka",
        timeseries(
            "Retard du consommateur par sujet et partition",
            "mg_consumer_lag ; alertes MGRetardConsommateurEleve et MGRetardConsommateurEnHausse.",
            targets(
                (
                    f"max by (topic, partition) (mg_consumer_lag{{{own}}})",
                    "{{topic}}[{{partition}}]",
                )
            ),
            width=24,
        ),
    )
    d.row("Métier", *business_panels(service, inst))
    return d
