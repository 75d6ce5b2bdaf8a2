"""An activity report as documents: one HTML page with SVG charts (readable when printed,
numbers, money and dates as ``shared.french`` writes them), one CSV per table
(machine-readable: decimal point, no thousands separator), the open-data CSV and its
Table Schema."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from decimal import Decimal
from html import escape as html_escape

from services.resources.domain.open_data import TABLE_SCHEMA, open_data
from services.resources.domain.report_figures import ActivityReport, Cell, ReportTable
from shared.french import euros, long_datetime, number, percent

BAR_WIDTH = 360


def escape(text: str) -> str:
    """Text content: < > & escaped; quotes stay readable (« l'année », not « l&#x27;année »).
    Attribute values are written by this module only, from identifiers."""
    return html_escape(text, quote=False)


BAR_HEIGHT = 18
STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #1a1a1a; margin: 2em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #999; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
p.note, p.empty { color: #555; font-size: 0.9em; }
section { break-inside: avoid; }
svg text { font-size: 11px; fill: #1a1a1a; }
@media print { body { margin: 0; } a { color: inherit; } }
"""


def _shown(value: Cell, column: str, row_label: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if column.startswith("Taux") or row_label.startswith("Taux"):
        return percent(Decimal(value))
    if "Euros" in column or ("€" in row_label and isinstance(value, Decimal)):
        return euros(value)
    return number(value)


def _chart(table: ReportTable) -> str:
    """Horizontal bars in grey and black only: they print on any printer."""
    if table.chart is None or not table.rows:
        return ""
    column = table.chart
    values = [Decimal(str(r[column] or 0)) for r in table.rows]
    top = max((abs(v) for v in values), default=Decimal(0)) or Decimal(1)
    label_width = 260
    height = BAR_HEIGHT * len(values) + 6
    bars = []
    for i, (row, value) in enumerate(zip(table.rows, values, strict=True)):
        y = i * BAR_HEIGHT + 3
        width = int(BAR_WIDTH * abs(value) / top)
        label = escape(str(row[0]))[:45]
        shown = escape(_shown(row[column], table.columns[column], str(row[0])))
        bars.append(
            f'<text x="{label_width - 6}" y="{y + 13}" text-anchor="end">{label}</text>'
            f'<rect x="{label_width}" y="{y + 2}" width="{width}" height="{BAR_HEIGHT - 5}" '
            f'fill="#555" stroke="#000" stroke-width="0.5"/>'
            f'<text x="{label_width + width + 4}" y="{y + 13}">{shown}</text>'
        )
    total_width = label_width + BAR_WIDTH + 90
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{total_width}" '
        f'height="{height}" viewBox="0 0 {total_width} {height}">'
        f"<title>{escape(table.title)}</title>{''.join(bars)}</svg>"
    )


def _table(table: ReportTable) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    rows = []
    for row in table.rows:
        cells = [
            f'<td class="{"n" if not isinstance(v, str) else "t"}">'
            f"{escape(_shown(v, table.columns[i], str(row[0])))}</td>"
            for i, v in enumerate(row)
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    body = "".join(rows) or (
        f'<tr><td colspan="{len(table.columns)}">Aucune donnée sur la période.</td></tr>'
    )
    note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    return (
        f'<section id="{table.key}"><h2>{escape(table.title)}</h2>{_chart(table)}'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}</section>"
    )


def report_html(report: ActivityReport, departement_name: str, generated_at: datetime) -> str:
    period = report.period
    title = f"Rapport d'activité — {departement_name} ({period.departement}), {period.label}"
    return (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="note">Établi le {escape(long_datetime(generated_at))} à partir des '
        "événements publiés par les services (projection reconstructible depuis l'origine "
        "des sujets Kafka).</p>"
        f"{''.join(_table(t) for t in report.tables)}</body></html>"
    )


def _csv_cell(value: Cell) -> str:
    return "" if value is None else str(value)


def table_csv(table: ReportTable) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows([[_csv_cell(v) for v in row] for row in table.rows])
    return out.getvalue()


def open_data_csv(report: ActivityReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    fields = [f["name"] for f in TABLE_SCHEMA["fields"]]
    writer.writerow(fields)
    for row in open_data(report):
        writer.writerow(
            [
                row.departement,
                row.periode,
                row.indicateur,
                row.modalite,
                "" if row.nombre is None else row.nombre,
                "" if row.montant_euros is None else row.montant_euros,
                "true" if row.secret else "false",
            ]
        )
    return out.getvalue()


def open_data_schema() -> str:
    return json.dumps(TABLE_SCHEMA, ensure_ascii=False, indent=2) + "\n"


def report_files(
    report: ActivityReport, departement_name: str, generated_at: datetime
) -> dict[str, str]:
    """File name → content: the HTML report, a CSV per table, the open data and its schema."""
    files = {"rapport.html": report_html(report, departement_name, generated_at)}
    files |= {f"{t.key}.csv": table_csv(t) for t in report.tables}
    files["open-data.csv"] = open_data_csv(report)
    files["open-data.schema.json"] = open_data_schema()
    return files
