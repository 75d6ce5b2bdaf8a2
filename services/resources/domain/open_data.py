"""The open-data export of an activity report: anonymised aggregates only.

No person and no single collectivité can be read from it: counts of demandes by theme,
phase, size of collectivité and EPCI, missions by theme, needs nobody covers by theme,
invoicing by nature. A count below :data:`THRESHOLD` is suppressed (left empty and
flagged ``secret``), and so is the amount that goes with it. The columns are described by
:data:`TABLE_SCHEMA`, a Frictionless Table Schema.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.resources.domain.report_figures import ActivityReport

THRESHOLD = 5
COUNTED = (
    "demandes_par_theme",
    "demandes_par_phase",
    "demandes_par_taille",
    "demandes_par_epci",
    "missions_closes",
)


@dataclass(frozen=True, slots=True)
class OpenDataRow:
    departement: str
    periode: str
    indicateur: str
    modalite: str
    nombre: int | None
    montant_euros: Decimal | None
    secret: bool


def _row(report: ActivityReport, indicator: str, modality: str, count: int) -> OpenDataRow:
    hidden = count < THRESHOLD
    return OpenDataRow(
        report.period.departement,
        _period(report),
        indicator,
        modality,
        None if hidden else count,
        None,
        hidden,
    )


def _period(report: ActivityReport) -> str:
    p = report.period
    return f"{p.year}" if p.month is None else f"{p.year}-{p.month:02d}"


def open_data(report: ActivityReport) -> list[OpenDataRow]:
    rows: list[OpenDataRow] = []
    for key in COUNTED:
        for modality, count in report.table(key).rows:
            rows.append(_row(report, key, str(modality), int(count or 0)))
    uncovered: Counter[str] = Counter()
    for theme, _, count in report.table("besoins_non_couverts").rows:
        uncovered[str(theme)] += int(count or 0)
    rows += [
        _row(report, "besoins_non_couverts_par_theme", theme, n)
        for theme, n in sorted(uncovered.items())
    ]
    for nature, count, euros in report.table("facturation").rows:
        hidden = int(count or 0) < THRESHOLD
        rows.append(
            OpenDataRow(
                report.period.departement,
                _period(report),
                "facturation",
                str(nature),
                None if hidden else int(count or 0),
                None if hidden else Decimal(str(euros)),
                hidden,
            )
        )
    return rows


TABLE_SCHEMA: dict[str, Any] = {
    "name": "matiere-grise-activite",
    "title": "Activité de l'ingénierie territoriale mutualisée — agrégats anonymisés",
    "description": (
        "Un agrégat par ligne. Les effectifs inférieurs à 5 sont masqués (nombre et montant "
        "vides, secret = true) : aucune personne ni collectivité isolée n'est identifiable."
    ),
    "fields": [
        {"name": "departement", "type": "string", "title": "Département (code officiel)"},
        {
            "name": "periode",
            "type": "string",
            "title": "Période",
            "description": "AAAA (année) ou AAAA-MM (mois), en heure de Paris.",
        },
        {"name": "indicateur", "type": "string", "title": "Indicateur"},
        {"name": "modalite", "type": "string", "title": "Modalité (thème, phase, taille…)"},
        {
            "name": "nombre",
            "type": "integer",
            "title": "Nombre",
            "constraints": {"minimum": THRESHOLD},
        },
        {
            "name": "montant_euros",
            "type": "number",
            "title": "Montant TTC en euros (facturation seulement)",
            "decimalChar": ".",
        },
        {"name": "secret", "type": "boolean", "title": "Valeur masquée (effectif < 5)"},
    ],
    "missingValues": [""],
}
