"""The notifications service with a real SMTP server: a recipient's preferences, opting out
and the daily digest."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from services.notifications.domain import rules
from services.notifications.domain.model import Channel, notification_id
from shared.auth.tokens import Role
from shared.french import PARIS
from shared.messaging.envelope import Envelope
from shared.settings import KafkaSettings
from tests.component.notification_demandes import (
    ADMIN,
    DEP,
    Demande,
    expected_id,
    kinds,
    once,
    preferences_url,
    publish,
    until_listed,
)
from tests.support.services import RunningService
from tests.support.smtp_server import SmtpSink
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def test_preferences_opt_out_and_daily_digest(
    service: RunningService, smtp: SmtpSink, kafka_topics: KafkaSettings
) -> None:
    quiet, digest = Demande(), Demande()
    quiet_url = await preferences_url(service.client, quiet.contact, ADMIN)
    essential = await service.client.put(
        quiet_url, json={"opt_out": ["facture_emise"]}, headers=ADMIN
    )
    assert essential.status_code == 422
    assert "« Facture émise »" in essential.json()["errors"][0]["message"]
    stranger = await service.client.put(
        quiet_url,
        json={"opt_out": ["demande_recue"]},
        headers=bearer(Role.COLLECTIVITE, DEP, "85191"),
    )
    assert stranger.status_code == 403
    assert stranger.json()["detail"] == "Ce contact n'est pas de votre périmètre."
    for contact, body in (
        (quiet.contact, {"opt_out": ["demande_recue", "acteur_propose"]}),
        (digest.contact, {"digest": "daily"}),
    ):
        url = await preferences_url(service.client, contact, ADMIN)
        saved = await service.client.put(url, json=body, headers=ADMIN)
        assert saved.status_code == 200, saved.text

    sent: dict[str, list[Envelope]] = {}
    for step in ("submitted", "proposed", "invoice"):
        for d in (quiet, digest):
            sent.setdefault(d.contact, []).append(await publish(kafka_topics, getattr(d, step)()))
        await asyncio.sleep(0.5)

    def ids(d: Demande) -> list[str]:
        return [expected_id(e, f"requester:{d.request_id}") for e in sent[d.contact]]

    # The invoice is essential: at once, for both; the rest skipped, or held.
    await smtp.wait_for(lambda: all(smtp.with_id(ids(d)[2]) for d in (quiet, digest)), settle=1.0)
    for d in (quiet, digest):
        assert [len(smtp.with_id(i)) for i in ids(d)] == [0, 0, 1]

    def to_requester(d: Demande, rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return sorted(
            (x["kind"], x["reason"] or x["status"])
            for x in rows
            if x["request_id"] == str(d.request_id) and x["recipient_role"] == "requester"
        )

    # The three topics are consumed independently: wait until the proposals are in too.
    skipped = await until_listed(
        service, lambda rows: len(to_requester(quiet, rows)) == 2, status="skipped"
    )
    assert to_requester(quiet, skipped) == [
        ("acteur_propose", "opted_out"),
        ("demande_recue", "opted_out"),
    ]
    held = await until_listed(
        service, lambda rows: len(to_requester(digest, rows)) == 2, status="held"
    )
    assert to_requester(digest, held) == [("acteur_propose", "held"), ("demande_recue", "held")]

    jobs = service.app.state.notification_jobs
    assert await jobs.send_digests(force=True) >= 1
    day = datetime.now(PARIS).date()
    summary_id = notification_id(
        rules.digest_source(day), rules.digest_recipient(digest.contact), Channel.EMAIL
    )
    digest_id = f"<{summary_id}@matiere-grise.local>"
    await smtp.wait_for(lambda: smtp.with_id(digest_id) != [])
    assert await jobs.send_digests(force=True) == 0
    await asyncio.sleep(0.5)
    summary = once(smtp, digest_id)
    assert summary.message["To"] == digest.contact
    assert summary.subject.startswith("Votre résumé Matière Grise du ")
    assert summary.subject.endswith("(2 messages)")
    assert f"1. Votre demande « {digest.title} » a bien été reçue" in summary.text
    assert "2. CAUE de la Vendée est proposé pour votre demande" in summary.text
    # Held messages went into the digest, not out on their own.
    assert [len(smtp.with_id(i)) for i in ids(digest)] == [0, 0, 1]
    assert kinds(smtp.to(quiet.contact)) == ["facture_emise"]
