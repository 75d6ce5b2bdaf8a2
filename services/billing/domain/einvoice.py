"""An invoice as EN 16931 sees it: the business terms (BT-…) that the Factur-X XML and
its PDF carry, computed from the invoice model and the identities, and refused here,
in French, when a public buyer's platform would refuse them.

Choices the norm leaves open, and why:
- a credit note is type 381 with **positive** amounts: the type says "to deduct", and
  Chorus Pro refuses a credit note whose total is negative. Its figures are the stored
  ones with the sign turned, so they still agree with the books to the cent;
- the item net price (BT-146) may not be negative; an adjustment line that lowers the
  amount (solidarity, ceiling) is written as quantity −1 at a positive price;
- VAT is computed per line then summed (ADR 0008); the breakdown by category adds the
  lines' VAT, which the rules accept within their one-cent tolerance;
- outside VAT (category ``O``) no line carries a rate and the seller prints no VAT
  number; a line at 0 % from a seller subject to VAT is exempt (``E``) with the mention
  of its tariff as the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from services.billing.domain.identities import Buyer, References, Seller, check_buyer
from services.billing.domain.invoice import Invoice, Line, totals
from shared.errors import DomainValidationError, FieldError
from shared.french import PARIS, euros, percent, short_date

GUIDELINE_EN16931 = "urn:cen.eu:en16931:2017"
TYPE_INVOICE = "380"
TYPE_CREDIT_NOTE = "381"
PAYMENT_CREDIT_TRANSFER = "30"
VATEX_OUTSIDE_SCOPE = "VATEX-EU-O"
# UN/ECE Recommendation 20: an inhabitant, an adjustment or a flat fee counts as "one".
UNIT_CODES = {"habitant": "C62", "jour": "DAY", "forfait": "LS", "ajustement": "C62"}

PUBLIC_LATE_PAYMENT = (
    "Sommes dues entre personnes publiques : les pénalités de retard et l'indemnité "
    "forfaitaire pour frais de recouvrement du code de commerce (art. L. 441-10 et "
    "D. 441-5) ne s'appliquent pas ; le recouvrement suit les règles de la comptabilité "
    "publique."
)
COMMERCIAL_LATE_PAYMENT = (
    "En cas de retard de paiement, pénalités au taux d'intérêt appliqué par la Banque "
    "centrale européenne à son opération de refinancement la plus récente, majoré de "
    "10 points (art. L. 441-10 du code de commerce)."
)
RECOVERY_INDEMNITY = (
    "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : "
    "40 € (art. D. 441-5 du code de commerce)."
)
NO_DISCOUNT = "Pas d'escompte pour paiement anticipé."


@dataclass(frozen=True, slots=True)
class Note:
    """BT-22 with its subject code (UNTDID 4451: PMD penalties, PMT indemnity, AAB discount)."""

    subject: str
    text: str


@dataclass(frozen=True, slots=True)
class EInvoiceLine:
    line_id: str
    name: str
    quantity: Decimal
    unit_code: str
    net_price: Decimal
    net_amount: Decimal
    category: str
    rate_percent: Decimal | None


@dataclass(frozen=True, slots=True)
class VatBreakdown:
    category: str
    rate_percent: Decimal | None
    basis: Decimal
    tax: Decimal
    exemption_reason: str | None
    exemption_code: str | None


@dataclass(frozen=True, slots=True)
class EInvoice:
    """Every business term the XML writes, already checked."""

    number: str
    type_code: str
    issue_date: date
    due_date: date | None
    notes: tuple[Note, ...]
    seller: Seller
    buyer: Buyer
    references: References
    lines: tuple[EInvoiceLine, ...]
    breakdown: tuple[VatBreakdown, ...]
    line_total: Decimal
    tax_total: Decimal
    grand_total: Decimal
    payment_terms: str
    currency: str = "EUR"

    @property
    def is_credit_note(self) -> bool:
        return self.type_code == TYPE_CREDIT_NOTE


def mandatory_mentions(seller: Seller) -> tuple[Note, ...]:
    """The French mentions about late payment that the seller's regime requires."""
    if seller.late_payment == "public":
        return (Note("PMD", PUBLIC_LATE_PAYMENT),)
    return (
        Note("PMD", COMMERCIAL_LATE_PAYMENT),
        Note("PMT", RECOVERY_INDEMNITY),
        Note("AAB", NO_DISCOUNT),
    )


