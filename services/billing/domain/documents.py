"""Invoices as people read them: an HTML document in French, and CSV for accountants.

Both are read from the invoice model alone (no storage, no I/O), so what a collectivité
reads, what an accountant imports and what the events say come from the same figures.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from html import escape

from services.billing.domain.invoice import Invoice, Line
from shared.contracts.vocabulary import RequesterKind
from shared.french import euros, number, percent, rate_euros, short_date


def _row(line: Line) -> str:
    return (
        "<tr>"
        f"<td>{escape(line.label)}</td>"
        f"<td class=n>{number(line.quantity)} {escape(line.unit)}</td>"
        f"<td class=n>{rate_euros(line.unit_price)}</td>"
        f"<td class=n>{euros(line.amount_excl_tax)}</td>"
        f"<td class=n>{percent(line.vat_rate)}</td>"
        f"<td class=n>{euros(line.amount_incl_tax)}</td>"
        "</tr>"
    )


def render_html(invoice: Invoice, refers_to_number: str | None = None) -> str:
    """The document; a credit note names the invoice it cancels (``refers_to_number``)."""
    title = invoice.title
    who = invoice.collectivite
    rows = "\n".join(_row(line) for line in invoice.lines)
    reference = (
        f"<p>Avoir portant sur la facture n° {escape(refers_to_number)}"
        f" — motif : {escape(invoice.reason or '')}</p>"
        if invoice.document_kind == "credit_note" and refers_to_number
        else ""
    )
    mention_html = "".join(f"<p class=mention>{escape(m)}</p>" for m in invoice.mentions)
    sums = invoice.totals
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<title>{title} n° {escape(invoice.number)}</title>
<style>body{{font-family:sans-serif;margin:2em}}
table{{border-collapse:collapse;width:100%}} td,th{{border:1px solid #999;padding:.3em}}
.n{{text-align:right}} .mention{{font-size:.9em}}</style>
</head><body>
<h1>{title} n° {escape(invoice.number)}</h1>
<p>Offre d'ingénierie territoriale — département {escape(invoice.departement)}</p>
<p>Émis le {short_date(invoice.issued_at)} pour :
<strong>{escape(who.name)}</strong>
({"commune" if who.kind is RequesterKind.COMMUNE else "EPCI"},
code {escape(who.code)})</p>
{reference}
{_contract_html(invoice)}
<table><thead><tr><th>Désignation</th><th>Quantité</th><th>Prix unitaire</th>
<th>Montant HT</th><th>TVA</th><th>Montant TTC</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<p>Total HT : {euros(sums.excl_tax)} — TVA : {euros(sums.vat)} —
<strong>Total TTC : {euros(sums.incl_tax)}</strong></p>
{mention_html}
<p>Tarif appliqué : version {invoice.tariff_version} ({invoice.year}).</p>
</body></html>
"""


def _contract_html(invoice: Invoice) -> str:
    ref = invoice.contract
    if ref is None:
        return ""
    service = f" — code service : {escape(ref.service_code)}" if ref.service_code else ""
    return (
        f"<p>Convention n° {escape(ref.convention_number)} — "
        f"engagement juridique n° {escape(ref.engagement_number)}{service}</p>"
    )


CSV_COLUMNS = [
    "numero",
    "type",
    "nature",
    "departement",
    "exercice",
    "date_emission",
    "code_collectivite",
    "collectivite",
    "total_ht",
    "total_tva",
    "total_ttc",
    "facture_annulee",
    "convention",
    "engagement_juridique",
    "code_service",
]


def render_csv(documents: Iterable[Invoice], numbers: dict[str, str]) -> str:
    """One row per invoice or credit note; ``numbers`` maps an id to its number.

    Amounts are written with a point and two decimals, as accounting software imports
    them, not the French way a person reads.
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for d in documents:
        writer.writerow(
            [
                d.number,
                d.title.lower(),
                d.invoice_kind,
                d.departement,
                d.year,
                d.issued_at.date().isoformat(),
                d.collectivite.code,
                d.collectivite.name,
                f"{d.totals.excl_tax:.2f}",
                f"{d.totals.vat:.2f}",
                f"{d.totals.incl_tax:.2f}",
                numbers.get(str(d.refers_to), "") if d.refers_to else "",
                d.contract.convention_number if d.contract else "",
                d.contract.engagement_number if d.contract else "",
                (d.contract.service_code or "") if d.contract else "",
            ]
        )
    return out.getvalue()
