"""The activity reports' projection on the real broker and database: events consumed live,
figures computed; the projection emptied and rebuilt from offset 0 of its topics gives the
same figures. And the report over HTTP, for its département's team only."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from sqlalchemy import extract, func, select

from services.resources.adapters.orm import report_facts
from services.resources.adapters.unit_of_work import ResourcesUnitOfWork
from services.resources.domain.report_facts import fact_of
from services.resources.domain.report_figures import ActivityReport, Period
from services.resources.entrypoints.report_cli import rebuild
from services.resources.service_layer import reports
from shared.auth.tokens import Principal, Role
from shared.refdata import get_territories
from shared.settings import KafkaSettings
from tests.component.resources_setup import resources_service
from tests.support.events import as_record
from tests.support.kafka_tap import publish_raw
from tests.support.services import RunningService
from tests.support.tokens import bearer
from tests.unit.report_events import activity_events

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

service = resources_service
# Haute-Corse: the other tests' events are of other départements, so the rebuild of its
# part of the projection reads every record of the topics but parses few.
DEPARTEMENT = "2B"
TEAM = Principal(Role.DEPARTEMENT, "team-2b", DEPARTEMENT)


async def facts_of_year(service: RunningService, year: int) -> int:
    async with service.runtime.session_factory() as session:
        counted = await session.execute(
            select(func.count())
            .select_from(report_facts)
            .where(
                report_facts.c.departement == DEPARTEMENT,
                # The year and the one before, which the report compares it with.
                extract("year", report_facts.c.occurred_at).in_([year - 1, year]),
            )
        )
        return int(counted.scalar_one())


async def figures(service: RunningService, year: int) -> ActivityReport:
    uow = ResourcesUnitOfWork(service.runtime.session_factory, "resources")
    async with uow:
        return await reports.activity_report(
            uow, TEAM, Period(DEPARTEMENT, year), get_territories()
        )


async def test_the_projection_rebuilt_from_offset_0_gives_the_same_figures(
    service: RunningService, kafka_topics: KafkaSettings
) -> None:
    # A year of its own, far ahead: no other test's events fall in it.
    year = random.randint(2200, 8999)
    events = activity_events(year, DEPARTEMENT)
    expected = sum(
        1
        for e in events
        if (f := fact_of("x", e, get_territories())) is not None
        and f.occurred_at.year in (year - 1, year)
    )
    by_topic: dict[str, list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]] = {}
    for event in events:
        by_topic.setdefault(event.topic, []).append(as_record(event)[1])
    for topic, records in by_topic.items():
        await publish_raw(kafka_topics, topic, records)
    deadline = time.monotonic() + 60
    while await facts_of_year(service, year) < expected:
        assert time.monotonic() < deadline, "the live subscribers did not record every fact"
        await asyncio.sleep(0.2)
    live = await figures(service, year)
    assert live.table("comparaison").rows[0] == ["Demandes reçues", 4, 1, 1]

    started = time.perf_counter()
    read, added = await rebuild(
        lambda: ResourcesUnitOfWork(service.runtime.session_factory, "resources"),
        kafka_topics,
        DEPARTEMENT,
    )
    elapsed = time.perf_counter() - started
    rebuilt = await figures(service, year)
    print(
        f"\nrebuilt from offset 0: {read} records read, {added} facts, {elapsed:.1f} s; "
        f"{year}: {[(t.key, t.rows) for t in rebuilt.tables[:2]]}"
    )
    assert added >= expected
    assert rebuilt == live


async def test_the_report_over_http_is_its_teams_only(service: RunningService) -> None:
    page = await service.client.get("/v1/reports/49/2027", headers=bearer(Role.DEPARTEMENT, "49"))
    assert page.status_code == 200, page.text
    assert "<svg" in page.text or "Aucune donnée" in page.text
    assert page.headers["content-type"].startswith("text/html")
    table = await service.client.get(
        "/v1/reports/49/2027/facturation.csv", headers=bearer(Role.DEPARTEMENT, "49")
    )
    assert table.text.splitlines()[0] == "Nature,Pièces,Euros"
    schema = await service.client.get(
        "/v1/reports/49/2027/open-data.schema.json", headers=bearer(Role.DEPARTEMENT, "49")
    )
    assert schema.json()["fields"][0]["name"] == "departement"
    for headers in (
        bearer(Role.DEPARTEMENT, "44"),
        bearer(Role.COLLECTIVITE, "49", "49007"),
        bearer(Role.ACTOR, "49", "caue-49"),
    ):
        refused = await service.client.get("/v1/reports/49/2027", headers=headers)
        assert refused.status_code == 403
        assert refused.json()
    missing = await service.client.get(
        "/v1/reports/49/2027/secret.csv", headers=bearer(Role.DEPARTEMENT, "49")
    )
    assert missing.status_code == 404
