"""The words of the notifications service: kinds of message, channels, recipients,
deliveries and their states, and the recipients' preferences."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

# Fixed forever: changing it would give every past notification a new id.
NOTIFICATION_NAMESPACE = uuid.UUID("6f1c0f52-54a8-4a3e-9d0c-5b0e3f4f8a21")


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class Role(StrEnum):
    REQUESTER = "requester"
    ACTOR = "actor"
    TEAM = "team"
    SUBSCRIBER = "subscriber"


class Kind(StrEnum):
    """One kind of message, hence one template (``templates/<kind>.*``)."""

    DEMANDE_RECUE = "demande_recue"
    ACTEUR_PROPOSE = "acteur_propose"
    MISSION_ACCEPTEE = "mission_acceptee"
    MISSION_TERMINEE = "mission_terminee"
    FACTURE_EMISE = "facture_emise"
    OU_EN_ETES_VOUS = "ou_en_etes_vous"
    NOUVELLE_PROPOSITION = "nouvelle_proposition"
    RAPPEL_REPONSE = "rappel_reponse"
    DEMANDE_SANS_ACTEUR = "demande_sans_acteur"
    OFFRE_ADHESION = "offre_adhesion"
    PROPOSITION_EXPIREE = "proposition_expiree"
    DOUBLON_PRESUME = "doublon_presume"
    LIVRAISON_EN_ECHEC = "livraison_en_echec"
    RESUME_QUOTIDIEN = "resume_quotidien"
    CONVENTION_A_SIGNER = "convention_a_signer"
    RAPPEL_CONVENTION = "rappel_convention"
    CONVENTION_EXPIREE = "convention_expiree"
    JALON_REMIS = "jalon_remis"
    LIVRABLE_AJOUTE = "livrable_ajoute"
    MISSION_REAFFECTEE = "mission_reaffectee"
    WEBHOOK = "webhook"

    @property
    def essential(self) -> bool:
        """Essential messages call for an action or carry a legal fact: nobody opts out of
        them, and they are never held back for a digest."""
        return self in ESSENTIAL

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


ESSENTIAL = frozenset(
    {
        Kind.NOUVELLE_PROPOSITION,
        Kind.RAPPEL_REPONSE,
        Kind.FACTURE_EMISE,
        Kind.DEMANDE_SANS_ACTEUR,
        Kind.OFFRE_ADHESION,
        Kind.DOUBLON_PRESUME,
        Kind.LIVRAISON_EN_ECHEC,
        Kind.RESUME_QUOTIDIEN,
        Kind.CONVENTION_A_SIGNER,
        Kind.RAPPEL_CONVENTION,
        Kind.CONVENTION_EXPIREE,
        Kind.WEBHOOK,
    }
)

KIND_LABELS: dict[Kind, str] = {
    Kind.DEMANDE_RECUE: "Accusé de réception d'une demande",
    Kind.ACTEUR_PROPOSE: "Acteur proposé pour une demande",
    Kind.MISSION_ACCEPTEE: "Mission acceptée",
    Kind.MISSION_TERMINEE: "Mission terminée",
    Kind.FACTURE_EMISE: "Facture émise",
    Kind.OU_EN_ETES_VOUS: "Où en êtes-vous ?",
    Kind.NOUVELLE_PROPOSITION: "Nouvelle sollicitation d'un acteur",
    Kind.RAPPEL_REPONSE: "Rappel avant la date limite de réponse",
    Kind.DEMANDE_SANS_ACTEUR: "Demande sans acteur",
    Kind.OFFRE_ADHESION: "Offre d'adhésion (acteurs réservés aux adhérents)",
    Kind.PROPOSITION_EXPIREE: "Proposition restée sans réponse",
    Kind.DOUBLON_PRESUME: "Demande qui ressemble à une demande ouverte",
    Kind.LIVRAISON_EN_ECHEC: "Échec de livraison d'une notification",
    Kind.RESUME_QUOTIDIEN: "Résumé quotidien",
    Kind.CONVENTION_A_SIGNER: "Convention à signer",
    Kind.RAPPEL_CONVENTION: "Rappel avant l'expiration d'une convention",
    Kind.CONVENTION_EXPIREE: "Convention expirée sans signature",
    Kind.JALON_REMIS: "Jalon de mission remis",
    Kind.LIVRABLE_AJOUTE: "Livrable ajouté à une mission",
    Kind.MISSION_REAFFECTEE: "Mission confiée à un autre agent",
    Kind.WEBHOOK: "Webhook",
}


class DeliveryStatus(StrEnum):
    # The requester's address comes with the demande, which may arrive after the event.
    AWAITING_RECIPIENT = "awaiting_recipient"
    # Kept for the recipient's daily digest.
    HELD = "held"
    PENDING = "pending"
    SENT = "sent"
    DEAD_LETTERED = "dead_lettered"
    SKIPPED = "skipped"
    DIGESTED = "digested"


class Digest(StrEnum):
    NONE = "none"
    DAILY = "daily"


def notification_id(source_id: str, recipient: str, channel: Channel) -> UUID:
    """The same source, recipient and channel always give the same id: the unique key that
    makes a second message impossible, and the stable ``Message-ID`` of the email.

    ``recipient`` names the recipient by role and reference (``actor:caue49``), not by
    address, so that an address changed between two deliveries of one event cannot
    produce a second message.
    """
    return uuid.uuid5(NOTIFICATION_NAMESPACE, f"{source_id}|{recipient}|{channel.value}")


def normalise_address(address: str) -> str:
    return address.strip().lower()


@dataclass(frozen=True, slots=True)
class Preferences:
    opted_out: frozenset[Kind] = frozenset()
    digest: Digest = Digest.NONE

    def status_for(self, kind: Kind) -> tuple[DeliveryStatus, str | None]:
        """What happens to a new message of ``kind`` for this recipient, and why."""
        if kind.essential:
            return DeliveryStatus.PENDING, None
        if kind in self.opted_out:
            return DeliveryStatus.SKIPPED, "opted_out"
        if self.digest is Digest.DAILY:
            return DeliveryStatus.HELD, None
        return DeliveryStatus.PENDING, None


class PreferenceError(ValueError):
    """A preference that cannot be granted (an essential kind)."""


def preferences(opted_out: list[Kind], digest: Digest) -> Preferences:
    essential = [k for k in opted_out if k.essential]
    if essential:
        names = ", ".join(f"« {k.label} »" for k in essential)
        raise PreferenceError(
            f"Message(s) essentiel(s), auquel(s) on ne peut pas se désabonner : {names}."
        )
    return Preferences(opted_out=frozenset(opted_out), digest=digest)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery handed to a sender: one message, one recipient, one channel."""

    id: UUID
    channel: Channel
    kind: Kind
    departement: str
    role: Role
    endpoint: str
    attempts: int
    payload: dict[str, Any]
    address: str | None = None
    subscription_id: UUID | None = None
    url: str | None = None
    secret: str | None = field(default=None, repr=False)
    source_event_id: str = ""
    source_event_type: str = ""
    correlation_id: str | None = None
    causation_id: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery as recorded: first status, no attempt yet, due from ``created_at``."""

    id: UUID
    channel: Channel
    kind: Kind
    departement: str
    role: Role
    # The recipient by role and reference (``actor:caue49``), not by address.
    recipient: str
    endpoint: str
    payload: dict[str, Any]
    status: DeliveryStatus
    created_at: datetime
    source_event_id: str
    source_event_type: str
    address: str | None = None
    subscription_id: UUID | None = None
    request_id: UUID | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    reason: str | None = None


def email_endpoint() -> str:
    return "smtp"


def webhook_endpoint(subscription_id: UUID) -> str:
    return f"webhook:{subscription_id}"
