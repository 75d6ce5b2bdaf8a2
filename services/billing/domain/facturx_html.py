"""The readable part of a Factur-X file: the invoice in French, from the same business
terms as its XML, so what the mairie reads and what Chorus Pro reads cannot disagree.

It prints what a public buyer's accountant checks before paying: both SIRETs, the
service code, the engagement and convention numbers, the bank's name with the IBAN and
BIC, the due date, the VAT mention and the late-payment mentions. Fonts are named by
family only: WeasyPrint embeds the system's (DejaVu on Debian), as PDF/A requires.
"""

from __future__ import annotations

from html import escape

from services.billing.domain.einvoice import EInvoice, EInvoiceLine
from services.billing.domain.identities import PostalAddress
from shared.french import euros, number, percent, rate_euros, short_date

UNIT_WORDS = {"C62": "u.", "DAY": "j", "LS": "forfait"}

_STYLE = """
@page { size: A4; margin: 18mm 16mm; }
body { font-family: "DejaVu Sans", sans-serif; font-size: 9.5pt; color: #161616; }
h1 { font-size: 16pt; margin: 0 0 4mm; }
.parties { display: flex; gap: 8mm; margin-bottom: 5mm; }
.party { flex: 1; border: 1px solid #999; padding: 3mm; }
.party h2 { font-size: 10pt; margin: 0 0 2mm; }
table { border-collapse: collapse; width: 100%; margin: 4mm 0; }
td, th { border: 1px solid #999; padding: 1.5mm; vertical-align: top; }
th { background: #eee; text-align: left; }
.n { text-align: right; white-space: nowrap; }
.totals td { font-weight: bold; }
.mention { font-size: 8pt; margin: 1mm 0; }
"""


def _address(address: PostalAddress | None) -> str:
    if address is None:
        return ""
    return f"{escape(address.line)}<br>{escape(address.postcode)} {escape(address.city)}<br>"


def _row(line: EInvoiceLine) -> str:
    rate = "—" if line.rate_percent is None else percent(line.rate_percent / 100)
    unit = UNIT_WORDS.get(line.unit_code, line.unit_code)
    return (
        f"<tr><td>{escape(line.name)}</td>"
        f"<td class=n>{number(line.quantity)} {unit}</td>"
        f"<td class=n>{rate_euros(line.net_price)}</td>"
        f"<td class=n>{rate}</td>"
        f"<td class=n>{euros(line.net_amount)}</td></tr>"
    )


def _references(doc: EInvoice) -> str:
    items = []
    if doc.buyer.service_code:
        items.append(f"Code service : {escape(doc.buyer.service_code)}")
    if doc.references.engagement_number:
        items.append(f"N° d'engagement : {escape(doc.references.engagement_number)}")
    if doc.references.convention_number:
        items.append(f"Convention n° {escape(doc.references.convention_number)}")
    if doc.references.cancelled_number and doc.references.cancelled_issued_on:
        items.append(
            f"Avoir sur la facture n° {escape(doc.references.cancelled_number)} "
            f"du {short_date(doc.references.cancelled_issued_on)}"
        )
    return "".join(f"<p>{item}</p>" for item in items)


def render_facturx_html(doc: EInvoice) -> str:
    title = "Avoir" if doc.is_credit_note else "Facture"
    seller, buyer, bank = doc.seller, doc.buyer, doc.seller.bank
    vat_number = f"N° TVA : {escape(seller.vat_number)}<br>" if seller.vat_number else ""
    due = f"<p>Échéance : {short_date(doc.due_date)}</p>" if doc.due_date else ""
    reasons = sorted({g.exemption_reason for g in doc.breakdown if g.exemption_reason})
    mentions = [*reasons, *(note.text for note in doc.notes)]
    mention_html = "".join(f"<p class=mention>{escape(m)}</p>" for m in mentions)
    rows = "\n".join(_row(line) for line in doc.lines)
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<title>{title} n° {escape(doc.number)}</title>
<meta name="author" content="{escape(seller.legal_name)}">
<style>{_STYLE}</style></head><body>
<h1>{title} n° {escape(doc.number)}</h1>
<p>Date d'émission : {short_date(doc.issue_date)}</p>
{due}
<div class=parties>
<div class=party><h2>Émetteur</h2><strong>{escape(seller.legal_name)}</strong><br>
{_address(seller.address)}SIRET : {escape(seller.siret)}<br>{vat_number}</div>
<div class=party><h2>Destinataire</h2><strong>{escape(buyer.name)}</strong><br>
{_address(buyer.address)}SIRET : {escape(buyer.siret)}</div>
</div>
{_references(doc)}
<table><thead><tr><th>Désignation</th><th>Quantité</th><th>Prix unitaire HT</th>
<th>TVA</th><th>Montant HT</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<table class=totals>
<tr><td>Total HT</td><td class=n>{euros(doc.line_total)}</td></tr>
<tr><td>TVA</td><td class=n>{euros(doc.tax_total)}</td></tr>
<tr><td>{"Montant de l'avoir TTC" if doc.is_credit_note else "Net à payer TTC"}</td>
<td class=n>{euros(doc.grand_total)}</td></tr>
</table>
<p>{escape(doc.payment_terms)}</p>
<p>Banque : {escape(bank.bank_name)} — IBAN {escape(bank.iban)} — BIC {escape(bank.bic)}</p>
{mention_html}
</body></html>
"""
