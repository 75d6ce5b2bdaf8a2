"""Writes the Grafana dashboards of Matière Grise to ``infra/grafana/dashboards/``.

    .venv/bin/python infra/grafana/generate_dashboards.py          # (re)write the JSON files
    .venv/bin/python infra/grafana/generate_dashboards.py --check  # exit 1 if they are stale

The JSON files are what Grafana loads (``provisioning/dashboards/dashboards.yml``);
this script is their source: change it, run it, commit both. ``tests/unit/
test_dashboards.py`` fails when the files differ from what the script writes, and
when a query names a metric that the services do not declare (docs/metrics.md).

Conventions of the queries: ``job`` is the service (one scrape job per service); the
product's own series also carry ``service``; FastStream's carry ``app_name`` (the
instance id) and ``handler`` (the topic) or ``destination``. The outbox gauges are
read from the instance that leads the relay, the others keep stale values.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "mg-prometheus"}
SCHEMA_VERSION = 39
TAG = "matiere-grise"
SERVICES = ("requests", "matching", "billing", "notifications")
SERVICE_TITLES = {
    "requests": "demandes (requests)",
    "matching": "mise en relation (matching)",
    "billing": "facturation (billing)",
    "notifications": "notifications",
}
# API traffic only: scrapes of the /metrics mount are counted under route="unmatched".
API_ROUTES = 'route!~"unmatched|/metrics.*|/health/.*"'
RATE = "$__rate_interval"

Json = dict[str, Any]


def target(expr: str, legend: str = "", *, ref: str = "A", instant: bool = False) -> Json:
    t: Json = {
        "datasource": DATASOURCE,
        "refId": ref,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
    }
    return t


def targets(*pairs: tuple[str, str], instant: bool = False) -> list[Json]:
    return [
        target(expr, legend, ref=chr(ord("A") + i), instant=instant)
        for i, (expr, legend) in enumerate(pairs)
    ]


def thresholds(*steps: tuple[float | None, str]) -> Json:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def timeseries(
    title: str,
    description: str,
    queries: list[Json],
    *,
    unit: str = "short",
    width: int = 12,
    height: int = 8,
    bars: bool = False,
    stack: bool = False,
    limits: Json | None = None,
) -> Json:
    custom: Json = {
        "drawStyle": "bars" if bars else "line",
        "lineWidth": 1,
        "fillOpacity": 60 if bars else 10,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "axisSoftMin": 0,
    }
    defaults: Json = {"unit": unit, "custom": custom, "min": 0}
    if limits is not None:
        defaults["thresholds"] = limits
        custom["thresholdsStyle"] = {"mode": "line"}
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": queries,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {
                "showLegend": True,
                "displayMode": "table",
                "placement": "bottom",
                "calcs": ["mean", "max", "lastNotNull"],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "_size": (width, height),
    }


def stat(
    title: str,
    description: str,
    queries: list[Json],
    *,
    unit: str = "short",
    width: int = 6,
    height: int = 5,
    limits: Json | None = None,
    mappings: list[Json] | None = None,
) -> Json:
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": queries,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "thresholds": limits or thresholds((None, "green")),
                "mappings": mappings or [],
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background" if limits else "value",
            "graphMode": "none",
            "textMode": "value_and_name",
            "justifyMode": "auto",
            "orientation": "auto",
        },
        "_size": (width, height),
    }


def bargauge(
    title: str, description: str, queries: list[Json], *, unit: str = "short", width: int = 8
) -> Json:
    return {
        "type": "bargauge",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": queries,
        "fieldConfig": {
            "defaults": {"unit": unit, "min": 0, "thresholds": thresholds((None, "blue"))},
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "orientation": "horizontal",
            "displayMode": "gradient",
            "showUnfilled": True,
        },
        "_size": (width, 8),
    }


UP_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "injoignable", "color": "red", "index": 0},
            "1": {"text": "joignable", "color": "green", "index": 1},
        },
    }
]
LEADER_LIMITS = thresholds((None, "red"), (1, "green"), (2, "orange"))
AGE_LIMITS = thresholds((None, "green"), (30, "orange"), (60, "red"))


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    tags: tuple[str, ...] = ()
    variables: list[Json] = field(default_factory=list)
    rows: list[tuple[str, list[Json]]] = field(default_factory=list)

    def row(self, title: str, *panels: Json) -> None:
        self.rows.append((title, list(panels)))

    def model(self) -> Json:
        panels: list[Json] = []
        next_id = 1
        y = 0
        for title, row_panels in self.rows:
            panels.append(
                {
                    "type": "row",
                    "title": title,
                    "id": next_id,
                    "collapsed": False,
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                    "panels": [],
                }
            )
            next_id += 1
            y += 1
            x = 0
            line_height = 0
            for panel in row_panels:
                width, height = panel["_size"]
                if x + width > 24:
                    x, y, line_height = 0, y + line_height, 0
                placed = {k: v for k, v in panel.items() if k != "_size"}
                placed["id"] = next_id
                placed["gridPos"] = {"h": height, "w": width, "x": x, "y": y}
                panels.append(placed)
                next_id += 1
                x += width
                line_height = max(line_height, height)
            y += line_height
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": [TAG, *self.tags],
            "editable": False,
            "graphTooltip": 1,
            "timezone": "browser",
            "refresh": "10s",
            "time": {"from": "now-1h", "to": "now"},
            "timepicker": {},
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "weekStart": "monday",
            "annotations": {
                "list": [
                    {
                        "builtIn": 1,
                        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                        "enable": True,
                        "hide": True,
                        "iconColor": "rgba(0, 211, 255, 1)",
                        "name": "Annotations & Alerts",
                        "type": "dashboard",
                    }
                ]
            },
            "links": [
                {
                    "title": "Matière Grise",
                    "type": "dashboards",
                    "tags": [TAG],
                    "asDropdown": True,
                    "includeVars": False,
                    "keepTime": True,
                    "targetBlank": False,
                    "icon": "external link",
                    "tooltip": "",
                    "url": "",
                }
            ],
            "templating": {"list": self.variables},
            "panels": panels,
        }


def query_variable(name: str, label: str, query: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "regex": "",
        "sort": 3,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "hide": 0,
        "skipUrlSync": False,
    }


def quantiles(
    metric: str, by: str, selector: str, legend: str, qs: tuple[float, ...]
) -> list[Json]:
    group = f"{by}, le" if by else "le"
    return targets(
        *(
            (
                f"histogram_quantile({q}, sum by ({group}) "
                f"(rate({metric}_bucket{{{selector}}}[{RATE}])))",
                f"p{round(q * 100)} {legend}".strip(),
            )
            for q in qs
        )
    )


# ------------------------------------------------------------------ pipeline overview


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


# ------------------------------------------------------------------ one per service


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


# ------------------------------------------------------------------ business, per département


def business() -> Dashboard:
    dep = 'departement=~"$departement"'
    d = Dashboard(
        "mg-metier-departements",
        "Matière Grise — activité par département",
        "Demandes, mise en relation, facturation et notifications, filtrées par département.",
        tags=("métier",),
        variables=[
            query_variable(
                "departement", "Département", "label_values(mg_demandes_total, departement)"
            )
        ],
    )
    d.row(
        "Demandes",
        bargauge(
            "Demandes par statut (sur la période)",
            "mg_demandes_total : changements de statut sur la période affichée.",
            targets(
                (
                    f"sum by (status) (increase(mg_demandes_total{{{dep}}}[$__range]))",
                    "{{status}}",
                ),
                instant=True,
            ),
        ),
        timeseries(
            "Demandes par département et statut",
            "mg_demandes_total, changements de statut par heure.",
            targets(
                (
                    "sum by (departement, status) "
                    f"(rate(mg_demandes_total{{{dep}}}[{RATE}])) * 3600",
                    "{{departement}} · {{status}}",
                )
            ),
            width=16,
        ),
    )
    d.row(
        "Mise en relation",
        bargauge(
            "Issues de la mise en relation (sur la période)",
            "mg_matching_outcomes_total : proposed ou unmatched.",
            targets(
                (
                    f"sum by (outcome) (increase(mg_matching_outcomes_total{{{dep}}}[$__range]))",
                    "{{outcome}}",
                ),
                instant=True,
            ),
        ),
        stat(
            "Demandes sans acteur (sur la période)",
            "Part des demandes routées sans aucun acteur compétent (unmatched).",
            targets(
                (
                    "sum(increase(mg_matching_outcomes_total"
                    f'{{{dep}, outcome="unmatched"}}[$__range])) / '
                    f"sum(increase(mg_matching_outcomes_total{{{dep}}}[$__range]))",
                    "sans acteur",
                ),
                instant=True,
            ),
            unit="percentunit",
            width=8,
            height=8,
            limits=thresholds((None, "green"), (0.1, "orange"), (0.25, "red")),
        ),
        timeseries(
            "Part sans acteur par département",
            "unmatched / toutes les issues de mg_matching_outcomes_total.",
            targets(
                (
                    "sum by (departement) (rate(mg_matching_outcomes_total"
                    f'{{{dep}, outcome="unmatched"}}[{RATE}])) / sum by (departement) '
                    f"(rate(mg_matching_outcomes_total{{{dep}}}[{RATE}]))",
                    "{{departement}}",
                )
            ),
            unit="percentunit",
            width=8,
        ),
        timeseries(
            "Délai de mise en relation p50 / p90 / p99",
            "mg_matching_latency_seconds : du dépôt à la première proposition.",
            quantiles("mg_matching_latency_seconds", "", dep, "", (0.5, 0.9, 0.99)),
            unit="s",
        ),
        timeseries(
            "Délai de mise en relation p90 par département",
            "mg_matching_latency_seconds par département.",
            quantiles("mg_matching_latency_seconds", "departement", dep, "{{departement}}", (0.9,)),
            unit="s",
        ),
    )
    d.row(
        "Facturation",
        stat(
            "Montant facturé TTC (sur la période)",
            "mg_invoiced_euros_total par nature (les avoirs en valeur absolue, sous « avoir ») "
            "et le net : factures moins avoirs.",
            targets(
                (
                    f"sum by (kind) (increase(mg_invoiced_euros_total{{{dep}}}[$__range]))",
                    "{{kind}}",
                ),
                (
                    "sum(increase(mg_invoiced_euros_total"
                    f'{{{dep}, kind!="avoir"}}[$__range])) - (sum(increase('
                    f'mg_invoiced_euros_total{{{dep}, kind="avoir"}}[$__range])) or vector(0))',
                    "net",
                ),
                instant=True,
            ),
            unit="currencyEUR",
            width=8,
            height=8,
        ),
        bargauge(
            "Factures et avoirs émis (sur la période)",
            "mg_invoices_total par nature (cotisation, mission, avoir).",
            targets(
                (
                    f"sum by (kind) (increase(mg_invoices_total{{{dep}}}[$__range]))",
                    "{{kind}}",
                ),
                instant=True,
            ),
        ),
        timeseries(
            "Montant facturé par département",
            "mg_invoiced_euros_total par département et nature.",
            targets(
                (
                    "sum by (departement, kind) "
                    f"(increase(mg_invoiced_euros_total{{{dep}}}[{RATE}]))",
                    "{{departement}} · {{kind}}",
                )
            ),
            unit="currencyEUR",
            width=8,
            bars=True,
        ),
    )
    d.row(
        "Notifications (tous départements)",
        timeseries(
            "Notifications par canal et issue",
            "mg_notifications_total n'a pas d'étiquette departement : ce panneau ne suit pas "
            "le filtre de département.",
            targets(
                (
                    f"sum by (channel, outcome) (rate(mg_notifications_total[{RATE}]))",
                    "{{channel}} · {{outcome}}",
                )
            ),
            unit="ops",
            width=16,
        ),
        stat(
            "Notifications en lettres mortes (sur la période)",
            "mg_notifications_total, issue dead_lettered, tous départements.",
            targets(
                (
                    'sum(increase(mg_notifications_total{outcome="dead_lettered"}[$__range]))',
                    "lettres mortes",
                ),
                instant=True,
            ),
            width=8,
            height=8,
            limits=thresholds((None, "green"), (1, "red")),
        ),
    )
    return d


def dashboards() -> dict[str, Json]:
    """File name -> Grafana JSON model, for every dashboard."""
    all_ = [pipeline(), *(service_dashboard(s) for s in SERVICES), business()]
    return {f"{d.uid}.json": d.model() for d in all_}


def render(model: Json) -> str:
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args()
    wanted = {name: render(model) for name, model in dashboards().items()}
    present = {p.name for p in OUT_DIR.glob("*.json")}
    stale = sorted(
        name
        for name, text in wanted.items()
        if not (OUT_DIR / name).exists() or (OUT_DIR / name).read_text(encoding="utf-8") != text
    )
    extra = sorted(present - wanted.keys())
    if args.check:
        if stale or extra:
            print(f"stale: {stale}, not generated: {extra}", file=sys.stderr)
            print("run: .venv/bin/python infra/grafana/generate_dashboards.py", file=sys.stderr)
            return 1
        return 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in extra:
        (OUT_DIR / name).unlink()
    for name, text in wanted.items():
        (OUT_DIR / name).write_text(text, encoding="utf-8")
    print(f"{len(wanted)} dashboards written to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
