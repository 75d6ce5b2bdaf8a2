"""What an event of the demandes, assignments or invoices causes: the projection follows
it, and the deliveries it calls for are recorded with the processed-event row."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.notifications.config import NotificationSettings
from services.notifications.domain import rules
from services.notifications.domain.model import Preferences
from services.notifications.domain.rules import DemandeCard, Known, RequesterContact
from services.notifications.domain.views import ConventionReminder, DueProposal
from services.notifications.service_layer.ports import UnitOfWork
from services.notifications.service_layer.recording import (
    Source,
    actor_address,
    emails,
    team_address,
    webhook,
)
from shared.contracts.base import EventPayload
from shared.contracts.billing import InvoiceIssued
from shared.contracts.conventions import (
    ConventionExpired,
    ConventionRefused,
    ConventionSent,
    ConventionSigned,
)
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentCancelled,
    AssignmentCompleted,
    AssignmentDeclined,
    AssignmentExpired,
    AssignmentProposed,
)
from shared.contracts.requests import (
    ContactRecorded,
    RequestSubmitted,
    RequestSubmittedV2,
    RequestWithdrawn,
)
from shared.messaging.envelope import Envelope
from shared.observability.logging import get_logger

log = get_logger(__name__)


async def record_event(
    uow: UnitOfWork,
    envelope: Envelope,
    payload: EventPayload,
    settings: NotificationSettings,
    now: datetime,
) -> int:
    """Follow the event in the projection and record the deliveries it causes; the
    caller commits them with the processed-event row. Returns how many were recorded."""
    request_id = rules.request_id_of(payload)
    if request_id is not None:
        await uow.demandes.lock(request_id)
    fresh, card = await _follow(uow, payload, envelope, settings, now)
    if not fresh:
        # Same demande or proposal under another event id: its messages went out already.
        log.info("event repeats a known fact, nothing sent")
        return 0
    actor_id: str | None = getattr(payload, "actor_id", None)
    known = Known(
        departement=envelope.departement,
        team_address=await team_address(uow, settings, envelope.departement),
        demande=card,
        actor_address=(
            await actor_address(uow, envelope.departement, actor_id) if actor_id else None
        ),
    )
    new = await emails(uow, rules.plan(payload, known), Source.of(envelope), now)
    subscriptions = await uow.subscriptions.for_departement(envelope.departement)
    for subscription in rules.subscribers(subscriptions, envelope.type, envelope.departement):
        new.append(webhook(subscription.id, envelope, payload, now))
    recorded = await uow.deliveries.add(new)
    if isinstance(payload, RequestSubmitted | RequestSubmittedV2) and card is not None:
        await _resolve_awaiting(uow, card, now)
    return recorded


async def record_contact(uow: UnitOfWork, payload: ContactRecorded, now: datetime) -> int:
    """Keep a demande's contact from the restricted topic; the messages of a demande that
    arrived before its contact go out now (ADR 0020). Returns how many were addressed."""
    await uow.demandes.lock(payload.request_id)
    filled = await uow.demandes.record_contact(
        RequesterContact(
            contact_id=payload.contact_id,
            departement=payload.departement,
            request_id=payload.request_id,
            name=payload.name,
            email=payload.email.lower(),
            phone=payload.phone,
            recorded_at=payload.recorded_at,
        )
    )
    return sum([await _resolve_awaiting(uow, card, now) for card in filled])


async def _follow(
    uow: UnitOfWork,
    payload: EventPayload,
    envelope: Envelope,
    settings: NotificationSettings,
    now: datetime,
) -> tuple[bool, DemandeCard | None]:
    """Update the projection; returns whether the fact is new, and the demande's card."""
    demandes = uow.demandes
    match payload:
        case RequestSubmitted() | RequestSubmittedV2():
            card = await _submitted_card(uow, payload, envelope)
            return await demandes.add(card, payload.submitted_at, now), card
        case RequestWithdrawn():
            await demandes.set_status(payload.request_id, "withdrawn")
        case AssignmentProposed():
            proposal = DueProposal(
                assignment_id=payload.assignment_id,
                request_id=payload.request_id,
                departement=payload.departement,
                actor_id=payload.actor_id,
                actor_name=payload.actor_name,
                respond_by=payload.respond_by,
            )
            remind_at = rules.reminder_at(
                payload.proposed_at, payload.respond_by, settings.reminder_lead
            )
            fresh = await demandes.add_proposal(proposal, remind_at, now)
            await demandes.record_news(payload.request_id, now)
            return fresh, await demandes.get(payload.request_id)
        case AssignmentAccepted():
            await demandes.set_proposal_status(payload.assignment_id, "accepted", now)
            await demandes.record_news(payload.request_id, now)
        case AssignmentDeclined() | AssignmentExpired() | AssignmentCancelled():
            status = {
                AssignmentDeclined: "declined",
                AssignmentExpired: "expired",
                AssignmentCancelled: "cancelled",
            }[type(payload)]
            await demandes.set_proposal_status(payload.assignment_id, status, now)
        case AssignmentCompleted():
            await demandes.set_proposal_status(payload.assignment_id, "completed", now)
            await demandes.record_news(payload.request_id, now)
            if await demandes.open_proposals(payload.request_id) == 0:
                # Every mission of the chain is over: no more "Où en êtes-vous ?".
                await demandes.set_status(payload.request_id, "done")
        case ConventionSent():
            reminder = ConventionReminder(
                convention_id=payload.convention_id,
                demande_id=payload.demande_id,
                departement=payload.departement,
                number=payload.number,
                valid_until=payload.valid_until,
                total_incl_tax=str(payload.total_incl_tax),
            )
            remind_at = rules.convention_reminder_at(payload.sent_at, payload.valid_until)
            fresh = await uow.convention_reminders.add(reminder, remind_at)
            return fresh, await demandes.get(payload.demande_id)
        case ConventionSigned() | ConventionRefused() | ConventionExpired():
            await uow.convention_reminders.close(payload.convention_id, now)
        case InvoiceIssued():
            if payload.request_id is not None:
                # A mission's invoice goes to the contact of that demande, and no other.
                return True, await demandes.get(payload.request_id)
            return True, await demandes.latest_of(payload.collectivite_code, payload.departement)
    request_id = rules.request_id_of(payload)
    return True, await demandes.get(request_id) if request_id else None


