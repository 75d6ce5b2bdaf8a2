"""Events written by the billing service about conventions (devis): the agreement a
collectivité signs before a mission starts, and its amendments (avenants).

Every event carries the convention's identity and its amounts, so that a consumer
never needs to read billing's database. The number of an avenant is the number of
the convention it amends with ``-A1``, ``-A2``… appended.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventPayload
from shared.contracts.topics import BILLING_CONVENTION
from shared.contracts.vocabulary import RequesterKind


class ConventionEvent(EventPayload):
    """What every event of a convention carries."""

    topic: ClassVar[str] = BILLING_CONVENTION.name
    producer: ClassVar[str] = BILLING_CONVENTION.writer

    convention_id: UUID
    number: str = Field(description="CONV-<dépt>-<year>-<6 digits>, with -A<n> for an avenant.")
    version: int = Field(ge=0, description="0 for the convention, n for its n-th avenant.")
    departement: str
    demande_id: UUID
    assignment_id: UUID
    actor_id: str
    collectivite_kind: RequesterKind
    collectivite_code: str = Field(description="INSEE code of a commune, SIREN of an EPCI.")
    collectivite_name: str
    total_excl_tax: Decimal
    total_vat: Decimal
    total_incl_tax: Decimal
    valid_until: AwareDatetime


class ConventionPrepared(ConventionEvent):
    event_type: ClassVar[str] = "billing.convention.prepared.v1"
    summary: ClassVar[str] = "A lead actor accepted: billing prepared the convention (brouillon)."

    prepared_at: AwareDatetime


class ConventionSent(ConventionEvent):
    event_type: ClassVar[str] = "billing.convention.sent.v1"
    summary: ClassVar[str] = "The convention was sent to the collectivité for signature."

    sent_at: AwareDatetime


class ConventionSigned(ConventionEvent):
    event_type: ClassVar[str] = "billing.convention.signed.v1"
    summary: ClassVar[str] = (
        "The collectivité signed, giving its engagement number and, if any, its service code."
    )

    engagement_number: str = Field(max_length=50)
    service_code: str | None = Field(default=None, max_length=100)
    signed_at: AwareDatetime


class ConventionRefused(ConventionEvent):
    event_type: ClassVar[str] = "billing.convention.refused.v1"
    summary: ClassVar[str] = "The collectivité refused the convention."

    reason: str | None = None
    refused_at: AwareDatetime


class ConventionExpired(ConventionEvent):
    event_type: ClassVar[str] = "billing.convention.expired.v1"
    summary: ClassVar[str] = (
        "The convention was not signed in time; the actor's capacity is released."
    )

    expired_at: AwareDatetime


class ConventionAmended(ConventionEvent):
    event_type: ClassVar[str] = "billing.convention.amended.v1"
    summary: ClassVar[str] = "An avenant of a signed convention was prepared, with its price delta."

    amends_id: UUID
    amends_number: str
    price_delta_excl_tax: Decimal
    reason: str
    amended_at: AwareDatetime
