"""The notifications service with its real database, the real broker and a real SMTP
server: who gets which email, in French, once; retries, dead letters, preferences,
digests, reminders and follow-ups."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from services.notifications.adapters.mailer import Templates
from services.notifications.adapters.orm import demandes
from services.notifications.config import NotificationSettings
from services.notifications.domain import rules
from services.notifications.domain.model import Channel, Kind, notification_id
from services.notifications.domain.model import Role as Recipient
from shared.auth.tokens import Role
from shared.contracts.base import EventPayload
from shared.contracts.billing import InvoiceIssued, LineRef
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentCompleted,
    AssignmentExpired,
    AssignmentProposed,
    CriteriaRef,
    NeedRef,
    RequestUnmatched,
)
from shared.contracts.requests import Contact, Requester, RequestSubmitted
from shared.contracts.topics import NOTIFICATIONS_DELIVERY
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from shared.french import PARIS, long_date
from shared.messaging.envelope import Envelope
from shared.settings import KafkaSettings
from tests.support.kafka_tap import Record, TopicTap, publish_raw
from tests.support.services import RunningService, running_service
from tests.support.smtp_server import Mail, SmtpSink, smtp_sink
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

# The broker is shared: services of other runs (a demo, a benchmark) may react to this
# test's events, and this service to theirs. Mayotte's offer is in no shipped catalogue, so
# nobody proposes actors for these demandes; and the assertions follow Message-IDs, derived
# from this test's own event ids, rather than counting what an address received.
DEP = "976"
TEAM = bearer(Role.DEPARTEMENT, DEP)
ADMIN = bearer(Role.ADMIN, None)
NEED = NeedRef(theme=Theme.BATIMENTS_PUBLICS, phase=Phase.FAISABILITE)
TEAM_ADDRESS = f"equipe-{uuid.uuid4().hex[:8]}@mayotte.example.fr"


def settings_for(smtp: SmtpSink, **overrides: Any) -> NotificationSettings:
    values: dict[str, Any] = {
        "smtp_port": smtp.port,
        # Other runs on the shared broker may bring a flood of their demandes: drain it fast.
        "smtp_concurrency": 16,
        "dispatch_poll_seconds": 0.1,
        "backoff_base_seconds": 0.2,
        "backoff_max_seconds": 1.0,
        "max_attempts": 3,
        "schedule_scan_seconds": 3600,
        "digest_scan_seconds": 3600,
        "digest_hour": 0,
    }
    return NotificationSettings(**(values | overrides))


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


@pytest.fixture(scope="module")
async def service(
    smtp: SmtpSink,
    fresh_database: Callable[[str], Awaitable[str]],
    kafka_topics: KafkaSettings,
) -> AsyncIterator[RunningService]:
    async with running_service(
        "notifications",
        fresh_database,
        kafka_topics,
        build_options={"settings": settings_for(smtp)},
    ) as running:
        saved = await running.client.put(
            f"/v1/teams/{DEP}/contact", json={"email": TEAM_ADDRESS}, headers=TEAM
        )
        assert saved.status_code == 200, saved.text
        yield running


# --- events, as the other services publish them --------------------------------------------


async def publish(
    kafka: KafkaSettings, payload: EventPayload, envelope: Envelope | None = None
) -> Envelope:
    departement = str(getattr(payload, "departement", DEP))
    envelope = envelope or Envelope(
        type=payload.event_type, source=payload.producer, departement=departement
    )
    headers = [(k, v.encode()) for k, v in envelope.to_headers().items()]
    await publish_raw(
        kafka,
        payload.topic,
        [(departement.encode(), payload.model_dump_json().encode(), headers)],
    )
    return envelope


class Demande:
    """One demande of a test, with unique ids and addresses."""

    def __init__(self, contact: str | None = None, title: str = "", departement: str = DEP):
        tag = uuid.uuid4().hex[:8]
        self.tag = tag
        self.departement = departement
        self.request_id = uuid.uuid4()
        self.assignment_id = uuid.uuid4()
        self.actor_id = f"caue-{tag}"
        self.contact = contact or f"marie.{tag}@example.fr"
        # A requester code of its own: other runs on the shared broker may invoice the
        # real commune, and an invoice finds its contact through the collectivité's code.
        self.code = f"t{tag}"
        self.title = title or f"Rénovation de la salle des fêtes {tag}"
        self.now = datetime.now(UTC)

    def submitted(self) -> RequestSubmitted:
        return RequestSubmitted(
            request_id=self.request_id,
            departement=self.departement,
            requester=Requester(
                kind=RequesterKind.COMMUNE, code=self.code, name="La Roche-sur-Yon", population=1
            ),
            contact=Contact(name="Marie Dupont", email=self.contact),
            title=self.title,
            description="Diagnostic énergétique et programme de travaux.",
            themes=[Theme.BATIMENTS_PUBLICS],
            phase=Phase.FAISABILITE,
            channel="api",
            submitted_at=self.now,
        )

    def proposed(self, **overrides: Any) -> AssignmentProposed:
        values: dict[str, Any] = {
            "assignment_id": self.assignment_id,
            "request_id": self.request_id,
            "departement": self.departement,
            "actor_id": self.actor_id,
            "actor_name": "CAUE de la Vendée",
            "requester_code": self.code,
            "actor_kind": "caue",
            "needs": [NEED],
            "lead": True,
            "round": 1,
            "criteria": CriteriaRef(
                coverage=1, expertise=1, load=1, continuity=0, locality=1, score=0.9
            ),
            "reasons": "Couvre 1 besoin sur 1 (bâtiments publics).",
            "respond_by": self.now + timedelta(days=7),
            "proposed_at": self.now,
        }
        return AssignmentProposed(**(values | overrides))

    def accepted(self) -> AssignmentAccepted:
        return AssignmentAccepted(
            assignment_id=self.assignment_id,
            request_id=self.request_id,
            departement=self.departement,
            actor_id=self.actor_id,
            actor_name="CAUE de la Vendée",
            accepted_at=self.now,
        )

    def completed(self) -> AssignmentCompleted:
        return AssignmentCompleted(
            assignment_id=self.assignment_id,
            request_id=self.request_id,
            departement=self.departement,
            actor_id=self.actor_id,
            actor_name="CAUE de la Vendée",
            actor_kind="caue",
            requester_code=self.code,
            requester_kind=RequesterKind.COMMUNE,
            needs=[NEED],
            days_spent=Decimal("3.5"),
            started_at=self.now,
            completed_at=self.now,
        )

    def invoice(self) -> InvoiceIssued:
        amount = Decimal("1225.00")
        return InvoiceIssued(
            document_id=uuid.uuid4(),
            number=f"{self.departement}-2027-{self.tag}",
            departement=self.departement,
            year=2027,
            collectivite_code=self.code,
            collectivite_kind=RequesterKind.COMMUNE,
            collectivite_name="La Roche-sur-Yon",
            lines=[
                LineRef(
                    kind="mission",
                    label="Mission d'accompagnement",
                    quantity=Decimal("3.5"),
                    unit="jour",
                    unit_price=Decimal("350"),
                    amount_excl_tax=amount,
                    vat_rate=Decimal("0"),
                    vat_amount=Decimal("0"),
                    amount_incl_tax=amount,
                )
            ],
            total_excl_tax=amount,
            total_vat=Decimal("0"),
            total_incl_tax=amount,
            issued_at=self.now,
            invoice_kind="mission",
            tariff_version=1,
            request_id=self.request_id,
            assignment_id=self.assignment_id,
        )


def expected_id(envelope: Envelope, recipient: str) -> str:
    return f"<{notification_id(envelope.id, recipient, Channel.EMAIL)}@matiere-grise.local>"


def once(smtp: SmtpSink, message_id: str) -> Mail:
    [mail] = smtp.with_id(message_id)
    return mail


async def until_listed(
    service: RunningService, check: Callable[[list[dict[str, Any]]], bool], **params: str
) -> list[dict[str, Any]]:
    """The service's deliveries of ``DEP`` once ``check`` holds for them."""
    deadline = time.monotonic() + 20
    while True:
        response = await service.client.get(
            "/v1/deliveries", params={"departement": DEP, "limit": "500"} | params, headers=TEAM
        )
        rows: list[dict[str, Any]] = response.json()
        if check(rows):
            return rows
        if time.monotonic() > deadline:
            raise TimeoutError(f"deliveries {params} never met the condition")
        await asyncio.sleep(0.1)


