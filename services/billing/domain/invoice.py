"""The invoice model: lines, totals, VAT regime and mentions, and the credit note that
cancels an invoice. The use cases issue it, the repository stores it, the documents
and the events are read from it: one model, so they cannot disagree.

Money rules, which French public accounting checks line by line:
- amounts are ``Decimal``, rounded half-up to the cent on each line, and totals
  are sums of the rounded lines, never a rounding of the unrounded sum;
- VAT is computed per line from the rounded amount excluding tax, rounded
  half-up too, and the amount including tax is their sum;
- a credit note negates the invoice's rounded lines rather than pricing again, so it
  cancels the invoice to the cent whatever the tariff has become since.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal
from uuid import UUID

from shared.contracts.billing import CreditNoteIssued, InvoiceIssued, LineRef
from shared.contracts.vocabulary import RequesterKind
from shared.errors import Conflict

LineKind = Literal["cotisation", "mission"]
DocumentKind = Literal["invoice", "credit_note"]

CENT = Decimal("0.01")
_ZERO = Decimal("0.00")

TITLES: dict[str, str] = {"invoice": "Facture", "credit_note": "Avoir"}


def round_cents(amount: Decimal) -> Decimal:
    """``amount`` rounded half-up to the cent (half away from zero for negative amounts)."""
    # Adding +0.00 turns the -0.00 of a tiny or zero-rated negative amount into 0.00.
    return amount.quantize(CENT, rounding=ROUND_HALF_UP) + _ZERO


def _negate(value: Decimal) -> Decimal:
    # 0 - x rather than -x: -Decimal("0.00") is "-0.00", which no invoice should print.
    return Decimal(0) - value


@dataclass(frozen=True, slots=True)
class VatRule:
    """VAT rate as a fraction (0.20 for 20 %) and the legal mention printed with it."""

    rate: Decimal
    mention: str | None


@dataclass(frozen=True, slots=True)
class Line:
    """One invoice line; amounts are rounded to the cent, ``unit_price`` is the tariff's own.

    ``quantity × unit_price`` rounded gives ``amount_excl_tax`` on priced lines; on
    adjustment lines (solidarity, floor, ceiling) the quantity is 1 and the unit price is
    the adjustment itself.
    """

    kind: LineKind
    label: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount_excl_tax: Decimal
    vat_rate: Decimal
    vat_amount: Decimal
    amount_incl_tax: Decimal
    vat_mention: str | None

    @classmethod
    def priced(
        cls,
        kind: LineKind,
        label: str,
        quantity: Decimal,
        unit: str,
        unit_price: Decimal,
        amount: Decimal,
        rule: VatRule,
    ) -> Line:
        """The line of an unrounded ``amount`` excluding tax, under the VAT ``rule``."""
        excl = round_cents(amount)
        vat = round_cents(excl * rule.rate)
        return cls(
            kind=kind,
            label=label,
            quantity=quantity,
            unit=unit,
            unit_price=unit_price,
            amount_excl_tax=excl,
            vat_rate=rule.rate,
            vat_amount=vat,
            amount_incl_tax=excl + vat,
            vat_mention=rule.mention,
        )

    def cancelled(self) -> Line:
        """The credit-note line cancelling this one: same prices, opposite quantities."""
        return Line(
            kind=self.kind,
            label=f"Annulation : {self.label}",
            quantity=_negate(self.quantity),
            unit=self.unit,
            unit_price=self.unit_price,
            amount_excl_tax=_negate(self.amount_excl_tax),
            vat_rate=self.vat_rate,
            vat_amount=_negate(self.vat_amount),
            amount_incl_tax=_negate(self.amount_incl_tax),
            vat_mention=self.vat_mention,
        )

    def ref(self) -> LineRef:
        """The line as events carry it."""
        return LineRef(**dataclasses.asdict(self))

    def as_json(self) -> dict[str, Any]:
        """The line as it is stored and served: the event's form, decimals as strings."""
        return self.ref().model_dump(mode="json")

    @classmethod
    def of(cls, ref: LineRef | dict[str, Any]) -> Line:
        """The line of an event's or a stored document's line."""
        line = ref if isinstance(ref, LineRef) else LineRef.model_validate(ref)
        return cls(**line.model_dump())


@dataclass(frozen=True, slots=True)
class Totals:
    excl_tax: Decimal
    vat: Decimal
    incl_tax: Decimal


def totals(lines: Iterable[Line]) -> Totals:
    """Sums of the rounded lines."""
    excl, vat, incl = _ZERO, _ZERO, _ZERO
    for line in lines:
        excl += line.amount_excl_tax
        vat += line.vat_amount
        incl += line.amount_incl_tax
    return Totals(excl_tax=excl, vat=vat, incl_tax=incl)


def credit_lines(lines: Iterable[Line]) -> list[Line]:
    """The lines of a credit note cancelling ``lines``."""
    return [line.cancelled() for line in lines]


def invoice_number(departement: str, year: int, sequence: int) -> str:
    return f"{departement}-{year}-{sequence:06d}"


# Business keys: one document per source, ever (the database's unique constraint).
def cotisation_key(year: int, collectivite_code: str) -> str:
    return f"cotisation:{year}:{collectivite_code}"


def mission_key(assignment_id: UUID) -> str:
    """The balance of a mission (or its whole fee when nothing was invoiced before)."""
    return f"mission:{assignment_id}"


