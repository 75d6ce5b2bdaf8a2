"""Invoices as people read them: an HTML document in French, and CSV for accountants."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal
from html import escape

from services.billing.adapters.repository import StoredInvoice

TITLES = {"invoice": "Facture", "credit_note": "Avoir"}


def euros(amount: Decimal | str) -> str:
    value = Decimal(amount).quantize(Decimal("0.01"))
    sign = "-" if value < 0 else ""
    whole, cents = f"{abs(value):.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", "\u202f")
    return f"{sign}{grouped},{cents}\u00a0€"


def render_html(invoice: StoredInvoice, refers_to_number: str | None = None) -> str:
    title = TITLES.get(invoice.document_kind, "Facture")
    rows = "\n".join(
        "<tr>"
        f"<td>{escape(str(li['label']))}</td>"
        f"<td class=n>{escape(str(li['quantity']))} {escape(str(li['unit']))}</td>"
        f"<td class=n>{euros(li['unit_price'])}</td>"
        f"<td class=n>{euros(li['amount_excl_tax'])}</td>"
        f"<td class=n>{Decimal(li['vat_rate']) * 100:.2f}\u00a0%</td>"
        f"<td class=n>{euros(li['amount_incl_tax'])}</td>"
        "</tr>"
        for li in invoice.lines
    )
    mentions = sorted({str(li["vat_mention"]) for li in invoice.lines if li.get("vat_mention")})
    reference = (
        f"<p>Avoir portant sur la facture n° {escape(refers_to_number)}"
        f" — motif : {escape(invoice.reason or '')}</p>"
        if invoice.document_kind == "credit_note" and refers_to_number
        else ""
    )
    mention_html = "".join(f"<p class=mention>{escape(m)}</p>" for m in mentions)
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<title>{title} n° {escape(invoice.number)}</title>
<style>body{{font-family:sans-serif;margin:2em}}
table{{border-collapse:collapse;width:100%}} td,th{{border:1px solid #999;padding:.3em}}
.n{{text-align:right}} .mention{{font-size:.9em}}</style>
</head><body>
<h1>{title} n° {escape(invoice.number)}</h1>
<p>Offre d'ingénierie territoriale — département {escape(invoice.departement)}</p>
<p>Émis le {invoice.issued_at.strftime("%d/%m/%Y")} pour :
<strong>{escape(invoice.collectivite_name)}</strong>
({"commune" if invoice.collectivite_kind.value == "commune" else "EPCI"},
code {escape(invoice.collectivite_code)})</p>
{reference}
<table><thead><tr><th>Désignation</th><th>Quantité</th><th>Prix unitaire</th>
<th>Montant HT</th><th>TVA</th><th>Montant TTC</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<p>Total HT : {euros(invoice.total_excl_tax)} — TVA : {euros(invoice.total_vat)} —
<strong>Total TTC : {euros(invoice.total_incl_tax)}</strong></p>
{mention_html}
<p>Tarif appliqué : version {invoice.tariff_version} ({invoice.year}).</p>
</body></html>
"""


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
]


def render_csv(documents: Iterable[StoredInvoice], numbers: dict[str, str]) -> str:
    """One row per invoice or credit note; ``numbers`` maps an id to its number."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for d in documents:
        writer.writerow(
            [
                d.number,
                TITLES.get(d.document_kind, d.document_kind).lower(),
                d.invoice_kind,
                d.departement,
                d.year,
                d.issued_at.date().isoformat(),
                d.collectivite_code,
                d.collectivite_name,
                f"{d.total_excl_tax:.2f}",
                f"{d.total_vat:.2f}",
                f"{d.total_incl_tax:.2f}",
                numbers.get(str(d.refers_to), "") if d.refers_to else "",
            ]
        )
    return out.getvalue()