def kinds(mails: list[Mail]) -> list[str]:
    return [str(m.message["X-MG-Kind"]) for m in mails]


def outcomes(records: list[Record], ids: set[str]) -> list[dict[str, Any]]:
    return [
        {"type": r.headers["ce_type"]} | r.json()
        for r in records
        if r.json().get("notification_id") in ids
    ]


# --- the tests ----------------------------------------------------------------------------


async def test_a_demande_journey_sends_each_message_once_in_french(
    service: RunningService, smtp: SmtpSink, kafka_topics: KafkaSettings
) -> None:
    d = Demande(title="Salle des fêtes & <préau> de la commune")
    actor_address = f"contact.{d.tag}@caue.example.fr"
    saved = await service.client.put(
        f"/v1/actors/{d.actor_id}/contact",
        json={"email": actor_address, "name": "CAUE de la Vendée"},
        headers=TEAM,
    )
    assert saved.status_code == 200, saved.text

    requester_ref, actor_ref = f"requester:{d.request_id}", f"actor:{d.actor_id}"
    async with TopicTap(kafka_topics, NOTIFICATIONS_DELIVERY.name) as tap:
        # The demande first: the invoice, on another topic, finds its contact through it.
        submitted = await publish(kafka_topics, d.submitted())
        await smtp.wait_for(lambda: smtp.with_id(expected_id(submitted, requester_ref)) != [])
        proposed, accepted_env, completed_env = [
            await publish(kafka_topics, event)
            for event in (d.proposed(), d.accepted(), d.completed())
        ]
        invoiced = await publish(kafka_topics, d.invoice())
        expected = {
            expected_id(submitted, requester_ref): "demande_recue",
            expected_id(proposed, requester_ref): "acteur_propose",
            expected_id(proposed, actor_ref): "nouvelle_proposition",
            expected_id(accepted_env, requester_ref): "mission_acceptee",
            expected_id(completed_env, requester_ref): "mission_terminee",
            expected_id(invoiced, requester_ref): "facture_emise",
        }
        await smtp.wait_for(lambda: all(smtp.with_id(i) for i in expected))

        # Every event again, with the same ids, and the proposal again under a new id.
        for envelope, event in zip(
            [submitted, proposed, accepted_env, completed_env, invoiced],
            [d.submitted(), d.proposed(), d.accepted(), d.completed(), d.invoice()],
            strict=True,
        ):
            await publish(kafka_topics, event, envelope)
        again = await publish(kafka_topics, d.proposed())
        await asyncio.sleep(2.0)
        ids = {i.strip("<>").split("@")[0] for i in expected}
        records = await tap.collect(
            lambda rs: {o["notification_id"] for o in outcomes(rs, ids)} == ids,
            timeout=45,
            settle=1.0,
        )

    mails = {i: once(smtp, i) for i in expected}
    assert {i: str(m.message["X-MG-Kind"]) for i, m in mails.items()} == expected
    assert smtp.with_id(expected_id(again, requester_ref)) == []
    assert smtp.with_id(expected_id(again, actor_ref)) == []
    received, proposal, to_actor, accepted, completed, invoice = mails.values()
    assert {m.message["To"] for m in (received, proposal, accepted, completed, invoice)} == {
        d.contact
    }

    assert received.subject == f"Votre demande « {d.title} » a bien été reçue"
    assert received.message["From"] == "Matière Grise <notifications@matiere-grise.local>"
    assert received.message["Auto-Submitted"] == "auto-generated"
    assert "Bonjour Marie Dupont," in received.text
    assert "Nous avons bien reçu la demande d'accompagnement de La Roche-sur-Yon" in received.text
    assert f"« {d.title} »" in received.text
    # Escaped in HTML, as typed in text.
    assert "Salle des fêtes &amp; &lt;préau&gt;" in received.html
    assert "<préau>" not in received.html

    assert proposal.subject == f"CAUE de la Vendée est proposé pour votre demande « {d.title} »"
    assert "Bâtiments publics — Faisabilité / programmation" in proposal.text
    assert accepted.subject.startswith("CAUE de la Vendée accompagnera votre projet")
    assert "3,5 jour(s) d'intervention" in completed.text
    amount = "1\u202f225,00\u00a0€"
    assert invoice.subject == f"Facture {DEP}-2027-{d.tag} : mission d'accompagnement — {amount}"
    assert f"Montant TTC : {amount}" in invoice.text

    assert to_actor.message["To"] == actor_address
    assert to_actor.subject.startswith("Nouvelle sollicitation : La Roche-sur-Yon")
    assert "Merci d'accepter ou de décliner avant le" in to_actor.text

    # Other deployments of this service on the shared broker may hear these events too and
    # publish the same outcome (the ids are the same by design): one per id at least.
    sent = outcomes(records, ids)
    assert {o["notification_id"] for o in sent} == ids
    assert {o["type"] for o in sent} == {"notifications.delivery.sent.v1"}
    assert {o["recipient_role"] for o in sent} == {"requester", "actor"}
    assert all(o["attempts"] == 1 and "@" not in str(o) for o in sent)


