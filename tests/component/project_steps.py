"""Steps of a project's life for the component tests: a demande's body, and a mission
that an actor leads to its end, told by the events matching would publish."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.auth.tokens import Role
from shared.contracts.base import EventPayload
from shared.contracts.matching import (
    AssignmentAccepted,
    AssignmentCompleted,
    AssignmentProposed,
    CriteriaRef,
    NeedRef,
)
from shared.contracts.missions import DeliverableAdded
from shared.contracts.topics import MATCHING_ASSIGNMENT
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from shared.settings import KafkaSettings
from tests.support import events
from tests.support.events import as_record
from tests.support.kafka_tap import publish_raw
from tests.support.services import RunningService
from tests.support.submissions import demande_body
from tests.support.tokens import bearer

TEAM_49 = bearer(Role.DEPARTEMENT, "49")
ANGERS = bearer(Role.COLLECTIVITE, "49", "49007")


def body(**overrides: Any) -> dict[str, Any]:
    """A demande of Angers, its title made unique so that other runs' look nothing like it."""
    title = f"Réhabilitation de la salle des fêtes {uuid.uuid4().hex[:6]}"
    return demande_body(**({"title": title, "themes": ["batiments_publics"]} | overrides))


async def publish(kafka: KafkaSettings, *payloads: EventPayload) -> None:
    await publish_raw(kafka, MATCHING_ASSIGNMENT.name, [as_record(p)[1] for p in payloads])


async def complete_mission(
    requests: RunningService, kafka: KafkaSettings, request_id: str, actor: str
) -> None:
    """``actor`` leads the demande's mission to its end, as matching would tell it."""
    now = datetime.now(UTC)
    common: dict[str, Any] = {
        "assignment_id": uuid.uuid4(),
        "request_id": uuid.UUID(request_id),
        "departement": "49",
        "actor_id": actor,
        "actor_name": actor.upper(),
    }
    need = NeedRef(theme=Theme.BATIMENTS_PUBLICS, phase=Phase.FAISABILITE)
    await publish(
        kafka,
        AssignmentProposed(
            **common,
            requester_code="49007",
            actor_kind="atd",
            needs=[need],
            lead=True,
            round=1,
            criteria=CriteriaRef(
                coverage=1, expertise=1, load=1, continuity=0, locality=1, score=1
            ),
            reasons="Thème et territoire couverts.",
            respond_by=now + timedelta(days=7),
            proposed_at=now,
        ),
        AssignmentAccepted(**common, accepted_at=now),
        AssignmentCompleted(
            **common,
            actor_kind="atd",
            requester_code="49007",
            requester_kind=RequesterKind.COMMUNE,
            needs=[need],
            days_spent=Decimal("3.5"),
            started_at=now,
            completed_at=now,
        ),
    )
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        read = await requests.client.get(f"/v1/requests/{request_id}", headers=TEAM_49)
        if read.json()["status"] == "completed":
            return
        assert asyncio.get_running_loop().time() < deadline, read.json()
        await asyncio.sleep(0.2)


def deliverable_added(request_id: str, download_url: str) -> DeliverableAdded:
    announced = events.deliverable_added(request_id=uuid.UUID(request_id), actor_id="atd49")
    reference = announced.deliverable.model_copy(update={"download_url": download_url})
    return announced.model_copy(update={"deliverable": reference})


async def until_deliverable(requests: RunningService, request_id: str, reference: str) -> None:
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        read = await requests.client.get(f"/v1/requests/{request_id}", headers=TEAM_49)
        if reference in read.json()["deliverables"]:
            return
        assert asyncio.get_running_loop().time() < deadline, read.json()
        await asyncio.sleep(0.2)
