"""How planned messages become recorded deliveries: one per recipient and channel, its
id derived from its source so that it can never be recorded twice, its first status
from the recipient's preferences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from services.notifications.config import NotificationSettings
from services.notifications.domain.model import (
    Channel,
    DeliveryStatus,
    Kind,
    NewDelivery,
    Preferences,
    Role,
    email_endpoint,
    notification_id,
    webhook_endpoint,
)
from services.notifications.domain.rules import Planned, Unresolved
from services.notifications.domain.webhook import cloud_event
from services.notifications.service_layer.ports import UnitOfWork
from shared.contracts.base import EventPayload
from shared.messaging.envelope import Envelope
from shared.observability.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Source:
    """What caused messages: an event, or the service's own clock. Its id names them,
    with the recipient; the rest is carried on to their outcome's event."""

    id: str
    type: str
    departement: str
    correlation_id: str | None = None
    causation_id: str | None = None

    @classmethod
    def of(cls, envelope: Envelope) -> Source:
        return cls(
            envelope.id, envelope.type, envelope.departement, envelope.correlation_id, envelope.id
        )


async def team_address(uow: UnitOfWork, settings: NotificationSettings, departement: str) -> str:
    return await uow.contacts.team(departement) or settings.team_address(departement)


async def actor_address(uow: UnitOfWork, departement: str, actor_id: str) -> str | None:
    contact = await uow.contacts.actor(departement, actor_id)
    return contact.email if contact else None


async def emails(
    uow: UnitOfWork, planned: list[Planned], source: Source, now: datetime
) -> list[NewDelivery]:
    chosen = await uow.preferences.of(source.departement, (p.address for p in planned if p.address))
    new = []
    for p in planned:
        payload = p.context
        if p.address:
            # The message's unsubscribe link names the contact, never the address.
            contact = await uow.preferences.contact(source.departement, p.address, now)
            payload = payload | {"contact_id": str(contact.id)}
        status, reason = _first_status(p, chosen.get(p.address or "", Preferences()))
        if reason is not None:
            # The reason and the kind only: the address is personal data.
            log.info("message not sent", kind=p.kind.value, role=p.role.value, reason=reason)
        new.append(
            NewDelivery(
                id=notification_id(source.id, p.recipient, Channel.EMAIL),
                channel=Channel.EMAIL,
                kind=p.kind,
                departement=source.departement,
                role=p.role,
                recipient=p.recipient,
                address=p.address,
                endpoint=email_endpoint(),
                request_id=p.request_id,
                payload=payload,
                source_event_id=source.id,
                source_event_type=source.type,
                correlation_id=source.correlation_id,
                causation_id=source.causation_id,
                status=status,
                reason=reason,
                created_at=now,
            )
        )
    return new


async def record_emails(
    uow: UnitOfWork, planned: list[Planned], source: Source, now: datetime
) -> int:
    """Record the planned emails not recorded yet; returns how many were."""
    return await uow.deliveries.add(await emails(uow, planned, source, now))


def _first_status(planned: Planned, chosen: Preferences) -> tuple[DeliveryStatus, str | None]:
    match planned.unresolved:
        case Unresolved.AWAITING_DEMANDE:
            return DeliveryStatus.AWAITING_RECIPIENT, None
        case Unresolved.NO_ACTOR_CONTACT:
            return DeliveryStatus.SKIPPED, "no_actor_contact"
    return chosen.status_for(planned.kind)


def webhook(
    subscription_id: UUID, envelope: Envelope, payload: EventPayload, now: datetime
) -> NewDelivery:
    """The event as a CloudEvent for one subscription."""
    recipient = f"webhook:{subscription_id}"
    return NewDelivery(
        id=notification_id(envelope.id, recipient, Channel.WEBHOOK),
        channel=Channel.WEBHOOK,
        kind=Kind.WEBHOOK,
        departement=envelope.departement,
        role=Role.SUBSCRIBER,
        recipient=recipient,
        subscription_id=subscription_id,
        endpoint=webhook_endpoint(subscription_id),
        request_id=getattr(payload, "request_id", None),
        payload=cloud_event(
            event_id=envelope.id,
            event_type=envelope.type,
            source=envelope.source,
            time=envelope.time,
            departement=envelope.departement,
            data=payload.model_dump(mode="json"),
            correlation_id=envelope.correlation_id,
            causation_id=envelope.causation_id,
        ),
        source_event_id=envelope.id,
        source_event_type=envelope.type,
        correlation_id=envelope.correlation_id,
        causation_id=envelope.id,
        status=DeliveryStatus.PENDING,
        created_at=now,
    )
