"""The notifications service with its real database, the real broker and a real SMTP
server: who gets which email along a demande's life, in French, once, whichever event
comes first, and where the messages for the team go."""

from __future__ import annotations

import asyncio

import pytest

from shared.auth.tokens import Role
from shared.contracts.topics import NOTIFICATIONS_DELIVERY
from shared.settings import KafkaSettings
from tests.component.notification_demandes import (
    DEP,
    TEAM,
    Demande,
    expected_id,
    once,
    outcomes,
    publish,
)
from tests.support import events
from tests.support.kafka_tap import TopicTap
from tests.support.services import RunningService
from tests.support.smtp_server import SmtpSink
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


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
    unmatched = events.request_unmatched(
        request_id=d.request_id,
        departement="2B",
        requester_code=d.code,
        reasons=["caue2b : capacité atteinte"],
        summary_text="Aucun acteur disponible pour les bâtiments publics.",
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
    expired = events.assignment_expired(
        assignment_id=d.assignment_id,
        request_id=d.request_id,
        departement="2B",
        actor_id=d.actor_id,
        actor_name="CAUE de Haute-Corse",
    )
    expired_env = await publish(kafka_topics, expired)
    await smtp.wait_for(lambda: smtp.with_id(expected_id(expired_env, team_ref)) != [])
    expiry = once(smtp, expected_id(expired_env, team_ref))
    assert expiry.message["To"] == configured
    assert expiry.subject == f"Sans réponse : CAUE de Haute-Corse — « {d.title} »"
