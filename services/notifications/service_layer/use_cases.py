"""Use cases of the notifications service: record what an event must cause, remind,
follow up, gather digests, record the outcome of each attempt, and manage contacts,
preferences and webhook subscriptions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from services.notifications.adapters.repository import NotificationsRepository, StoredSubscription
from services.notifications.config import NotificationSettings
from services.notifications.domain import rules
from services.notifications.domain.delivery import DeliveryFailed, GiveUp, Retry, after_failure
from services.notifications.domain.model import (
    NOTIFICATION_NAMESPACE,
    Channel,
    Delivery,
    DeliveryStatus,
    Kind,
    Preferences,
    Role,
    email_endpoint,
    notification_id,
    webhook_endpoint,
)
from services.notifications.domain.rules import DemandeCard, Known, Planned, Unresolved
from services.notifications.domain.webhook import cloud_event
from services.notifications.domain.wording import PARIS, french_date
from shared.auth.tokens import Principal
from shared.auth.tokens import Role as PrincipalRole
from shared.contracts.base import EventPayload
from shared.contracts.billing import InvoiceIssued
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentCancelled,
    AssignmentCompleted,
    AssignmentDeclined,
    AssignmentExpired,
    AssignmentProposed,
)
from shared.contracts.notifications import DeliveryDeadLettered, DeliverySent
from shared.contracts.requests import RequestSubmitted, RequestWithdrawn
from shared.errors import Conflict, Forbidden, NotFound
from shared.messaging.envelope import Envelope
from shared.messaging.outbox import OutboxWriter
from shared.observability.logging import get_logger

log = get_logger(__name__)

SOURCE = "notifications"


class UnitOfWork(Protocol):
    repository: NotificationsRepository
    outbox: OutboxWriter

    async def commit(self) -> None: ...


# --- what an event causes -----------------------------------------------------------------


async def record_event(
    uow: UnitOfWork,
    envelope: Envelope,
    payload: EventPayload,
    settings: NotificationSettings,
    now: datetime,
) -> int:
    """Follow the event in the projection and record the deliveries it causes; the
    caller commits them with the processed-event row. Returns how many were recorded."""
    request_id: UUID | None = getattr(payload, "request_id", None)
    if request_id is not None:
        await uow.repository.lock_demande(request_id)
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
        actor_address=await _actor_address(uow, actor_id) if actor_id else None,
    )
    planned = rules.plan(payload, known)
    rows = await _email_rows(
        uow,
        planned,
        source_id=envelope.id,
        source_type=envelope.type,
        departement=envelope.departement,
        correlation_id=envelope.correlation_id,
        causation_id=envelope.id,
        now=now,
    )
    subscriptions = await uow.repository.subscriptions_for(envelope.departement)
    for subscription in rules.subscribers(subscriptions, envelope.type, envelope.departement):
        rows.append(_webhook_row(subscription.id, envelope, payload, now))
    recorded = await uow.repository.add_deliveries(rows)
    if isinstance(payload, RequestSubmitted) and card is not None:
        await _resolve_awaiting(uow, card, now)
    return recorded


async def _follow(
    uow: UnitOfWork,
    payload: EventPayload,
    envelope: Envelope,
    settings: NotificationSettings,
    now: datetime,
) -> tuple[bool, DemandeCard | None]:
    """Update the projection; returns whether the fact is new, and the demande's card."""
    repo = uow.repository
    match payload:
        case RequestSubmitted():
            card = DemandeCard(
                request_id=payload.request_id,
                departement=payload.departement,
                requester_code=payload.requester.code,
                requester_name=payload.requester.name,
                contact_name=payload.contact.name,
                contact_email=payload.contact.email.lower(),
                title=payload.title,
                correlation_id=envelope.correlation_id,
            )
            return await repo.add_demande(card, payload.submitted_at, now), card
        case RequestWithdrawn():
            await repo.set_demande_status(payload.request_id, "withdrawn")
        case AssignmentProposed():
            fresh = await repo.add_proposal(
                assignment_id=payload.assignment_id,
                request_id=payload.request_id,
                departement=payload.departement,
                actor_id=payload.actor_id,
                actor_name=payload.actor_name,
                respond_by=payload.respond_by,
                remind_at=rules.reminder_at(
                    payload.proposed_at, payload.respond_by, settings.reminder_lead
                ),
                now=now,
            )
            await repo.record_news(payload.request_id, now)
            return fresh, await repo.demande(payload.request_id)
        case AssignmentAccepted():
            await repo.set_proposal_status(payload.assignment_id, "accepted", now)
            await repo.record_news(payload.request_id, now)
        case AssignmentDeclined() | AssignmentExpired() | AssignmentCancelled():
            status = {
                AssignmentDeclined: "declined",
                AssignmentExpired: "expired",
                AssignmentCancelled: "cancelled",
            }[type(payload)]
            await repo.set_proposal_status(payload.assignment_id, status, now)
        case AssignmentCompleted():
            await repo.set_proposal_status(payload.assignment_id, "completed", now)
            await repo.record_news(payload.request_id, now)
            if await repo.open_proposals(payload.request_id) == 0:
                # Every mission of the chain is over: no more "Où en êtes-vous ?".
                await repo.set_demande_status(payload.request_id, "done")
        case InvoiceIssued():
            if payload.request_id is not None:
                # A mission's invoice goes to the contact of that demande, and no other.
                return True, await repo.demande(payload.request_id)
            return True, await repo.latest_demande_of(
                payload.collectivite_code, payload.departement
            )
    request_id: UUID | None = getattr(payload, "request_id", None)
    return True, await repo.demande(request_id) if request_id else None


