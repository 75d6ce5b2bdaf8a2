"""The business activity, filtered by département."""

from __future__ import annotations

from dashboard_model import Dashboard
from panels import (
    RATE,
    bargauge,
    quantiles,
    query_variable,
    stat,
    targets,
    thresholds,
    timeseries,
)


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