def advance_key(assignment_id: UUID) -> str:
    """The advance invoiced when the mission's convention is signed."""
    return f"advance:{assignment_id}"


def credit_key(invoice_id: UUID) -> str:
    return f"credit:{invoice_id}"


@dataclass(frozen=True, slots=True)
class InvoiceFilter:
    """Which documents a search returns; None: any."""

    departement: str | None = None
    year: int | None = None
    collectivite_code: str | None = None


@dataclass(frozen=True, slots=True)
class Collectivite:
    """Who a document is addressed to."""

    code: str
    kind: RequesterKind
    name: str


@dataclass(frozen=True, slots=True)
class ContractRef:
    """The signed convention a mission invoice follows, as the invoice must cite it:
    its number, the collectivité's engagement number and its Chorus Pro service code."""

    convention_number: str
    engagement_number: str
    service_code: str | None = None


@dataclass(frozen=True, slots=True)
class Invoice:
    """An invoice or a credit note, numbered without gap per département and year.

    ``totals`` are the sums of ``lines``; build a new document with :func:`issue` or
    :meth:`credit_note`, which compute them.
    """

    id: UUID
    number: str
    departement: str
    year: int
    sequence: int
    document_kind: DocumentKind
    invoice_kind: LineKind
    collectivite: Collectivite
    tariff_version: int
    lines: tuple[Line, ...]
    totals: Totals
    source_key: str
    issued_at: datetime
    refers_to: UUID | None = None
    reason: str | None = None
    request_id: UUID | None = None
    assignment_id: UUID | None = None
    contract: ContractRef | None = None

    @property
    def title(self) -> str:
        return TITLES[self.document_kind]

    @property
    def mentions(self) -> list[str]:
        """The legal VAT mentions of the lines (why no VAT is charged), once each."""
        return sorted({line.vat_mention for line in self.lines if line.vat_mention})

    def ensure_cancellable(self) -> None:
        if self.document_kind == "credit_note":
            raise Conflict("Un avoir ne s'annule pas ; émettez une nouvelle facture.")

    def credit_note(self, *, sequence: int, issued_at: datetime, reason: str) -> Invoice:
        """The credit note cancelling this invoice; the invoice itself stays."""
        self.ensure_cancellable()
        return issue(
            departement=self.departement,
            year=self.year,
            sequence=sequence,
            issued_at=issued_at,
            document_kind="credit_note",
            invoice_kind=self.invoice_kind,
            collectivite=self.collectivite,
            tariff_version=self.tariff_version,
            lines=credit_lines(self.lines),
            source_key=credit_key(self.id),
            refers_to=self.id,
            reason=reason,
            request_id=self.request_id,
            assignment_id=self.assignment_id,
            contract=self.contract,
        )

    def event(self, refers_to_number: str | None = None) -> InvoiceIssued | CreditNoteIssued:
        """The event announcing the document; a credit note names the invoice it cancels."""
        common: dict[str, Any] = {
            "document_id": self.id,
            "number": self.number,
            "departement": self.departement,
            "year": self.year,
            "collectivite_code": self.collectivite.code,
            "collectivite_kind": self.collectivite.kind,
            "collectivite_name": self.collectivite.name,
            "lines": [line.ref() for line in self.lines],
            "total_excl_tax": self.totals.excl_tax,
            "total_vat": self.totals.vat,
            "total_incl_tax": self.totals.incl_tax,
            "issued_at": self.issued_at,
        }
        if self.document_kind == "credit_note":
            assert self.refers_to is not None
            return CreditNoteIssued(
                **common,
                refers_to_id=self.refers_to,
                refers_to_number=refers_to_number or "",
                reason=self.reason or "",
            )
        return InvoiceIssued(
            **common,
            invoice_kind=self.invoice_kind,
            tariff_version=self.tariff_version,
            request_id=self.request_id,
            assignment_id=self.assignment_id,
            **(dataclasses.asdict(self.contract) if self.contract else {}),
        )


def issue(
    *,
    departement: str,
    year: int,
    sequence: int,
    issued_at: datetime,
    document_kind: DocumentKind,
    invoice_kind: LineKind,
    collectivite: Collectivite,
    tariff_version: int,
    lines: Iterable[Line],
    source_key: str,
    refers_to: UUID | None = None,
    reason: str | None = None,
    request_id: UUID | None = None,
    assignment_id: UUID | None = None,
    contract: ContractRef | None = None,
) -> Invoice:
    """A new document with its number and its totals."""
    kept = tuple(lines)
    return Invoice(
        id=uuid.uuid4(),
        number=invoice_number(departement, year, sequence),
        departement=departement,
        year=year,
        sequence=sequence,
        document_kind=document_kind,
        invoice_kind=invoice_kind,
        collectivite=collectivite,
        tariff_version=tariff_version,
        lines=kept,
        totals=totals(kept),
        source_key=source_key,
        issued_at=issued_at,
        refers_to=refers_to,
        reason=reason,
        request_id=request_id,
        assignment_id=assignment_id,
        contract=contract,
    )


DRAFT_SEQUENCE = 0


def numbered(draft: Invoice, sequence: int, issued_at: datetime) -> Invoice:
    """The draft (built with :data:`DRAFT_SEQUENCE` and checked before any number was
    taken) with its number and time of issue."""
    return dataclasses.replace(
        draft,
        sequence=sequence,
        number=invoice_number(draft.departement, draft.year, sequence),
        issued_at=issued_at,
    )