def _signed(sign: int, value: Decimal) -> Decimal:
    # 0 - x rather than -x: -Decimal("0.00") is "-0.00", which the rules read as non-zero.
    return value if sign == 1 else Decimal(0) - value


def _category(line: Line, seller: Seller) -> tuple[str, Decimal | None]:
    if seller.vat.category == "O":
        return "O", None
    if line.vat_rate > 0:
        return "S", line.vat_rate * 100
    return "E", Decimal(0)


def _line(index: int, line: Line, sign: int, seller: Seller) -> EInvoiceLine:
    quantity, price = _signed(sign, line.quantity), line.unit_price
    if price < 0:
        quantity, price = _signed(-1, quantity), _signed(-1, price)
    category, rate = _category(line, seller)
    return EInvoiceLine(
        line_id=str(index),
        name=line.label,
        quantity=quantity,
        unit_code=UNIT_CODES.get(line.unit, "C62"),
        net_price=price,
        net_amount=_signed(sign, line.amount_excl_tax),
        category=category,
        rate_percent=rate,
    )


def _breakdown(invoice: Invoice, sign: int, seller: Seller) -> tuple[VatBreakdown, ...]:
    groups: dict[tuple[str, Decimal | None], list[Line]] = {}
    for line in invoice.lines:
        groups.setdefault(_category(line, seller), []).append(line)
    result = []
    for (category, rate), lines in sorted(groups.items(), key=lambda g: g[0][0]):
        reason = None
        if category == "O":
            reason = seller.vat.mention
        elif category == "E":
            reason = lines[0].vat_mention
        result.append(
            VatBreakdown(
                category=category,
                rate_percent=rate,
                basis=_signed(sign, sum((line.amount_excl_tax for line in lines), Decimal("0.00"))),
                tax=_signed(sign, sum((line.vat_amount for line in lines), Decimal("0.00"))),
                exemption_reason=reason,
                exemption_code=VATEX_OUTSIDE_SCOPE if category == "O" else None,
            )
        )
    return tuple(result)


def _check(invoice: Invoice, seller: Seller, buyer: Buyer, references: References) -> None:
    """Every reason the invoice cannot be sent, in one error: seller, buyer, then lines."""
    errors: list[FieldError] = []
    for check in (seller.check, lambda: check_buyer(buyer, references)):
        try:
            check()
        except DomainValidationError as exc:
            errors.extend(exc.errors)
    if invoice.departement != seller.departement:
        errors.append(
            FieldError(
                "seller.departement",
                f"Le vendeur du département {seller.departement} ne peut pas émettre "
                f"la facture {invoice.number} du département {invoice.departement}.",
            )
        )
    if not invoice.lines:
        errors.append(FieldError("lines", "Une facture a au moins une ligne."))
    for index, line in enumerate(invoice.lines, start=1):
        if seller.vat.category == "O" and line.vat_rate != 0:
            errors.append(
                FieldError(
                    f"lines.{index}.vat_rate",
                    "Le vendeur est hors du champ de la TVA mais la ligne applique "
                    f"un taux de {percent(line.vat_rate)}.",
                )
            )
        if seller.vat.category == "S" and line.vat_rate == 0 and not line.vat_mention:
            errors.append(
                FieldError(
                    f"lines.{index}.vat_mention",
                    "Une ligne sans TVA d'un vendeur assujetti indique le motif d'exonération.",
                )
            )
    if invoice.document_kind == "credit_note" and (
        not references.cancelled_number or references.cancelled_issued_on is None
    ):
        errors.append(
            FieldError(
                "references.cancelled_number",
                "Un avoir cite le numéro et la date de la facture qu'il annule.",
            )
        )
    if errors:
        raise DomainValidationError(errors)


def references_of(invoice: Invoice) -> References:
    """The signed convention a mission invoice (or its credit note) follows: BT-12, BT-13;
    a cotisation follows none."""
    contract = invoice.contract
    if contract is None:
        return References()
    return References(
        convention_number=contract.convention_number,
        engagement_number=contract.engagement_number,
    )