async def test_a_proposal_that_overtakes_its_demande_is_sent_once_the_address_is_known(
    service: RunningService, smtp: SmtpSink, kafka_topics: KafkaSettings
) -> None:
    d = Demande()
    requester_ref = f"requester:{d.request_id}"
    proposed = await publish(kafka_topics, d.proposed())
    await asyncio.sleep(1.0)
    assert smtp.with_id(expected_id(proposed, requester_ref)) == []
    submitted = await publish(kafka_topics, d.submitted())
    await smtp.wait_for(
        lambda: all(smtp.with_id(expected_id(e, requester_ref)) for e in (proposed, submitted)),
        settle=0.5,
    )
    received = once(smtp, expected_id(submitted, requester_ref))
    proposal = once(smtp, expected_id(proposed, requester_ref))
    assert (received.message["X-MG-Kind"], proposal.message["X-MG-Kind"]) == (
        "demande_recue",
        "acteur_propose",
    )
    # Addressed and completed with what the demande brought.
    assert proposal.message["To"] == d.contact
    assert f"« {d.title} »" in proposal.subject

    # The actor had no address: skipped, with its reason, never sent.
    listed = await service.client.get(
        "/v1/deliveries", params={"kind": "nouvelle_proposition", "status": "skipped"}, headers=TEAM
    )
    assert listed.status_code == 200
    mine = [x for x in listed.json() if x["source_event_id"] == proposed.id]
    assert [(x["recipient_role"], x["reason"]) for x in mine] == [("actor", "no_actor_contact")]
    assert all("address" not in x for x in mine)


