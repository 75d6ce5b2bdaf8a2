"""The notifications service with a real SMTP server: reminders before a proposal's deadline
and follow-ups after weeks without news, once with two instances."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from services.notifications.adapters.orm import demandes
from services.notifications.domain.model import Channel, notification_id
from shared.french import PARIS, long_date
from shared.settings import KafkaSettings
from tests.component.notification_demandes import TEAM, Demande, kinds, once, publish, settings_for
from tests.support.services import running_service
from tests.support.smtp_server import SmtpSink

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def test_reminders_and_follow_ups_once_with_two_instances(
    smtp: SmtpSink, fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> None:
    timers = settings_for(smtp, schedule_scan_seconds=0.3, reminder_hours_before=1.5)
    database = await fresh_database("notifications")
    d = Demande()
    actor_address = f"rappel.{d.tag}@caue.example.fr"
    reminder = notification_id(f"reminder:{d.assignment_id}", f"actor:{d.actor_id}", Channel.EMAIL)
    reminder_id = f"<{reminder}@matiere-grise.local>"
    # Two instances on one database, each in a consumer group of its own: both hear every
    # event (their shared inbox keeps one effect), no rebalance can delay the test, and
    # both scan for due reminders and follow-ups.
    instance = partial(
        running_service,
        "notifications",
        fresh_database,
        kafka_topics,
        database_url=database,
        build_options={"settings": timers},
    )
    async with instance() as first, instance():
        await first.client.put(
            f"/v1/actors/{d.actor_id}/contact", json={"email": actor_address}, headers=TEAM
        )
        await publish(kafka_topics, d.submitted())
        # Due in an hour: inside the 1.5 h before the deadline, so reminded at once.
        await publish(
            kafka_topics,
            d.proposed(
                proposed_at=d.now - timedelta(hours=1), respond_by=d.now + timedelta(hours=1)
            ),
        )
        await smtp.wait_for(lambda: smtp.with_id(reminder_id) != [], timeout=30, settle=1.0)

        # 42 days without news, played by moving the last news back rather than waiting.
        await age_demande(database, d.request_id, timedelta(days=43))
        await smtp.wait_for(
            lambda: "ou_en_etes_vous" in kinds(smtp.to(d.contact)), timeout=30, settle=1.5
        )
        # Read now: once the instances stop, nothing can come any more anyway.
        follow_ups = [m for m in smtp.to(d.contact) if m.message["X-MG-Kind"] == "ou_en_etes_vous"]

    reminded = once(smtp, reminder_id)
    assert reminded.message["To"] == actor_address
    assert reminded.subject.startswith("Rappel : réponse attendue avant le ")
    assert "attend toujours votre réponse" in reminded.text
    # Two instances scanned every 0.3 s: one follow-up for the period, not one each.
    [follow_up] = follow_ups
    assert follow_up.subject == f"Où en êtes-vous ? « {d.title} »"
    assert "Nous n'avons pas eu de nouvelles de votre projet" in follow_up.text
    assert long_date((d.now - timedelta(days=43)).astimezone(PARIS).date()) in follow_up.text


async def age_demande(database_url: str, request_id: uuid.UUID, age: timedelta) -> None:
    """Move a demande's last news back in time, once the service has it."""
    engine = create_async_engine(database_url)
    try:
        deadline = time.monotonic() + 20
        while True:
            async with engine.begin() as conn:
                moved = await conn.execute(
                    update(demandes)
                    .where(demandes.c.request_id == request_id)
                    .values(last_news_at=datetime.now(UTC) - age)
                )
            if moved.rowcount == 1:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the demande never reached the service")
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