def totals_errors(invoice: Invoice) -> list[FieldError]:
    """What EN 16931's sums (BR-CO-10, BR-CO-13 to 15) and Chorus Pro refuse in the lines
    and totals of ``invoice``, whatever its seller and buyer."""
    errors: list[FieldError] = []
    if not invoice.lines:
        errors.append(FieldError("lines", "Une facture a au moins une ligne."))
    for index, line in enumerate(invoice.lines, start=1):
        if line.amount_excl_tax + line.vat_amount != line.amount_incl_tax:
            errors.append(
                FieldError(
                    f"lines.{index}.amount_incl_tax",
                    "Le montant TTC de la ligne n'est pas son montant HT plus sa TVA.",
                )
            )
    sign = -1 if invoice.document_kind == "credit_note" else 1
    if totals(invoice.lines) != invoice.totals:
        errors.append(
            FieldError(
                "totals",
                f"Les totaux de la facture {invoice.number} ne sont pas la somme de ses "
                "lignes ; elle ne peut pas être transmise.",
            )
        )
    elif _signed(sign, invoice.totals.incl_tax) < 0:
        errors.append(
            FieldError(
                "totals",
                f"Le total de la facture {invoice.number} est négatif : Chorus Pro la "
                "refuserait ; émettez un avoir.",
            )
        )
    return errors


def check_issuable(invoice: Invoice, buyer: Buyer | None, references: References) -> None:
    """Refuse, before a number is taken, a draft that could not be sent: its sums, and,
    when the collectivité's account is known, what its buyer requires (service code,
    engagement number) and its identifiers."""
    errors = totals_errors(invoice)
    if buyer is not None:
        try:
            check_buyer(buyer, references)
        except DomainValidationError as exc:
            errors.extend(exc.errors)
    if errors:
        raise DomainValidationError(errors)


def einvoice(invoice: Invoice, seller: Seller, buyer: Buyer, references: References) -> EInvoice:
    """The EN 16931 view of ``invoice``, or every reason it cannot be sent, in French."""
    _check(invoice, seller, buyer, references)
    credit = invoice.document_kind == "credit_note"
    sign = -1 if credit else 1
    lines = tuple(_line(i, line, sign, seller) for i, line in enumerate(invoice.lines, start=1))
    breakdown = _breakdown(invoice, sign, seller)
    issued = invoice.issued_at.astimezone(PARIS).date()
    due = None if credit else issued + timedelta(days=seller.payment_days)
    line_total = sum((line.net_amount for line in lines), Decimal("0.00"))
    tax_total = sum((group.tax for group in breakdown), Decimal("0.00"))
    # The books are the reference: what the XML says must be what was stored.
    if (line_total, tax_total, line_total + tax_total) != (
        _signed(sign, invoice.totals.excl_tax),
        _signed(sign, invoice.totals.vat),
        _signed(sign, invoice.totals.incl_tax),
    ):
        raise DomainValidationError(
            [
                FieldError(
                    "totals",
                    f"Les totaux de la facture {invoice.number} ne sont pas la somme de ses "
                    "lignes ; elle ne peut pas être transmise.",
                )
            ]
        )
    bank = seller.bank
    if credit:
        terms = (
            f"Avoir de {euros(line_total + tax_total)} à déduire de la facture "
            f"n° {references.cancelled_number}."
        )
    else:
        assert due is not None
        terms = (
            f"Paiement à {seller.payment_days} jours, au plus tard le {short_date(due)}, "
            f"par virement sur le compte IBAN {bank.iban} (BIC {bank.bic}, {bank.bank_name})."
        )
    return EInvoice(
        number=invoice.number,
        type_code=TYPE_CREDIT_NOTE if credit else TYPE_INVOICE,
        issue_date=issued,
        due_date=due,
        notes=mandatory_mentions(seller),
        seller=seller,
        buyer=buyer,
        references=references,
        lines=lines,
        breakdown=breakdown,
        line_total=line_total,
        tax_total=tax_total,
        grand_total=line_total + tax_total,
        payment_terms=terms,
    )
