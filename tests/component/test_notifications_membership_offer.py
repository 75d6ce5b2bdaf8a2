"""A non-member whose need only members-only actors cover: billing's membership offer
reaches the requester's contact by email, in French, with the cotisation of the year and
the member rates; the team's "sans acteur" message says why."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.notifications.adapters.mailer import Templates
from services.notifications.domain import rules
from services.notifications.domain.model import Kind
from shared.contracts.billing import MembershipOffered, MissionRateRef
from shared.contracts.matching import CandidateRef, RequestUnmatched
from shared.contracts.vocabulary import RequesterKind
from shared.settings import KafkaSettings
from tests.component.notification_demandes import (
    DEP,
    NEED,
    TEAM_ADDRESS,
    Demande,
    expected_id,
    publish,
)
from tests.support.services import RunningService
from tests.support.smtp_server import SmtpSink

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def offered(d: Demande) -> MembershipOffered:
    return MembershipOffered(
        request_id=d.request_id,
        departement=DEP,
        year=2027,
        collectivite_code=d.code,
        collectivite_kind=RequesterKind.COMMUNE,
        collectivite_name="La Roche-sur-Yon",
        population=1234,
        tariff_label="Offre d'ingénierie 2027",
        tariff_version=1,
        cotisation_excl_tax=Decimal("1234.50"),
        cotisation_incl_tax=Decimal("1481.40"),
        mission_rates=[
            MissionRateRef(
                actor_kind="association_maires",
                actor_label="association des maires",
                unit="day",
                member=Decimal("300.00"),
                non_member=Decimal("450.00"),
            )
        ],
        actor_names=["Association des maires de Mayotte"],
        offered_at=d.now,
    )


async def test_the_requester_gets_the_membership_offer_by_email_once(
    service: RunningService, smtp: SmtpSink, kafka_topics: KafkaSettings
) -> None:
    d = Demande()
    await publish(kafka_topics, d.submitted())
    envelope = await publish(kafka_topics, offered(d))
    message_id = expected_id(envelope, f"requester:{d.request_id}")
    await smtp.wait_for(lambda: smtp.with_id(message_id) != [])
    [mail] = smtp.with_id(message_id)
    assert mail.recipients == (d.contact,)
    assert "réservé aux adhérents" in mail.subject
    assert d.title in mail.subject
    text = mail.text
    assert "Association des maires de Mayotte" in text
    assert "La Roche-sur-Yon n'est pas adhérente pour 2027" in text
    assert "1\u202f234,50\u00a0€ HT, soit 1\u202f481,40\u00a0€ TTC" in text
    assert "300,00\u00a0€ HT par jour pour les adhérents, au lieu de 450,00\u00a0€ HT" in text
    assert "Association des maires de Mayotte" in mail.html

    # The same event again (same id): no second email. Another demande of the département
    # comes after it on the same partition: once its email is out, the repeat was handled.
    await publish(kafka_topics, offered(d), envelope)
    other = Demande()
    after = await publish(kafka_topics, other.submitted())
    await smtp.wait_for(lambda: smtp.with_id(expected_id(after, f"requester:{other.request_id}")))
    assert len(smtp.with_id(message_id)) == 1


def test_the_team_reads_why_a_demande_is_unmatched() -> None:
    d = Demande()
    unmatched = RequestUnmatched(
        request_id=d.request_id,
        departement=DEP,
        requester_code=d.code,
        uncovered_needs=[NEED],
        reasons=["amf976 : Réservé aux collectivités adhérentes de l'offre départementale."],
        summary_text="Aucun acteur disponible.",
        unmatched_at=d.now,
        reason="adhesion_requise",
        candidates=[
            CandidateRef(actor_id="amf976", actor_name="AMF", actor_kind="x", needs=[NEED])
        ],
    )
    [planned] = rules.plan(unmatched, rules.Known(DEP, TEAM_ADDRESS))
    assert planned.kind is Kind.DEMANDE_SANS_ACTEUR
    rendered = Templates().render(planned.kind, planned.context)
    assert "Motif : les acteurs compétents sont réservés aux adhérents" in rendered.text
