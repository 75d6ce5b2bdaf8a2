"""End to end against the real broker: requests and matching as they run in production,
each with its own database, talking only through Kafka."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from shared.auth.tokens import Role
from shared.contracts.topics import MATCHING_ACTOR, MATCHING_ASSIGNMENT
from shared.settings import KafkaSettings
from tests.e2e.flow import complete, eventually, submit, until_status
from tests.support.kafka_tap import TopicTap
from tests.support.services import RunningService, running_service
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

TEAM_49 = bearer(Role.DEPARTEMENT, "49")
ANGERS = bearer(Role.COLLECTIVITE, "49", "49007")


def actor(actor_id: str, name: str, level: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "caue",
        "themes": {"architecture_paysage": level, "urbanisme": 2},
        "phases": ["idee", "faisabilite", "conception"],
        "territory": {"departements": ["49"]},
        "capacity": 5,
    } | extra


CATALOGUE = {
    "departement": "49",
    "actors": [
        {"id": "t49-caue"} | actor("t49-caue", "CAUE de test", 3),
        {"id": "t49-agence"} | actor("t49-agence", "Agence de test", 2),
    ],
}


@pytest.fixture
async def stack(
    fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> AsyncIterator[tuple[RunningService, RunningService]]:
    async with (
        running_service("requests", fresh_database, kafka_topics) as requests,
        running_service("matching", fresh_database, kafka_topics) as matching,
    ):
        admin = bearer(Role.ADMIN, None)
        loaded = await matching.client.put("/v1/actors", json=CATALOGUE, headers=admin)
        assert loaded.status_code == 200, loaded.text
        yield requests, matching


@pytest.fixture
async def assignments(kafka_topics: KafkaSettings) -> AsyncIterator[TopicTap]:
    """What matching publishes on the assignment topic once the test has begun."""
    async with TopicTap(kafka_topics, MATCHING_ASSIGNMENT.name) as tap:
        yield tap


def of_request(request_id: str) -> Callable[[list[Any]], list[Any]]:
    def mine(records: list[Any]) -> list[Any]:
        return [r for r in records if r.json().get("request_id") == request_id]

    return mine


async def test_submit_propose_decline_next_accept_complete(
    stack: tuple[RunningService, RunningService], assignments: TopicTap
) -> None:
    requests, matching = stack
    request_id = await submit(requests.client, ANGERS)
    mine = of_request(request_id)

    first = await until_status(requests.client, request_id, ANGERS, "proposed")
    [proposed] = first["assignments"]
    assert proposed["actor_id"] == "t49-caue" and proposed["lead"]

    caue = bearer(Role.ACTOR, "49", "t49-caue")
    detail = (
        await matching.client.get(f"/v1/assignments/{proposed['assignment_id']}", headers=caue)
    ).json()
    assert detail["criteria"]["couverture"] == 1.0
    assert "Couvre" in detail["reasons"]
    # Another actor cannot answer for the CAUE.
    stranger = bearer(Role.ACTOR, "49", "t49-agence")
    refused = await matching.client.post(
        f"/v1/assignments/{proposed['assignment_id']}/accept", headers=stranger
    )
    assert refused.status_code == 403

    declined = await matching.client.post(
        f"/v1/assignments/{proposed['assignment_id']}/decline",
        json={"reason": "Plan de charge complet"},
        headers=caue,
    )
    assert declined.status_code == 200, declined.text

    second = await eventually(
        requests.client,
        f"/v1/requests/{request_id}",
        ANGERS,
        lambda b: any(a["actor_id"] == "t49-agence" for a in b["assignments"]),
    )
    [next_one] = [a for a in second["assignments"] if a["actor_id"] == "t49-agence"]
    agence = bearer(Role.ACTOR, "49", "t49-agence")
    accepted = await matching.client.post(
        f"/v1/assignments/{next_one['assignment_id']}/accept", headers=agence
    )
    assert accepted.status_code == 200, accepted.text
    await until_status(requests.client, request_id, ANGERS, "in_progress")
    await complete(matching.client, next_one["assignment_id"], "3.5", agence)
    final = await until_status(requests.client, request_id, ANGERS, "completed")
    assert "Agence de test" in final["status_detail"]

    records = await assignments.collect(lambda rs: len(mine(rs)) >= 5, settle=1.0)
    sequence = [(r.headers["ce_type"].split(".")[2], r.json()["actor_id"]) for r in mine(records)]
    assert sequence == [
        ("proposed", "t49-caue"),
        ("declined", "t49-caue"),
        ("proposed", "t49-agence"),
        ("accepted", "t49-agence"),
        ("completed", "t49-agence"),
    ]
    completed_event = mine(records)[-1]
    assert completed_event.json()["days_spent"] == "3.5"
    assert completed_event.key == b"49"
    assert {r.headers["correlation_id"] for r in mine(records)} == {
        mine(records)[0].headers["correlation_id"]
    }


async def test_a_demande_nobody_can_serve_ends_unmatched_and_the_team_sees_why(
    stack: tuple[RunningService, RunningService], assignments: TopicTap
) -> None:
    requests, matching = stack
    request_id = await submit(requests.client, TEAM_49, themes=["numerique"], phase="travaux")
    final = await until_status(requests.client, request_id, TEAM_49, "unmatched")
    records = await assignments.collect(lambda rs: len(of_request(request_id)(rs)) >= 1, settle=0.5)
    [event] = of_request(request_id)(records)
    assert event.headers["ce_type"] == "matching.request.unmatched.v1"
    body = event.json()
    assert body["uncovered_needs"] == [{"theme": "numerique", "phase": "travaux"}]
    assert any("t49-caue" in reason for reason in body["reasons"])
    assert final["status_detail"] == body["summary_text"]

    unmatched = (await matching.client.get("/v1/unmatched", headers=TEAM_49)).json()
    [listed] = [u for u in unmatched if u["request_id"] == request_id]
    assert listed["uncovered_needs"] == ["numerique/travaux"]
    other_team = await matching.client.get(
        "/v1/unmatched?departement=49", headers=bearer(Role.DEPARTEMENT, "44")
    )
    assert other_team.status_code == 403


async def test_withdrawal_cancels_the_proposal_and_frees_the_capacity(
    stack: tuple[RunningService, RunningService], assignments: TopicTap
) -> None:
    requests, matching = stack
    request_id = await submit(requests.client, ANGERS)
    await until_status(requests.client, request_id, ANGERS, "proposed")
    await requests.client.post(f"/v1/requests/{request_id}/withdraw", json={}, headers=ANGERS)
    records = await assignments.collect(
        lambda rs: any(
            r.headers["ce_type"] == "matching.assignment.cancelled.v1"
            for r in of_request(request_id)(rs)
        )
    )
    cancelled = [
        r for r in of_request(request_id)(records) if r.headers["ce_type"].endswith("cancelled.v1")
    ]
    assert cancelled[0].json()["was_accepted"] is False
    still_proposed = (
        await matching.client.get("/v1/assignments?status=proposed", headers=TEAM_49)
    ).json()
    assert not [a for a in still_proposed if a["request_id"] == request_id]


async def test_actor_changes_are_published_on_the_actor_topic(
    stack: tuple[RunningService, RunningService], kafka_topics: KafkaSettings
) -> None:
    _, matching = stack
    async with TopicTap(kafka_topics, MATCHING_ACTOR.name) as tap:
        changed = CATALOGUE["actors"][0] | {"capacity": 9}  # type: ignore[operator]
        response = await matching.client.put("/v1/actors/t49-caue", json=changed, headers=TEAM_49)
        assert response.status_code == 200, response.text
        assert response.json()["version"] == 2
        same = await matching.client.put("/v1/actors/t49-caue", json=changed, headers=TEAM_49)
        assert same.json()["version"] is None
        records = await tap.collect(
            lambda rs: any(json.loads(r.value).get("actor_id") == "t49-caue" for r in rs),
            settle=1.0,
        )
    [event] = [r for r in records if r.json().get("actor_id") == "t49-caue"]
    assert event.headers["ce_type"] == "matching.actor.updated.v1"
    assert event.json()["capacity"] == 9 and event.json()["version"] == 2
    foreign = await matching.client.put(
        "/v1/actors/t49-caue",
        json=changed | {"departement": "49"},
        headers=bearer(Role.DEPARTEMENT, "44"),
    )
    assert foreign.status_code == 403
    assert "équipe du département" in foreign.json()["detail"]
    bad = await matching.client.put(
        "/v1/actors/t49-x", json=changed | {"themes": {"astrologie": 3}}, headers=TEAM_49
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["message"]