async def test_team_messages_go_to_the_default_then_the_configured_address(
    service: RunningService, smtp: SmtpSink, kafka_topics: KafkaSettings
) -> None:
    d = Demande(departement="2B")
    team_ref = "team:2B"
    submitted = await publish(kafka_topics, d.submitted())
    # The demande known first, so that the team's message can name it.
    await smtp.wait_for(
        lambda: smtp.with_id(expected_id(submitted, f"requester:{d.request_id}")) != []
    )
    unmatched = RequestUnmatched(
        request_id=d.request_id,
        departement="2B",
        requester_code=d.code,
        uncovered_needs=[NEED],
        reasons=["caue2b : capacité atteinte"],
        summary_text="Aucun acteur disponible pour les bâtiments publics.",
        unmatched_at=d.now,
    )
    unmatched_env = await publish(kafka_topics, unmatched)
    await smtp.wait_for(lambda: smtp.with_id(expected_id(unmatched_env, team_ref)) != [])
    notice = once(smtp, expected_id(unmatched_env, team_ref))
    assert notice.message["To"] == "equipe-2b@departement.example.fr"
    assert notice.subject == f"Demande sans acteur : La Roche-sur-Yon — « {d.title} »"
    assert "Aucun acteur disponible pour les bâtiments publics." in notice.text
    assert "caue2b : capacité atteinte" in notice.text

    configured = f"equipe-2b-{d.tag}@corse.example.fr"
    refused = await service.client.put(
        "/v1/teams/2B/contact", json={"email": configured}, headers=TEAM
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Vous ne pouvez agir que pour votre département."
    saved = await service.client.put(
        "/v1/teams/2B/contact", json={"email": configured}, headers=bearer(Role.DEPARTEMENT, "2B")
    )
    assert saved.status_code == 200
    expired = AssignmentExpired(
        assignment_id=d.assignment_id,
        request_id=d.request_id,
        departement="2B",
        actor_id=d.actor_id,
        actor_name="CAUE de Haute-Corse",
        respond_by=d.now,
        expired_at=d.now,
    )
    expired_env = await publish(kafka_topics, expired)
    await smtp.wait_for(lambda: smtp.with_id(expected_id(expired_env, team_ref)) != [])
    expiry = once(smtp, expected_id(expired_env, team_ref))
    assert expiry.message["To"] == configured
    assert expiry.subject == f"Sans réponse : CAUE de Haute-Corse — « {d.title} »"


async def test_preferences_opt_out_and_daily_digest(
    service: RunningService, smtp: SmtpSink, kafka_topics: KafkaSettings
) -> None:
    quiet, digest = Demande(), Demande()
    essential = await service.client.put(
        f"/v1/preferences/{quiet.contact}", json={"opt_out": ["facture_emise"]}, headers=ADMIN
    )
    assert essential.status_code == 422
    assert "« Facture émise »" in essential.json()["errors"][0]["message"]
    stranger = await service.client.put(
        f"/v1/preferences/{quiet.contact}",
        json={"opt_out": ["demande_recue"]},
        headers=bearer(Role.COLLECTIVITE, DEP, "85191"),
    )
    assert stranger.status_code == 403
    assert stranger.json()["detail"] == "Cette adresse n'est pas un contact de votre périmètre."
    for contact, body in (
        (quiet.contact, {"opt_out": ["demande_recue", "acteur_propose"]}),
        (digest.contact, {"digest": "daily"}),
    ):
        saved = await service.client.put(f"/v1/preferences/{contact}", json=body, headers=ADMIN)
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
    async with (
        running_service(
            "notifications",
            fresh_database,
            kafka_topics,
            database_url=database,
            build_options={"settings": timers},
        ) as first,
        running_service(
            "notifications",
            fresh_database,
            kafka_topics,
            database_url=database,
            build_options={"settings": timers},
        ),
    ):
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

    async with running_service(
        "notifications", fresh_database, kafka_topics, build_options={"settings": slow_poll}
    ) as service:
        saved = await service.client.put(
            f"/v1/teams/{DEP}/contact", json={"email": team}, headers=TEAM
        )
        assert saved.status_code == 200, saved.text
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
        chosen = await service.client.put(
            f"/v1/preferences/{daily.contact}", json={"digest": "daily"}, headers=TEAM
        )
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


def test_every_template_renders_in_french_with_html_escaped() -> None:
    templates = Templates()
    card = rules.DemandeCard(
        request_id=uuid.uuid4(),
        departement=DEP,
        requester_code="85191",
        requester_name="La Roche-sur-Yon",
        contact_name="Marie Dupont",
        contact_email="marie@example.fr",
        title="École <script>alert(1)</script>",
    )
    d = Demande()
    known = rules.Known(DEP, TEAM_ADDRESS, card, "caue@example.fr")
    contexts: dict[Kind, dict[str, Any]] = {}
    for event in (d.submitted(), d.proposed(), d.accepted(), d.completed(), d.invoice()):
        for planned in rules.plan(event, known):
            contexts[planned.kind] = planned.context | rules.demande_context(card)
    unmatched = RequestUnmatched(
        request_id=d.request_id,
        departement=DEP,
        requester_code="85191",
        uncovered_needs=[],
        reasons=[],
        summary_text="Rien.",
        unmatched_at=d.now,
    )
    contexts[Kind.DEMANDE_SANS_ACTEUR] = rules.plan(unmatched, known)[0].context
    expired = AssignmentExpired(
        assignment_id=d.assignment_id,
        request_id=d.request_id,
        departement=DEP,
        actor_id="a",
        actor_name="CAUE",
        respond_by=d.now,
        expired_at=d.now,
    )
    contexts[Kind.PROPOSITION_EXPIREE] = rules.plan(expired, known)[0].context
    contexts[Kind.RAPPEL_REPONSE] = rules.reminder(
        departement=DEP,
        request_id=d.request_id,
        actor_id="a",
        actor_name="CAUE",
        respond_by=d.now,
        actor_address="caue@example.fr",
        demande=card,
    ).context
    contexts[Kind.OU_EN_ETES_VOUS] = rules.follow_up(card, d.now).context
    contexts[Kind.LIVRAISON_EN_ECHEC] = rules.dead_letter_notice(
        departement=DEP,
        team_address=TEAM_ADDRESS,
        failed_kind=Kind.WEBHOOK,
        failed_role=Recipient.SUBSCRIBER,
        channel="webhook",
        reason="timeout",
        attempts=8,
        source_event_type="requests.request.submitted.v1",
        source_event_id=str(uuid.uuid4()),
        subscription_id=uuid.uuid4(),
    ).context
    contexts[Kind.RESUME_QUOTIDIEN] = {
        "date": "25 novembre 2026",
        "items": [
            {"kind": k.value, "context": contexts[k]}
            for k in (Kind.DEMANDE_RECUE, Kind.ACTEUR_PROPOSE)
        ],
    }
    assert set(contexts) == set(Kind) - {Kind.WEBHOOK}
    for kind, context in contexts.items():
        rendered = templates.render(kind, context)
        assert "\n" not in rendered.subject and rendered.subject
        assert "Message automatique" in rendered.text
        assert rendered.html.startswith('<!DOCTYPE html>\n<html lang="fr">')
        assert "<script>" not in rendered.html, kind
        assert not re.search(r"\bNone\b", rendered.text), kind
