"""What the clock causes: reminders before an actor's deadline and before an unsigned
convention expires, "Où en êtes-vous ?" to
requesters without news, and giving up on messages whose demande never arrived. Safe
with several instances: rows are taken with ``SKIP LOCKED`` and ids are unique."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.notifications.config import NotificationSettings
from services.notifications.domain import rules
from services.notifications.domain.model import NOTIFICATION_NAMESPACE
from services.notifications.service_layer.ports import UnitOfWork
from services.notifications.service_layer.recording import (
    Source,
    actor_address,
    record_emails,
)
from shared.observability.logging import get_logger

log = get_logger(__name__)


async def remind_actors(
    uow: UnitOfWork, settings: NotificationSettings, now: datetime, limit: int = 100
) -> int:
    """Remind actors whose proposal's deadline is near; returns how many were."""
    due = await uow.demandes.due_reminders(now, limit)
    for proposal in due:
        card = await uow.demandes.get(proposal.request_id)
        planned = rules.reminder(
            departement=proposal.departement,
            request_id=proposal.request_id,
            actor_id=proposal.actor_id,
            actor_name=proposal.actor_name,
            respond_by=proposal.respond_by,
            actor_address=await actor_address(uow, proposal.departement, proposal.actor_id),
            demande=card,
        )
        source = Source(
            f"reminder:{proposal.assignment_id}",
            "notifications.reminder",
            proposal.departement,
            card.correlation_id if card else None,
        )
        await record_emails(uow, [planned], source, now)
        await uow.demandes.mark_reminded(proposal.assignment_id, now)
    await uow.commit()
    return len(due)


async def remind_conventions(
    uow: UnitOfWork, settings: NotificationSettings, now: datetime, limit: int = 100
) -> int:
    """Remind collectivités whose convention expires in seven days and is not signed."""
    due = await uow.convention_reminders.due(now, limit)
    for reminder in due:
        card = await uow.demandes.get(reminder.demande_id)
        if card is not None:
            planned = rules.convention_reminder(
                card, reminder.number, reminder.total_incl_tax, reminder.valid_until
            )
            source = Source(
                f"convention-reminder:{reminder.convention_id}",
                "notifications.reminder",
                reminder.departement,
                card.correlation_id,
            )
            await record_emails(uow, [planned], source, now)
        await uow.convention_reminders.mark_reminded(reminder.convention_id, now)
    await uow.commit()
    return len(due)


async def follow_up_requesters(
    uow: UnitOfWork, settings: NotificationSettings, now: datetime, limit: int = 100
) -> int:
    """Ask "Où en êtes-vous ?" of the requesters of open demandes without news for a while."""
    due = await uow.demandes.due_follow_ups(now - settings.follow_up_period, limit)
    for card, last_news_at in due:
        # The time of the last news names this follow-up: each period gets one, once.
        period = uuid.uuid5(NOTIFICATION_NAMESPACE, f"{card.request_id}|{last_news_at.isoformat()}")
        source = Source(
            f"follow-up:{period}", "notifications.follow_up", card.departement, card.correlation_id
        )
        await record_emails(uow, [rules.follow_up(card, last_news_at)], source, now)
        await uow.demandes.record_news(card.request_id, now)
    await uow.commit()
    return len(due)


async def give_up_awaiting(uow: UnitOfWork, settings: NotificationSettings, now: datetime) -> int:
    dropped = await uow.deliveries.give_up_awaiting(now - settings.awaiting_limit)
    if dropped:
        log.warning("messages dropped: their demande never arrived", count=dropped)
    await uow.commit()
    return dropped
