"""A mission's course end to end over the real broker: a demande published on
``requests.request.v1`` is routed by matching, accepted, given a deliverable, a milestone
done and a hand-over over HTTP; the three events reach ``matching.mission.v1`` as
CloudEvents keyed by the département, valid against their schemas, in the demande's
correlation; the notifications service emails the collectivité, the actor and the team."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import jsonschema
import pytest

from shared.auth.tokens import Role
from shared.contracts.export import schema_path
from shared.contracts.requests import Contact, Requester, RequestSubmitted
from shared.contracts.topics import MATCHING_MISSION
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from shared.settings import KafkaSettings
from tests.component.notification_demandes import publish, settings_for
from tests.support import sample_files
from tests.support.kafka_tap import Record, TopicTap
from tests.support.services import RunningService, running_service
from tests.support.smtp_server import smtp_sink
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

# Mayotte: no shipped catalogue, so no other run's matching proposes anyone for it.
DEP = "976"
RUN = uuid.uuid4().hex[:8]
ACTOR = f"t976-{RUN}"
TEAM = bearer(Role.DEPARTEMENT, DEP)
AS_ACTOR = bearer(Role.ACTOR, DEP, ACTOR)
CONTACT = f"elu-{RUN}@acoua.example.fr"
TEAM_ADDRESS = f"equipe-{RUN}@mayotte.example.fr"
ACTOR_ADDRESS = f"caue-{RUN}@mayotte.example.fr"
MISSION_TYPES = (
    "matching.deliverable.added.v1",
    "matching.milestone.done.v1",
    "matching.mission.reassigned.v1",
)


async def proposal_for(matching: RunningService, request_id: str) -> str:
    """The id of the proposal matching made for ``request_id`` once it consumed it."""
    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        listed = await matching.client.get("/v1/assignments?status=proposed", headers=AS_ACTOR)
        found = [a["id"] for a in listed.json() if a["request_id"] == request_id]
        if found:
            return str(found[0])
        await asyncio.sleep(0.2)
    raise TimeoutError("matching made no proposal")


async def test_a_mission_s_course_reaches_kafka_and_the_people_concerned(
    fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> None:
    with smtp_sink() as smtp:
        async with (
            running_service("matching", fresh_database, kafka_topics) as matching,
            running_service(
                "notifications",
                fresh_database,
                kafka_topics,
                build_options={"settings": settings_for(smtp)},
            ) as notifications,
        ):
            for url, email in (
                (f"/v1/teams/{DEP}/contact", TEAM_ADDRESS),
                (f"/v1/actors/{ACTOR}/contact", ACTOR_ADDRESS),
            ):
                saved = await notifications.client.put(url, json={"email": email}, headers=TEAM)
                assert saved.status_code == 200, saved.text
            catalogue = {
                "departement": DEP,
                "actors": [
                    {
                        "id": ACTOR,
                        "name": "CAUE de Mayotte (test)",
                        "kind": "caue",
                        "themes": {"numerique": 3},
                        "phases": ["faisabilite"],
                        "territory": {"communes": ["97601"]},
                        "capacity": 5,
                    }
                ],
            }
            loaded = await matching.client.put("/v1/actors", json=catalogue, headers=TEAM)
            assert loaded.status_code == 200, loaded.text

            demande = RequestSubmitted(
                request_id=uuid.uuid4(),
                departement=DEP,
                requester=Requester(
                    kind=RequesterKind.COMMUNE, code="97601", name="Acoua", population=5000
                ),
                contact=Contact(name="Élu d'Acoua", email=CONTACT),
                title="Aménagement du front de mer",
                description="Étude paysagère du front de mer.",
                themes=[Theme.NUMERIQUE],
                phase=Phase.FAISABILITE,
                channel="api",
                submitted_at=datetime.now(UTC),
            )
            submitted = await publish(kafka_topics, demande)
            mission = await proposal_for(matching, str(demande.request_id))

            async with TopicTap(kafka_topics, MATCHING_MISSION.name) as tap:
                accepted = await matching.client.post(
                    f"/v1/assignments/{mission}/accept",
                    json={"agent": "Paul Durand"},
                    headers=AS_ACTOR,
                )
                assert accepted.status_code == 200, accepted.text
                timeline = await matching.client.get(
                    f"/v1/missions/{mission}/timeline", headers=TEAM
                )
                first = timeline.json()["milestones"][0]["id"]
                added = await matching.client.post(
                    f"/v1/missions/{mission}/milestones/{first}/deliverables?name=diagnostic.pdf",
                    content=sample_files.pdf(),
                    headers=AS_ACTOR,
                )
                assert added.status_code == 201, added.text
                done = await matching.client.post(
                    f"/v1/missions/{mission}/milestones/{first}/done", headers=AS_ACTOR
                )
                assert done.status_code == 200, done.text
                handed = await matching.client.post(
                    f"/v1/actors/{ACTOR}/handover",
                    json={"from_agent": "Paul Durand", "to_agent": "Léa Roux"},
                    headers=TEAM,
                )
                assert handed.json()["reassigned"] == [mission]

                def mine(records: list[Record]) -> list[Record]:
                    return [r for r in records if r.json().get("assignment_id") == mission]

                ours = mine(await tap.collect(lambda rs: len(mine(rs)) >= 3, settle=1.0))
            assert [r.headers["ce_type"] for r in ours] == list(MISSION_TYPES)
            for record in ours:
                assert record.key == DEP.encode()
                assert record.headers["departement"] == DEP
                assert record.headers["ce_source"] == "matching"
                assert record.headers["correlation_id"] == submitted.correlation_id
                schema = json.loads(schema_path(record.headers["ce_type"]).read_text())
                jsonschema.Draft202012Validator(schema).validate(record.json())
            deliverable = ours[0].json()["deliverable"]
            assert deliverable["content_type"] == "application/pdf"
            assert "data" not in deliverable and len(deliverable["sha256"]) == 64
            assert ours[1].json()["deliverables"] == [deliverable]

            def subjects(address: str) -> list[str]:
                return sorted(m.subject for m in smtp.to(address))

            await smtp.wait_for(
                lambda: (
                    len(subjects(CONTACT)) >= 5
                    and bool(subjects(TEAM_ADDRESS))
                    and any("confiée" in s for s in subjects(ACTOR_ADDRESS))
                ),
                timeout=60,
            )
            told = subjects(CONTACT)
            assert any(s.startswith("Nouveau livrable : diagnostic.pdf") for s in told), told
            assert any(s.startswith("Jalon remis : Diagnostic remis") for s in told), told
            assert any(s.startswith("Mission confiée à Léa Roux") for s in told), told
            assert any("confiée à Léa Roux" in s for s in subjects(TEAM_ADDRESS))