async def _submitted_card(
    uow: UnitOfWork, payload: RequestSubmitted | RequestSubmittedV2, envelope: Envelope
) -> DemandeCard:
    """v1 carried its contact; v2 names it, and the restricted topic brought it first or
    the card waits for it (ADR 0020)."""
    contact_id: UUID | None = None
    name: str | None
    email: str | None
    if isinstance(payload, RequestSubmitted):
        name, email = payload.contact.name, payload.contact.email.lower()
    else:
        contact = await uow.demandes.contact(payload.contact_id)
        contact_id = payload.contact_id
        name, email = (contact.name, contact.email) if contact else (None, None)
    return DemandeCard(
        request_id=payload.request_id,
        departement=payload.departement,
        requester_code=payload.requester.code,
        requester_name=payload.requester.name,
        contact_name=name,
        contact_email=email,
        title=payload.title,
        correlation_id=envelope.correlation_id,
        contact_id=contact_id,
    )


async def _resolve_awaiting(uow: UnitOfWork, card: DemandeCard, now: datetime) -> int:
    """The demande (or its contact) arrived after events that name it: their messages can
    now be addressed."""
    if card.contact_email is None:
        return 0
    waiting = await uow.deliveries.awaiting(card.request_id)
    if not waiting:
        return 0
    address = card.contact_email
    chosen = (await uow.preferences.of(card.departement, [address])).get(address, Preferences())
    contact = await uow.preferences.contact(card.departement, address, now)
    for delivery_id, kind, context in waiting:
        status, reason = chosen.status_for(kind)
        await uow.deliveries.resolve(
            delivery_id,
            address=card.contact_email,
            status=status,
            reason=reason,
            payload=context | rules.demande_context(card) | {"contact_id": str(contact.id)},
            now=now,
        )
    return len(waiting)
