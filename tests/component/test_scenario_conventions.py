"""The demo's conventions step (``stack/scenario/conventions.py``) against billing with its
real database and broker: thirty lead acceptances, then the step sends every convention,
signs most, refuses one, leaves four to expire (the billing service's own expiry command,
its clock three months ahead) and amends one; the summary's line counts them from the API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest

from shared.contracts.matching import AssignmentAccepted, NeedRef
from shared.contracts.topics import MATCHING_ASSIGNMENT
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from shared.messaging.envelope import Envelope
from shared.refdata import get_territories
from shared.settings import KafkaSettings
from stack.scenario.conventions import (
    conventions_line,
    expire_conventions,
    fate,
    settle_with,
)
from stack.scenario.facturx import facturx_line
from stack.scenario.outcome import Mission
from stack.scenario.plan import Demande
from tests.support.conventions import wait_convention
from tests.support.kafka_tap import publish_raw
from tests.support.services import RunningService, running_service

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

SEED, MISSIONS = 2026, 30


@pytest.fixture
async def billing(
    fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> AsyncIterator[RunningService]:
    async with running_service("billing", fresh_database, kafka_topics) as running:
        yield running


async def test_the_demo_signs_refuses_amends_and_lets_expire_and_counts_them(
    billing: RunningService, kafka_topics: KafkaSettings
) -> None:
    communes = get_territories().communes_of("49")
    missions, records = [], []
    for i in range(MISSIONS):
        # Fixed ids: the seed's choices (25 signed, 1 refused, 4 left to expire) are known.
        request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"scenario-conventions-{i}"))
        code = communes[i * 11 % len(communes)].code_insee
        demande = Demande(i, "49", request_id, code, {}, False, False, False)
        mission = Mission(demande, str(uuid.uuid4()), "caue49", lead=True)
        missions.append(mission)
        accepted = AssignmentAccepted(
            assignment_id=uuid.UUID(mission.assignment_id),
            request_id=uuid.UUID(request_id),
            departement="49",
            actor_id="caue49",
            actor_name="CAUE de Maine-et-Loire",
            accepted_at=datetime.now(UTC),
            lead=True,
            actor_kind="caue",
            requester_code=code,
            requester_kind=RequesterKind.COMMUNE,
            needs=[NeedRef(theme=Theme.ARCHITECTURE_PAYSAGE, phase=Phase.FAISABILITE)],
        )
        envelope = Envelope(type=accepted.event_type, source="matching", departement="49")
        headers = [(k, v.encode()) for k, v in envelope.to_headers().items()]
        records.append((b"49", accepted.model_dump_json().encode(), headers))
    await publish_raw(kafka_topics, MATCHING_ASSIGNMENT.name, records)
    await wait_convention(billing.client, "49", missions[-1].demande.request_id)

    tally = await settle_with(billing.client, missions, {m.assignment_id for m in missions}, SEED)
    assert tally.counts == {"préparées": 30, "signées": 25, "refusées": 1, "avenants": 1}
    assert len(tally.released) == 4
    expired = expire_conventions({"MG_BILLING_DATABASE_URL": billing.database_url})
    assert expired == 4

    line = await conventions_line(billing.client, ["49"])
    assert line.startswith("Conventions : 30 préparées ; 25 signées, 1 refusées, 4 expirées")
    assert "1 avenant(s)" in line

    signed = {
        m.demande.requester_code for m in missions if fate(SEED, m.demande.request_id) == "signée"
    }
    facturx = await facturx_line(billing.client, ["49"])
    # Every signature gave a SIRET: an account each, and the advances' XML to them.
    assert facturx.startswith(f"Comptes acheteurs (Chorus Pro) : {len(signed)} ;"), facturx
    assert "Factur-X (XML EN 16931) : 25 fichiers ; 0 factures" in facturx, facturx
