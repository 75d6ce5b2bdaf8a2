"""A convention as people read it and sign it: an HTML page in French, with all parties,
the price in French format, the payment schedule, the validity and the legal mentions.
The PDF is this page printed (``adapters.pdf``), so both say the same thing."""

from __future__ import annotations

from html import escape

from services.billing.domain.convention import Convention, ConventionStatus
from services.billing.domain.invoice import Line
from shared.contracts.vocabulary import RequesterKind
from shared.french import euros, long_date, number, percent, rate_euros

_STYLE = """body{font-family:'DejaVu Sans',sans-serif;margin:1.5em;font-size:10pt}
table{border-collapse:collapse;width:100%} td,th{border:1px solid #999;padding:.3em}
.n{text-align:right} .mention{font-size:.85em} h1{font-size:16pt} h2{font-size:12pt}
@page{size:A4;margin:1.5cm}"""

LEGAL_MENTIONS = (
    "La présente convention est conclue entre personnes publiques dans le cadre de la "
    "coopération territoriale ; elle ne prend effet qu'à sa signature par la collectivité.",
    "Les sommes dues sont payées par mandat administratif, dans le délai global de paiement "
    "de 30 jours prévu par le code de la commande publique (articles L. 2192-10 et R. 2192-10).",
    "Toute modification du prix ou de l'objet fait l'objet d'un avenant signé des deux parties.",
    "Sans signature à la date de validité, la convention devient caduque et l'acteur est "
    "libéré de son engagement.",
)


def _row(line: Line) -> str:
    return (
        f"<tr><td>{escape(line.label)}</td>"
        f"<td class=n>{number(line.quantity)} {escape(line.unit)}</td>"
        f"<td class=n>{rate_euros(line.unit_price)}</td>"
        f"<td class=n>{euros(line.amount_excl_tax)}</td>"
        f"<td class=n>{percent(line.vat_rate)}</td>"
        f"<td class=n>{euros(line.amount_incl_tax)}</td></tr>"
    )


def _signature(c: Convention) -> str:
    if c.status is ConventionStatus.SIGNEE and c.signed_at is not None:
        service = f" — code service : {escape(c.service_code)}" if c.service_code else ""
        return (
            f"<p><strong>Signée le {long_date(c.signed_at.date())}</strong> — engagement "
            f"juridique n° {escape(c.engagement_number or '')}{service}</p>"
        )
    if c.status is ConventionStatus.REFUSEE:
        reason = f" : {escape(c.refusal_reason)}" if c.refusal_reason else ""
        return f"<p><strong>Refusée par la collectivité</strong>{reason}</p>"
    if c.status is ConventionStatus.EXPIREE:
        return "<p><strong>Expirée : non signée dans le délai de validité.</strong></p>"
    return (
        f"<p>État : {escape(c.status_label)}. À signer au plus tard le "
        f"{long_date(c.valid_until.date())}.</p>"
    )


def render_convention_html(convention: Convention, amends_number: str | None = None) -> str:
    c, p = convention, convention.parties
    who = p.collectivite
    code_name = "code INSEE" if who.kind is RequesterKind.COMMUNE else "SIREN"
    kind = "commune" if who.kind is RequesterKind.COMMUNE else "EPCI"
    siret = f", SIRET de facturation {escape(p.siret)}" if p.siret else ""
    title = "Avenant" if c.version else "Convention"
    amendment = (
        f"<p>Avenant n° {c.version} à la convention n° {escape(amends_number or '')} — "
        f"motif : {escape(c.amendment_reason or '')} — variation du prix HT : "
        f"{euros(c.price_delta or 0)}</p>"
        if c.version
        else ""
    )
    schedule = "".join(
        f"<li>{escape(i.label)} : {percent(i.share)}, soit "
        f"{euros(c.totals.incl_tax * i.share)} TTC</li>"
        for i in c.schedule
    )
    mentions = "".join(f"<p class=mention>{escape(m)}</p>" for m in (*c.mentions, *LEGAL_MENTIONS))
    phases = ", ".join(escape(ph) for ph in c.phases) or "—"
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<title>{title} n° {escape(c.number)}</title>
<style>{_STYLE}</style>
</head><body>
<h1>{title} de mission d'ingénierie n° {escape(c.number)}</h1>
{amendment}
<h2>Entre les parties</h2>
<p><strong>{escape(p.structure)}</strong>, qui coordonne l'offre d'ingénierie du département.</p>
<p><strong>{escape(p.actor_name)}</strong> (acteur {escape(p.actor_id)}), qui réalise la
mission.</p>
<p><strong>{escape(who.name)}</strong> ({kind}, {code_name} {escape(who.code)}{siret}),
bénéficiaire de la mission.</p>
<h2>Objet</h2>
<p>{escape(c.object)}. Phases : {phases}.</p>
<h2>Prix</h2>
<table><thead><tr><th>Désignation</th><th>Quantité</th><th>Prix unitaire</th>
<th>Montant HT</th><th>TVA</th><th>Montant TTC</th></tr></thead>
<tbody>{"".join(_row(line) for line in c.lines)}</tbody></table>
<p>Total HT : {euros(c.totals.excl_tax)} — TVA : {euros(c.totals.vat)} —
<strong>Total TTC : {euros(c.totals.incl_tax)}</strong></p>
<p>Tarif {c.year}, version {c.tariff_version}
({"tarif adhérent" if c.pricing.is_member else "tarif non adhérent"}).</p>
<h2>Échéancier de paiement</h2>
<ul>{schedule}</ul>
<h2>Validité et signature</h2>
<p>Établie le {long_date(c.prepared_at.date())}, valable jusqu'au
{long_date(c.valid_until.date())}.</p>
{_signature(c)}
<h2>Mentions</h2>
{mentions}
</body></html>
"""
