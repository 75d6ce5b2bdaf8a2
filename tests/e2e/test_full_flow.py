"""One demande from submission to invoice (through its signed convention), through the four
services and the real broker, with a real SMTP server: each recipient receives exactly the
expected messages, no more."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal

import pytest

from services.notifications.config import NotificationSettings
from shared.auth.tokens import Role
from shared.settings import KafkaSettings
from tests.e2e.flow import complete, eventually, submit, until_status
from tests.support.conventions import send_and_sign, wait_convention
from tests.support.services import RunningService, running_service
from tests.support.smtp_server import SmtpSink, smtp_sink
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ADMIN = bearer(Role.ADMIN, None)
TEAM = bearer(Role.DEPARTEMENT, "49")
ACTOR_ID = f"e2e-{uuid.uuid4().hex[:6]}"
ACTOR = bearer(Role.ACTOR, "49", ACTOR_ID)
ACTOR_ADDRESS = f"contact.{ACTOR_ID}@actor.example.fr"
REQUESTER_ADDRESS = f"maire.{uuid.uuid4().hex[:6]}@mairie-angers.example.fr"
TEAM_ADDRESS = f"equipe-49-{uuid.uuid4().hex[:6]}@departement.example.fr"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


@pytest.fixture
async def stack(
    smtp: SmtpSink,
    fresh_database: Callable[[str], Awaitable[str]],
    kafka_topics: KafkaSettings,
) -> AsyncIterator[dict[str, RunningService]]:
    settings = NotificationSettings(
        smtp_port=smtp.port,
        dispatch_poll_seconds=0.1,
        backoff_base_seconds=0.2,
        backoff_max_seconds=1.0,
        schedule_scan_seconds=3600,
        digest_scan_seconds=3600,
    )
    async with (
        running_service("requests", fresh_database, kafka_topics) as requests,
        running_service("matching", fresh_database, kafka_topics) as matching,
        running_service("billing", fresh_database, kafka_topics) as billing,
        running_service(
            "notifications", fresh_database, kafka_topics, build_options={"settings": settings}
        ) as notifications,
    ):
        catalogue = {
            "departement": "49",
            "actors": [
                {
                    "id": ACTOR_ID,
                    "name": "Atelier de test",
                    "kind": "caue",
                    "themes": {"architecture_paysage": 3},
                    "phases": ["faisabilite"],
                    "territory": {"departements": ["49"]},
                    "capacity": 5,
                }
            ],
        }
        assert (await matching.client.put("/v1/actors", json=catalogue, headers=ADMIN)).is_success
        contact = await notifications.client.put(
            f"/v1/actors/{ACTOR_ID}/contact", json={"email": ACTOR_ADDRESS}, headers=TEAM
        )
        assert contact.status_code == 200, contact.text
        team = await notifications.client.put(
            "/v1/teams/49/contact", json={"email": TEAM_ADDRESS}, headers=TEAM
        )
        assert team.status_code == 200, team.text
        yield {
            "requests": requests,
            "matching": matching,
            "billing": billing,
            "notifications": notifications,
        }


async def test_one_demande_from_submission_to_invoice_sends_exactly_the_expected_messages(
    stack: dict[str, RunningService], smtp: SmtpSink
) -> None:
    requests, matching, billing = stack["requests"], stack["matching"], stack["billing"]
    request_id = await submit(
        requests.client,
        bearer(Role.COLLECTIVITE, "49", "49007"),
        contact={"name": "Maire d'Angers", "email": REQUESTER_ADDRESS},
        title="Aménagement paysager du mail",
        description="Esquisse paysagère et concertation avec les habitants.",
    )

    demande = await until_status(requests.client, request_id, ADMIN, "proposed")
    [assignment] = demande["assignments"]
    assignment_id = assignment["assignment_id"]
    accepted = await matching.client.post(f"/v1/assignments/{assignment_id}/accept", headers=ACTOR)
    assert accepted.status_code == 200, accepted.text
    await until_status(requests.client, request_id, ADMIN, "in_progress")
    # No mission is invoiced before the collectivité signs its convention.
    convention = await wait_convention(billing.client, "49", request_id)
    assert convention["assignment_id"] == assignment_id and convention["actor_id"] == ACTOR_ID
    signed = await send_and_sign(billing.client, convention, "BC-2027-0042", estimated_days="4")
    await complete(matching.client, assignment_id, "4", ACTOR)
    invoices = await eventually(
        billing.client,
        "/v1/invoices?departement=49",
        ADMIN,
        lambda items: len([i for i in items if i["assignment_id"] == assignment_id]) == 2,
    )
    # The advance at signature, the balance at completion: the convention's price.
    mine = [i for i in invoices if i["assignment_id"] == assignment_id]
    assert sum(Decimal(i["total_incl_tax"]) for i in mine) == Decimal(signed["total_incl_tax"])

    expected = {
        REQUESTER_ADDRESS: Counter(
            [
                "demande_recue",
                "acteur_propose",
                "mission_acceptee",
                "convention_a_signer",
                "mission_terminee",
                "facture_emise",
                "facture_emise",
            ]
        ),
        ACTOR_ADDRESS: Counter(["nouvelle_proposition"]),
    }

    def received() -> dict[str, Counter[str]]:
        return {
            address: Counter(str(m.message["X-MG-Kind"]) for m in smtp.to(address))
            for address in (REQUESTER_ADDRESS, ACTOR_ADDRESS, TEAM_ADDRESS)
        }

    await smtp.wait_for(
        lambda: all(received()[a] >= want for a, want in expected.items()), timeout=40, settle=3.0
    )
    got = received()
    assert got[REQUESTER_ADDRESS] == expected[REQUESTER_ADDRESS]
    assert got[ACTOR_ADDRESS] == expected[ACTOR_ADDRESS]
    assert got[TEAM_ADDRESS] == Counter(), "nothing went wrong: the team hears nothing"
    ids = [m.message_id for a in expected for m in smtp.to(a)]
    assert len(ids) == len(set(ids)) == 8
    invoice_mails = [
        m for m in smtp.to(REQUESTER_ADDRESS) if str(m.message["X-MG-Kind"]) == "facture_emise"
    ]
    for invoice in mine:
        assert any(invoice["number"] in m.text for m in invoice_mails)
