"""A matching service with an accepted mission, for the missions API tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from services.matching.adapters.orm import (
    assignments,
    deliverable_contents,
    deliverables,
    milestones,
    mission_handovers,
)
from services.matching.adapters.unit_of_work import MatchingUnitOfWork
from services.matching.config import MatchingRules
from services.matching.service_layer import routing
from shared.auth.tokens import Role
from shared.contracts.requests import Contact, Requester, RequestSubmitted
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from shared.messaging.envelope import Envelope
from shared.refdata import get_territories
from tests.support.services import RunningService
from tests.support.tokens import bearer

TEAM = bearer(Role.DEPARTEMENT, "49")
CAUE = bearer(Role.ACTOR, "49", "t49-mission-caue")
OTHER_ACTOR = bearer(Role.ACTOR, "49", "t49-mission-agence")
ANGERS = bearer(Role.COLLECTIVITE, "49", "49007")
ELSEWHERE = bearer(Role.COLLECTIVITE, "49", "49099")

CATALOGUE = {
    "departement": "49",
    "actors": [
        {
            "id": actor_id,
            "name": name,
            "kind": "caue",
            # A theme and a commune no other test asks for: the broker is shared, and
            # other runs' demandes reach this service too.
            "themes": {"numerique": level},
            "phases": ["faisabilite"],
            "territory": {"communes": ["49007"]},
            "capacity": 50,
        }
        for actor_id, name, level in (
            ("t49-mission-caue", "CAUE de test (missions)", 3),
            ("t49-mission-agence", "Agence de test (missions)", 1),
        )
    ],
}

MISSION_TABLES = (milestones, deliverables, deliverable_contents, mission_handovers)
# Every event of a mission, on either topic, names its demande.
OUTBOX_OF_DEMANDES = text(
    "SELECT count(*) FROM outbox "
    "WHERE convert_from(payload, 'UTF8')::jsonb ->> 'request_id' = ANY(:ids)"
)


async def rows(database_url: str, request_ids: list[str]) -> dict[str, int]:
    """How many rows each table of a mission's course holds, and how many outbox rows
    concern ``request_ids``: the broker is shared, and a matching service consuming it
    also writes the routing of other runs' demandes, which is none of these tests' business."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            counts = {
                table.name: int(
                    (await connection.execute(select(func.count()).select_from(table))).scalar_one()
                )
                for table in MISSION_TABLES
            }
            outbox = await connection.execute(OUTBOX_OF_DEMANDES, {"ids": request_ids})
            return counts | {"outbox": int(outbox.scalar_one())}
    finally:
        await engine.dispose()


async def demande_of(service: RunningService, mission: str) -> str:
    async with service.runtime.session_factory() as session:
        found = await session.scalar(
            select(assignments.c.request_id).where(assignments.c.id == uuid.UUID(mission))
        )
    return str(found)


async def accepted_mission(service: RunningService, agent: str = "Paul Durand") -> str:
    """A demande of Angers routed to the CAUE, which accepted it (over HTTP)."""
    loaded = await service.client.put("/v1/actors", json=CATALOGUE, headers=TEAM)
    assert loaded.status_code == 200, loaded.text
    commune = get_territories().commune("49007")
    assert commune is not None
    event = RequestSubmitted(
        request_id=uuid.uuid4(),
        departement="49",
        requester=Requester(
            kind=RequesterKind.COMMUNE,
            code=commune.code_insee,
            name=commune.nom,
            population=commune.population,
        ),
        contact=Contact(name="Marie Dupont", email="marie.dupont@example.fr"),
        title="Place du marché",
        description="Étude paysagère de la place.",
        themes=[Theme.NUMERIQUE],
        phase=Phase.FAISABILITE,
        channel="api",
        submitted_at=datetime.now(UTC),
    )
    envelope = Envelope(type=event.event_type, source="requests", departement="49")
    uow = service.runtime.unit_of_work(MatchingUnitOfWork)()
    async with uow:
        proposal = await routing.route_demande(
            uow, event, envelope, MatchingRules().policy(), get_territories(), datetime.now(UTC)
        )
        await uow.commit()
    assert proposal is not None
    listed = await service.client.get("/v1/assignments?status=proposed", headers=CAUE)
    [mine] = [a for a in listed.json() if a["request_id"] == str(event.request_id)]
    accepted = await service.client.post(
        f"/v1/assignments/{mine['id']}/accept", json={"agent": agent}, headers=CAUE
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["agent"] == agent
    return str(mine["id"])
