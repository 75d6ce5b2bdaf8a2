"""Events written by the billing service: adhésions, invoices and credit notes."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.base import EventPayload
from shared.contracts.topics import BILLING_ADHESION, BILLING_BUYER, BILLING_INVOICE
from shared.contracts.vocabulary import RequesterKind


class _AdhesionEvent(EventPayload):
    topic: ClassVar[str] = BILLING_ADHESION.name
    producer: ClassVar[str] = BILLING_ADHESION.writer

    adhesion_id: UUID
    departement: str
    year: int
    collectivite_code: str
    collectivite_kind: RequesterKind


class AdhesionRegistered(_AdhesionEvent):
    event_type: ClassVar[str] = "billing.adhesion.registered.v1"
    summary: ClassVar[str] = "A collectivité joined its département's offer for a year."

    collectivite_name: str
    population: int
    registered_at: AwareDatetime


class AdhesionEnded(_AdhesionEvent):
    event_type: ClassVar[str] = "billing.adhesion.ended.v1"
    summary: ClassVar[str] = "A collectivité left the offer before the end of the year."

    reason: str | None = None
    ended_at: AwareDatetime


class MissionRateRef(BaseModel):
    """A mission fee of the tariff for one kind of actor; amounts excluding tax."""

    model_config = ConfigDict(frozen=True)

    actor_kind: str
    actor_label: str
    unit: Literal["day", "flat"]
    member: Decimal
    non_member: Decimal


class MembershipOffered(EventPayload):
    """Answer to a demande left unmatched for want of an adhésion (matching's
    ``adhesion_requise``): what joining would cost this collectivité this year."""

    topic: ClassVar[str] = BILLING_ADHESION.name
    producer: ClassVar[str] = BILLING_ADHESION.writer
    event_type: ClassVar[str] = "billing.adhesion.offered.v1"
    summary: ClassVar[str] = (
        "A non-member needs an offer reserved to members: the cotisation of the year and "
        "the member rates, from the tariff in force."
    )

    request_id: UUID
    departement: str
    year: int
    collectivite_code: str
    collectivite_kind: RequesterKind
    collectivite_name: str
    population: int
    tariff_label: str
    tariff_version: int
    cotisation_excl_tax: Decimal
    cotisation_incl_tax: Decimal
    mission_rates: list[MissionRateRef]
    actor_names: list[str]
    offered_at: AwareDatetime


class LineRef(BaseModel):
    """One line of an invoice; amounts are decimal strings, rounded half-up to the cent."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["cotisation", "mission"]
    label: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount_excl_tax: Decimal
    vat_rate: Decimal
    vat_amount: Decimal
    amount_incl_tax: Decimal
    vat_mention: str | None = None


class _DocumentEvent(EventPayload):
    topic: ClassVar[str] = BILLING_INVOICE.name
    producer: ClassVar[str] = BILLING_INVOICE.writer

    document_id: UUID
    number: str
    departement: str
    year: int
    collectivite_code: str
    collectivite_kind: RequesterKind
    collectivite_name: str
    lines: list[LineRef]
    total_excl_tax: Decimal
    total_vat: Decimal
    total_incl_tax: Decimal
    issued_at: AwareDatetime


class InvoiceIssued(_DocumentEvent):
    event_type: ClassVar[str] = "billing.invoice.issued.v1"
    summary: ClassVar[str] = "An invoice was issued: the annual cotisation or a mission fee."

    invoice_kind: Literal["cotisation", "mission"]
    tariff_version: int
    request_id: UUID | None = None
    assignment_id: UUID | None = None
    convention_number: str | None = None
    engagement_number: str | None = None
    service_code: str | None = None


class CreditNoteIssued(_DocumentEvent):
    event_type: ClassVar[str] = "billing.credit_note.issued.v1"
    summary: ClassVar[str] = "An invoice was cancelled by a credit note that refers to it."

    refers_to_id: UUID
    refers_to_number: str
    reason: str


class BuyerAccountRegistered(EventPayload):
    """A collectivité's buyer account as it now is (created or changed): who to invoice
    in Chorus Pro and what the buyer requires of an invoice."""

    topic: ClassVar[str] = BILLING_BUYER.name
    producer: ClassVar[str] = BILLING_BUYER.writer
    event_type: ClassVar[str] = "billing.buyer.registered.v1"
    summary: ClassVar[str] = (
        "A collectivité's buyer account (Chorus Pro invoicing establishment) was set or changed."
    )

    departement: str
    collectivite_code: str
    collectivite_kind: RequesterKind
    collectivite_name: str
    siret: str
    service_code: str | None = None
    service_code_required: bool
    engagement_required: bool
    service_or_engagement_required: bool = False
    services: list[str] = Field(default_factory=list)
    source: Literal["api", "convention", "directory"]
    updated_at: AwareDatetime
