"""The notifications service with a real SMTP server: temporary refusals retried, refused
addresses dead-lettered, and what a commit makes due sent at once, not at the next poll."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest

from services.notifications.domain import rules
from services.notifications.domain.model import Channel, notification_id
from shared.contracts.topics import NOTIFICATIONS_DELIVERY
from shared.french import PARIS
from shared.messaging.envelope import Envelope
from shared.settings import KafkaSettings
from tests.component.notification_demandes import (
    DEP,
    TEAM,
    TEAM_ADDRESS,
    Demande,
    kinds,
    notifications_service,
    outcomes,
    preferences_url,
    publish,
    settings_for,
)
from tests.support.kafka_tap import Record, TopicTap
from tests.support.services import RunningService
from tests.support.smtp_server import Mail, SmtpSink

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def test_a_temporary_refusal_is_retried_and_a_refused_address_dead_lettered(
    service: RunningService, smtp: SmtpSink, kafka_topics: KafkaSettings
) -> None:
    later = Demande(contact=f"tempfail-{uuid.uuid4().hex[:8]}@example.fr")
    never = Demande(contact=f"refuse-{uuid.uuid4().hex[:8]}@example.fr")
    dead_env: Envelope | None = None

    def notices() -> list[Mail]:
        return [
            m
            for m in smtp.to(TEAM_ADDRESS)
            if m.message["X-MG-Kind"] == "livraison_en_echec"
            and dead_env is not None
            and dead_env.id in m.text
        ]

    async with TopicTap(kafka_topics, NOTIFICATIONS_DELIVERY.name) as tap:
        sent_env = await publish(kafka_topics, later.submitted())
        dead_env = await publish(kafka_topics, never.submitted())
        ids = {
            str(notification_id(sent_env.id, f"requester:{later.request_id}", Channel.EMAIL)),
            str(notification_id(dead_env.id, f"requester:{never.request_id}", Channel.EMAIL)),
        }
        # Other deployments on the shared broker may publish outcomes for the same ids too.
        expected = {
            ("notifications.delivery.sent.v1", "demande_recue", 2, None, None),
            ("notifications.delivery.dead_lettered.v1", "demande_recue", 1, "smtp_550", None),
        }

        def published(records: list[Record]) -> set[tuple[Any, ...]]:
            return {
                (o["type"], o["kind"], o["attempts"], o.get("reason"), o.get("error"))
                for o in outcomes(records, ids)
            }

        await tap.collect(lambda rs: expected <= published(rs), timeout=45)
        await smtp.wait_for(lambda: notices() != [], settle=0.5)
    await asyncio.sleep(0.5)
    assert smtp.rcpt_attempts[later.contact] == 2
    assert len(smtp.to(later.contact)) == 1
    assert smtp.rcpt_attempts[never.contact] == 1
    assert smtp.to(never.contact) == []

    listed = await service.client.get(
        "/v1/deliveries",
        params={"kind": "demande_recue", "departement": DEP, "limit": 500},
        headers=TEAM,
    )
    mine = {
        x["request_id"]: (x["status"], x["attempts"], x["reason"], x["last_error"])
        for x in listed.json()
    }
    assert mine[str(later.request_id)] == ("sent", 2, None, None)
    # The mail server's words may quote the address: not shown.
    assert mine[str(never.request_id)] == ("dead_lettered", 1, "smtp_550", None)

    [notice] = notices()
    assert notice.subject == (
        "Échec de livraison d'une notification (courriel) : Accusé de réception d'une demande"
    )
    assert "Motif du dernier échec : smtp_550" in notice.text
    assert never.contact not in notice.text


async def test_what_a_commit_makes_due_is_sent_at_once_not_at_the_next_poll(
    smtp: SmtpSink, fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> None:
    """The dispatcher polls once a minute here: only the wake-up of the commit that made a
    delivery due can send it within seconds, whoever commits (subscriber, route, job)."""
    # Message-IDs of its own: the module's service hears the same events and sends too.
    domain = f"wake-{uuid.uuid4().hex[:8]}.test"
    slow_poll = settings_for(smtp, dispatch_poll_seconds=60, message_id_domain=domain)
    refused, daily = Demande(contact=f"refuse-{uuid.uuid4().hex[:8]}@example.fr"), Demande()
    team = f"notices-{uuid.uuid4().hex[:8]}@mayotte.example.fr"
    soon = 5.0

    def ours(notification: uuid.UUID) -> list[Mail]:
        return smtp.with_id(f"<{notification}@{domain}>")

    async with notifications_service(fresh_database, kafka_topics, slow_poll, team) as service:
        # A subscriber's commit: the acknowledgement goes out at once.
        acknowledged = await publish(kafka_topics, daily.submitted())
        ack = notification_id(acknowledged.id, f"requester:{daily.request_id}", Channel.EMAIL)
        await smtp.wait_for(lambda: ours(ack) != [], timeout=soon)

        # Refused for good (550): dead-lettered, and the team told at once...
        sent = await publish(kafka_topics, refused.submitted())
        dead = notification_id(sent.id, f"requester:{refused.request_id}", Channel.EMAIL)
        await smtp.wait_for(lambda: len(smtp.to(team)) == 1, timeout=soon)
        # ... and a team's retry over HTTP is attempted at once: refused again, told again.
        retried = await service.client.post(f"/v1/deliveries/{dead}/retry", headers=TEAM)
        assert retried.status_code == 202, retried.text
        await smtp.wait_for(lambda: len(smtp.to(team)) == 2, timeout=soon)
        assert kinds(smtp.to(team)) == ["livraison_en_echec"] * 2

        # A job's commit: today's digest goes out at once.
        url = await preferences_url(service.client, daily.contact, TEAM)
        chosen = await service.client.put(url, json={"digest": "daily"}, headers=TEAM)
        assert chosen.status_code == 200, chosen.text
        await publish(kafka_topics, daily.accepted())
        jobs = service.app.state.notification_jobs
        started = time.monotonic()
        while await jobs.send_digests(force=True) == 0:
            assert time.monotonic() - started < soon, "nothing held for a digest"
            await asyncio.sleep(0.05)
        digest = notification_id(
            rules.digest_source(datetime.now(PARIS).date()),
            rules.digest_recipient(daily.contact),
            Channel.EMAIL,
        )
        await smtp.wait_for(lambda: ours(digest) != [], timeout=soon)
