"""The outcome of an attempt to deliver: sent (and its event), retried later with
backoff, or dead-lettered (its event, and a notice to the team when the message
mattered); or skipped when there is nobody left to deliver to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.notifications.config import NotificationSettings
from services.notifications.domain import rules
from services.notifications.domain.delivery import DeliveryFailed, GiveUp, Retry, after_failure
from services.notifications.domain.model import Channel, Delivery, DeliveryStatus
from services.notifications.service_layer.ports import UnitOfWork
from services.notifications.service_layer.recording import (
    Source,
    record_emails,
    team_address,
)
from shared.contracts.base import EventPayload
from shared.contracts.notifications import DeliveryDeadLettered, DeliverySent
from shared.messaging.envelope import Envelope

SOURCE = "notifications"


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
    """False when another attempt recorded it already."""
    sent = await uow.deliveries.mark_sent(delivery.id, now)
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
        await uow.deliveries.mark_retry(
            delivery.id, decision.at, str(failure)[:1000], failure.reason
        )
        await uow.commit()
        return decision
    dead = await uow.deliveries.mark_final(
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
        await record_emails(uow, [notice], Source.of(event), now)
    await uow.commit()
    return decision


async def record_skipped(uow: UnitOfWork, delivery: Delivery, reason: str) -> None:
    await uow.deliveries.mark_final(
        delivery.id, DeliveryStatus.SKIPPED, reason, None, count_attempt=False
    )
    await uow.commit()