async def team_address(uow: UnitOfWork, settings: NotificationSettings, departement: str) -> str:
    return await uow.repository.team_contact(departement) or settings.team_address(departement)


async def _actor_address(uow: UnitOfWork, actor_id: str) -> str | None:
    contact = await uow.repository.actor_contact(actor_id)
    return contact[1] if contact else None


async def _email_rows(
    uow: UnitOfWork,
    planned: list[Planned],
    *,
    source_id: str,
    source_type: str,
    departement: str,
    correlation_id: str | None,
    causation_id: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    chosen = await uow.repository.preferences_of(p.address for p in planned if p.address)
    rows = []
    for p in planned:
        status, reason = _first_status(p, chosen.get(p.address or "", Preferences()))
        if reason is not None:
            # The reason and the kind only: the address is personal data.
            log.info("message not sent", kind=p.kind.value, role=p.role.value, reason=reason)
        rows.append(
            {
                "id": notification_id(source_id, p.recipient, Channel.EMAIL),
                "channel": Channel.EMAIL.value,
                "kind": p.kind.value,
                "departement": departement,
                "recipient_role": p.role.value,
                "recipient": p.recipient,
                "address": p.address,
                "subscription_id": None,
                "endpoint": email_endpoint(),
                "request_id": p.request_id,
                "payload": p.context,
                "source_event_id": source_id,
                "source_event_type": source_type,
                "correlation_id": correlation_id,
                "causation_id": causation_id,
                "status": status.value,
                "attempts": 0,
                "next_attempt_at": now,
                "reason": reason,
                "created_at": now,
            }
        )
    return rows


def _first_status(planned: Planned, chosen: Preferences) -> tuple[DeliveryStatus, str | None]:
    match planned.unresolved:
        case Unresolved.AWAITING_DEMANDE:
            return DeliveryStatus.AWAITING_RECIPIENT, None
        case Unresolved.NO_ACTOR_CONTACT:
            return DeliveryStatus.SKIPPED, "no_actor_contact"
    return chosen.status_for(planned.kind)


def _webhook_row(
    subscription_id: UUID, envelope: Envelope, payload: EventPayload, now: datetime
) -> dict[str, Any]:
    recipient = f"webhook:{subscription_id}"
    return {
        "id": notification_id(envelope.id, recipient, Channel.WEBHOOK),
        "channel": Channel.WEBHOOK.value,
        "kind": Kind.WEBHOOK.value,
        "departement": envelope.departement,
        "recipient_role": Role.SUBSCRIBER.value,
        "recipient": recipient,
        "address": None,
        "subscription_id": subscription_id,
        "endpoint": webhook_endpoint(subscription_id),
        "request_id": getattr(payload, "request_id", None),
        "payload": cloud_event(
            event_id=envelope.id,
            event_type=envelope.type,
            source=envelope.source,
            time=envelope.time,
            departement=envelope.departement,
            data=payload.model_dump(mode="json"),
            correlation_id=envelope.correlation_id,
            causation_id=envelope.causation_id,
        ),
        "source_event_id": envelope.id,
        "source_event_type": envelope.type,
        "correlation_id": envelope.correlation_id,
        "causation_id": envelope.id,
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "reason": None,
        "created_at": now,
    }


async def _resolve_awaiting(uow: UnitOfWork, card: DemandeCard, now: datetime) -> int:
    """The demande arrived after events that name it: their messages can now be addressed."""
    waiting = await uow.repository.awaiting(card.request_id)
    if not waiting:
        return 0
    chosen = (await uow.repository.preferences_of([card.contact_email])).get(
        card.contact_email, Preferences()
    )
    for delivery_id, kind, context in waiting:
        status, reason = chosen.status_for(kind)
        await uow.repository.resolve(
            delivery_id,
            address=card.contact_email,
            status=status,
            reason=reason,
            payload=context | rules.demande_context(card),
            now=now,
        )
    return len(waiting)


# --- what the clock causes ----------------------------------------------------------------


async def remind_actors(
    uow: UnitOfWork, settings: NotificationSettings, now: datetime, limit: int = 100
) -> int:
    """Remind actors whose proposal's deadline is near; safe with several instances."""
    due = await uow.repository.due_reminders(now, limit)
    for proposal in due:
        card = await uow.repository.demande(proposal.request_id)
        planned = rules.reminder(
            departement=proposal.departement,
            request_id=proposal.request_id,
            actor_id=proposal.actor_id,
            actor_name=proposal.actor_name,
            respond_by=proposal.respond_by,
            actor_address=await _actor_address(uow, proposal.actor_id),
            demande=card,
        )
        rows = await _email_rows(
            uow,
            [planned],
            source_id=f"reminder:{proposal.assignment_id}",
            source_type="notifications.reminder",
            departement=proposal.departement,
            correlation_id=card.correlation_id if card else None,
            causation_id=None,
            now=now,
        )
        await uow.repository.add_deliveries(rows)
        await uow.repository.mark_reminded(proposal.assignment_id, now)
    await uow.commit()
    return len(due)


async def follow_up_requesters(
    uow: UnitOfWork, settings: NotificationSettings, now: datetime, limit: int = 100
) -> int:
    """Ask "Où en êtes-vous ?" of the requesters of open demandes without news for a while."""
    due = await uow.repository.due_follow_ups(now - settings.follow_up_period, limit)
    for card, last_news_at in due:
        # The time of the last news names this follow-up: each period gets one, once.
        period = uuid.uuid5(NOTIFICATION_NAMESPACE, f"{card.request_id}|{last_news_at.isoformat()}")
        rows = await _email_rows(
            uow,
            [rules.follow_up(card, last_news_at)],
            source_id=f"follow-up:{period}",
            source_type="notifications.follow_up",
            departement=card.departement,
            correlation_id=card.correlation_id,
            causation_id=None,
            now=now,
        )
        await uow.repository.add_deliveries(rows)
        await uow.repository.record_news(card.request_id, now)
    await uow.commit()
    return len(due)


async def give_up_awaiting(uow: UnitOfWork, settings: NotificationSettings, now: datetime) -> int:
    dropped = await uow.repository.give_up_awaiting(now - settings.awaiting_limit)
    if dropped:
        log.warning("messages dropped: their demande never arrived", count=dropped)
    await uow.commit()
    return dropped


def digest_due(settings: NotificationSettings, now: datetime) -> bool:
    return now.astimezone(PARIS).hour >= settings.digest_hour


async def digest_addresses(uow: UnitOfWork, now: datetime, limit: int = 100) -> list[str]:
    day = now.astimezone(PARIS).date()
    return await uow.repository.held_addresses(now, rules.digest_source(day), limit)


async def send_digest(uow: UnitOfWork, address: str, now: datetime) -> UUID | None:
    """Gather what ``address`` has waiting into today's one digest; None if nothing to do."""
    day = now.astimezone(PARIS).date()
    held = await uow.repository.take_held(address, now)
    if not held:
        return None
    source = rules.digest_source(day)
    digest_id = notification_id(source, rules.digest_recipient(address), Channel.EMAIL)
    first = held[0]
    recorded = await uow.repository.add_deliveries(
        [
            {
                "id": digest_id,
                "channel": Channel.EMAIL.value,
                "kind": Kind.RESUME_QUOTIDIEN.value,
                "departement": first.departement,
                "recipient_role": first.role.value,
                "recipient": rules.digest_recipient(address),
                "address": address,
                "subscription_id": None,
                "endpoint": email_endpoint(),
                "request_id": None,
                "payload": {
                    "date": french_date(day),
                    "items": [{"kind": d.kind.value, "context": d.payload} for d in held],
                },
                "source_event_id": source,
                "source_event_type": "notifications.digest",
                "correlation_id": None,
                "causation_id": None,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "reason": None,
                "created_at": now,
            }
        ]
    )
    if not recorded:
        # Today's digest went out already: these wait for tomorrow's.
        return None
    await uow.repository.mark_digested([d.id for d in held], digest_id)
    await uow.commit()
    return digest_id


# --- the outcome of an attempt ------------------------------------------------------------


def _cause(delivery: Delivery) -> Envelope | None:
    if not delivery.causation_id:
        return None
    return Envelope(
        type=delivery.source_event_type,
        source=SOURCE,
        departement=delivery.departement,
        id=delivery.causation_id,
        correlation_id=delivery.correlation_id or "",
    )


def _event_fields(delivery: Delivery, attempts: int) -> dict[str, Any]:
    return {
        "notification_id": delivery.id,
        "departement": delivery.departement,
        "channel": delivery.channel.value,
        "kind": delivery.kind.value,
        "recipient_role": delivery.role.value,
        "subscription_id": delivery.subscription_id,
        "source_event_id": delivery.source_event_id,
        "source_event_type": delivery.source_event_type,
        "attempts": attempts,
    }


async def _publish(uow: UnitOfWork, delivery: Delivery, payload: EventPayload) -> Envelope:
    cause = _cause(delivery)
    if cause is not None:
        return await uow.outbox.add(payload, departement=delivery.departement, caused_by=cause)
    return await uow.outbox.add(
        payload, departement=delivery.departement, correlation_id=delivery.correlation_id
    )


async def record_sent(uow: UnitOfWork, delivery: Delivery, now: datetime) -> bool:
    sent = await uow.repository.mark_sent(delivery.id, now)
    if sent is None:
        return False
    await _publish(uow, sent, DeliverySent(**_event_fields(sent, sent.attempts), sent_at=now))
    await uow.commit()
    return True


async def record_failure(
    uow: UnitOfWork,
    delivery: Delivery,
    failure: DeliveryFailed,
    settings: NotificationSettings,
    now: datetime,
    draw: float,
) -> Retry | GiveUp:
    decision = after_failure(settings.retry_policy(), delivery.attempts + 1, failure, now, draw)
    if isinstance(decision, Retry):
        await uow.repository.mark_retry(
            delivery.id, decision.at, str(failure)[:1000], failure.reason
        )
        await uow.commit()
        return decision
    dead = await uow.repository.mark_final(
        delivery.id, DeliveryStatus.DEAD_LETTERED, failure.reason, str(failure)[:1000]
    )
    if dead is None:
        return decision
    event = await _publish(
        uow,
        dead,
        DeliveryDeadLettered(
            **_event_fields(dead, dead.attempts),
            reason=failure.reason,
            # A mail server's words may quote the address: only webhooks say more.
            error=(failure.detail[:300] or None) if dead.channel is Channel.WEBHOOK else None,
            dead_lettered_at=now,
        ),
    )
    if rules.tells_team_of_failure(dead.kind):
        notice = rules.dead_letter_notice(
            departement=dead.departement,
            team_address=await team_address(uow, settings, dead.departement),
            failed_kind=dead.kind,
            failed_role=dead.role,
            channel=dead.channel.value,
            reason=failure.reason,
            attempts=dead.attempts,
            source_event_type=dead.source_event_type,
            source_event_id=dead.source_event_id,
            subscription_id=dead.subscription_id,
        )
        rows = await _email_rows(
            uow,
            [notice],
            source_id=event.id,
            source_type=event.type,
            departement=dead.departement,
            correlation_id=event.correlation_id,
            causation_id=event.id,
            now=now,
        )
        await uow.repository.add_deliveries(rows)
    await uow.commit()
    return decision


async def record_skipped(uow: UnitOfWork, delivery: Delivery, reason: str) -> None:
    await uow.repository.mark_final(
        delivery.id, DeliveryStatus.SKIPPED, reason, None, count_attempt=False
    )
    await uow.commit()


# --- contacts, preferences, subscriptions (HTTP) ------------------------------------------


def ensure_team(principal: Principal, departement: str | None) -> str | None:
    """The département a team member or an administrator acts for."""
    if principal.role is PrincipalRole.ADMIN:
        return departement
    if principal.role is not PrincipalRole.DEPARTEMENT:
        raise Forbidden("Réservé à l'équipe du département.")
    if departement is not None and departement != principal.departement:
        raise Forbidden("Vous ne pouvez agir que pour votre département.")
    return principal.departement


async def save_actor_contact(
    uow: UnitOfWork,
    principal: Principal,
    actor_id: str,
    departement: str | None,
    email: str,
    name: str | None,
    now: datetime,
) -> str:
    """Returns the actor's département."""
    if principal.role is PrincipalRole.ACTOR:
        if principal.scope != actor_id:
            raise Forbidden("Un acteur ne modifie que sa propre adresse.")
        departement = principal.departement
    else:
        departement = ensure_team(principal, departement)
    if departement is None:
        raise Forbidden("Précisez le département de l'acteur.")
    existing = await uow.repository.actor_contact(actor_id)
    if existing is not None and existing[0] != departement:
        raise Forbidden("Cet acteur relève d'un autre département.")
    await uow.repository.save_actor_contact(
        actor_id, departement, email.lower(), name, principal.subject, now
    )
    await uow.commit()
    return departement


async def read_actor_contact(
    uow: UnitOfWork, principal: Principal, actor_id: str
) -> tuple[str, str, str | None]:
    found = await uow.repository.actor_contact(actor_id)
    if found is None or not principal.can_act_for(found[0]):
        raise NotFound("Aucune adresse enregistrée pour cet acteur.")
    if principal.role is PrincipalRole.ACTOR and principal.scope != actor_id:
        raise Forbidden("Un acteur ne consulte que sa propre adresse.")
    if principal.role is PrincipalRole.COLLECTIVITE:
        raise Forbidden("Réservé aux équipes et aux acteurs.")
    return found


async def save_team_contact(
    uow: UnitOfWork, principal: Principal, departement: str, email: str, now: datetime
) -> None:
    ensure_team(principal, departement)
    await uow.repository.save_team_contact(departement, email.lower(), principal.subject, now)
    await uow.commit()


async def may_manage_preferences(uow: UnitOfWork, principal: Principal, address: str) -> None:
    repo = uow.repository
    match principal.role:
        case PrincipalRole.ADMIN:
            return
        case PrincipalRole.ACTOR:
            allowed = await repo.address_known_to(
                address, departement=principal.departement, actor_id=principal.scope
            )
        case PrincipalRole.COLLECTIVITE:
            allowed = await repo.address_known_to(
                address, departement=principal.departement, requester_code=principal.scope
            )
        case _:
            allowed = await repo.address_known_to(address, departement=principal.departement)
    if not allowed:
        raise Forbidden("Cette adresse n'est pas un contact de votre périmètre.")


async def save_preferences(
    uow: UnitOfWork, principal: Principal, address: str, chosen: Preferences, now: datetime
) -> None:
    await may_manage_preferences(uow, principal, address)
    await uow.repository.save_preferences(address, chosen, principal.subject, now)
    await uow.commit()


async def read_preferences(uow: UnitOfWork, principal: Principal, address: str) -> Preferences:
    await may_manage_preferences(uow, principal, address)
    return (await uow.repository.preferences_of([address])).get(address, Preferences())


async def subscribe_webhook(
    uow: UnitOfWork,
    principal: Principal,
    *,
    departement: str | None,
    url: str,
    event_types: list[str],
    secret: str,
    description: str | None,
    now: datetime,
) -> StoredSubscription:
    scope = ensure_team(principal, departement)
    created = await uow.repository.add_subscription(
        subscription_id=uuid.uuid4(),
        departement=scope,
        url=url,
        event_types=sorted(set(event_types)),
        secret=secret,
        description=description,
        by=principal.subject,
        now=now,
    )
    await uow.commit()
    log.info("webhook subscription created", subscription_id=str(created.id))
    return created


async def visible_subscription(
    uow: UnitOfWork, principal: Principal, subscription_id: UUID
) -> StoredSubscription:
    ensure_team(principal, None)
    found = await uow.repository.subscription(subscription_id)
    if (
        found is None
        or not found.active
        or (
            principal.role is not PrincipalRole.ADMIN and found.departement != principal.departement
        )
    ):
        raise NotFound("Abonnement introuvable.")
    return found


async def unsubscribe_webhook(
    uow: UnitOfWork, principal: Principal, subscription_id: UUID, now: datetime
) -> None:
    await visible_subscription(uow, principal, subscription_id)
    await uow.repository.remove_subscription(subscription_id, now)
    await uow.commit()


async def retry_dead_letter(
    uow: UnitOfWork, principal: Principal, delivery_id: UUID, now: datetime
) -> None:
    found = await uow.repository.delivery(delivery_id)
    if found is None or not principal.can_act_for(found.departement):
        raise NotFound("Livraison introuvable.")
    ensure_team(principal, found.departement)
    if not await uow.repository.retry_dead_letter(delivery_id, now):
        raise Conflict("Seule une livraison en échec définitif peut être relancée.")
    await uow.commit()
