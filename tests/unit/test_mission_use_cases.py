"""A mission's course on the fakes: the default plan at acceptance, milestones edited and
marked done with deliverables, refusals (size, type, someone else's mission) that write
nothing, the timeline by role, and the hand-over of an agent's missions."""

from __future__ import annotations

import contextlib
import io
import tracemalloc
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.domain.deliverables import (
    DOCX,
    JPEG,
    MAX_DELIVERABLE_BYTES,
    ODT,
    PDF,
    PNG,
    XLSX,
    DeliverableTooLarge,
    UnsupportedDeliverable,
    sniff,
)
from services.matching.domain.missions import MilestoneStatus
from services.matching.service_layer import assignments, handovers, missions
from shared.auth.tokens import Principal, Role
from shared.contracts.missions import DeliverableAdded, MilestoneDone, MissionReassigned
from shared.errors import (
    Conflict,
    DomainValidationError,
    Forbidden,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from tests.support import sample_files
from tests.unit.fakes.matching import FakeContentStore, FakeUnitOfWork
from tests.unit.test_matching_use_cases import (
    ANGERS,
    NOW,
    TEAM_49,
    as_actor,
    entry,
    offer,
    proposals,
    route,
)

URL = "http://matching.test"
CAUE = as_actor("caue")


def reader(data: bytes) -> missions.Reader:
    async def read() -> bytes:
        if len(data) > MAX_DELIVERABLE_BYTES:
            raise DeliverableTooLarge("trop gros")
        return data

    return read


async def accepted_mission(uow: FakeUnitOfWork, agent: str | None = None) -> UUID:
    await offer(uow, entry("caue", 3, capacity=5), entry("agence", 2))
    await route(uow, ["architecture_paysage"])
    proposed = proposals(uow)[-1]
    async with uow:
        await assignments.accept(uow, CAUE, proposed.assignment_id, NOW, agent)
    return proposed.assignment_id


def counts(uow: FakeUnitOfWork, store: FakeContentStore) -> tuple[int, ...]:
    return (
        len(uow.milestones.rows),
        len(uow.deliverables.rows),
        len(store.objects),
        len(uow.published),
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (sample_files.pdf(), PDF),
        (sample_files.docx(), DOCX),
        (sample_files.xlsx(), XLSX),
        (sample_files.odt(), ODT),
        (sample_files.png(), PNG),
        (sample_files.jpeg(), JPEG),
    ],
)
def test_the_type_is_read_from_the_bytes(data: bytes, expected: str) -> None:
    assert sniff(data) == expected


@pytest.mark.parametrize(
    "data",
    [b"MZ\x90\x00 an executable", b"PK\x03\x04not a zip", b"<html>%PDF-", b"GIF89a"],
)
def test_other_bytes_are_refused_whatever_their_name(data: bytes) -> None:
    with pytest.raises(UnsupportedDeliverable, match="Type de fichier non accepté"):
        sniff(data)


async def test_acceptance_starts_the_default_plan_of_the_phase_with_the_agent() -> None:
    uow = FakeUnitOfWork()
    mission = await accepted_mission(uow, agent="Jeanne Martin")
    plan = await uow.milestones.of_mission(mission)
    assert [m.title for m in plan] == [
        "Diagnostic remis",
        "Étude de faisabilité remise",
        "Restitution aux élus",
    ]
    assert plan[0].due_on == date(2026, 12, 25)
    assert uow.assignments.rows[mission].agent == "Jeanne Martin"


async def test_the_actor_adds_and_edits_milestones_and_marks_one_done_with_a_deliverable() -> None:
    uow, store = FakeUnitOfWork(), FakeContentStore()
    mission = await accepted_mission(uow)
    assert uow.assignments.rows[mission].agent == CAUE.subject
    async with uow:
        added = await missions.add_milestone(
            uow, TEAM_49, mission, "Réunion publique", date(2027, 3, 1)
        )
        assert added.position == 4
        first = (await uow.milestones.of_mission(mission))[0]
        await missions.edit_milestone(
            uow, CAUE, mission, first.id, title=None, due_on=date(2026, 12, 1)
        )
        data = sample_files.pdf()
        deliverable = await missions.add_deliverable(
            uow, store, CAUE, mission, first.id, "diagnostic.pdf", reader(data), URL, NOW
        )
        done = await missions.mark_done(uow, CAUE, mission, first.id, "Remis en mairie.", URL, NOW)
        assert done.status is MilestoneStatus.DONE
        with pytest.raises(Conflict):
            await missions.mark_done(uow, CAUE, mission, first.id, None, URL, NOW)
        with pytest.raises(Conflict):
            await missions.edit_milestone(uow, CAUE, mission, first.id, title="x", due_on=None)
    added_event, done_event = uow.events()[-2:]
    assert isinstance(added_event, DeliverableAdded)
    assert added_event.deliverable.content_type == PDF
    assert added_event.deliverable.size == len(data)
    assert added_event.deliverable.download_url == (
        f"{URL}/v1/missions/{mission}/deliverables/{deliverable.id}"
    )
    assert isinstance(done_event, MilestoneDone)
    assert [d.deliverable_id for d in done_event.deliverables] == [deliverable.id]
    assert (done_event.milestones_left, done_event.late) == (3, False)
    assert store.objects[deliverable.storage_key] == (data, PDF)


async def test_refused_uploads_write_nothing() -> None:
    uow, store = FakeUnitOfWork(), FakeContentStore()
    mission = await accepted_mission(uow)
    first = (await uow.milestones.of_mission(mission))[0]
    before = counts(uow, store)
    cases: list[tuple[Principal, bytes, type[Exception]]] = [
        (CAUE, b"\x00" * (MAX_DELIVERABLE_BYTES + 1), PayloadTooLarge),
        (CAUE, b"#!/bin/sh\necho", UnsupportedMediaType),
        (as_actor("agence"), sample_files.pdf(), Forbidden),
        (Principal(Role.DEPARTEMENT, "a", "44"), sample_files.pdf(), Forbidden),
        (ANGERS, sample_files.pdf(), Forbidden),
    ]
    for principal, data, refusal in cases:
        async with uow:
            with pytest.raises(refusal):
                await missions.add_deliverable(
                    uow, store, principal, mission, first.id, "f.pdf", reader(data), URL, NOW
                )
            if refusal is Forbidden:
                with pytest.raises(Forbidden):
                    await missions.mark_done(uow, principal, mission, first.id, None, URL, NOW)
    assert counts(uow, store) == before


async def test_the_collectivite_and_the_team_read_the_timeline_others_do_not() -> None:
    uow, store = FakeUnitOfWork(), FakeContentStore()
    mission = await accepted_mission(uow)
    first = (await uow.milestones.of_mission(mission))[0]
    async with uow:
        added = await missions.add_deliverable(
            uow, store, CAUE, mission, first.id, "photo.png", reader(sample_files.png()), URL, NOW
        )
        for reader_ in (ANGERS, TEAM_49, CAUE):
            seen = await missions.timeline(uow, reader_, mission)
            assert [d.id for d in seen.deliverables] == [added.id]
        found, data = await missions.deliverable_content(uow, store, ANGERS, mission, added.id)
        assert (found.content_type, data) == (PNG, sample_files.png())
        other_town = Principal(Role.COLLECTIVITE, "maire", "49", scope="49099")
        for outsider in (other_town, as_actor("agence"), Principal(Role.DEPARTEMENT, "a", "44")):
            with pytest.raises(Forbidden):
                await missions.timeline(uow, outsider, mission)
            with pytest.raises(Forbidden):
                await missions.deliverable_content(uow, store, outsider, mission, added.id)


async def test_a_demande_s_missions_are_listed_for_those_who_may_read_them() -> None:
    uow = FakeUnitOfWork()
    mission = await accepted_mission(uow)
    request_id = uow.assignments.rows[mission].request_id
    async with uow:
        for reader_, expected in ((ANGERS, [mission]), (TEAM_49, [mission]), (CAUE, [mission])):
            found = await missions.timelines_of_request(uow, reader_, request_id)
            assert [t.mission.id for t in found] == expected
        assert await missions.timelines_of_request(uow, as_actor("agence"), request_id) == []


async def test_a_completed_mission_is_frozen() -> None:
    uow = FakeUnitOfWork()
    mission = await accepted_mission(uow)
    first = (await uow.milestones.of_mission(mission))[0]
    async with uow:
        await assignments.complete(uow, CAUE, mission, Decimal("2"), None, NOW)
        with pytest.raises(Conflict, match="pas en cours"):
            await missions.mark_done(uow, CAUE, mission, first.id, None, URL, NOW)


async def test_the_team_hands_a_leaving_agents_missions_over_in_one_operation() -> None:
    uow = FakeUnitOfWork()
    mission = await accepted_mission(uow, agent="Paul Durand")
    later = NOW + timedelta(days=3)
    async with uow:
        with pytest.raises(Forbidden):
            await handovers.hand_over(uow, CAUE, "caue", "Paul Durand", "Léa Roux", None, later)
        with pytest.raises(DomainValidationError):
            await handovers.hand_over(
                uow, TEAM_49, "caue", "Paul Durand", "Paul Durand", None, later
            )
        moved = await handovers.hand_over(
            uow, TEAM_49, "caue", "Paul Durand", "Léa Roux", "Départ en retraite", later
        )
        assert [m.id for m in moved] == [mission]
        again = await handovers.hand_over(
            uow, TEAM_49, "caue", "Paul Durand", "Léa Roux", None, later
        )
        assert again == []
        seen = await missions.timeline(uow, ANGERS, mission)
    assert uow.assignments.rows[mission].agent == "Léa Roux"
    [handover] = seen.handovers
    assert (handover.from_agent, handover.to_agent, handover.by) == (
        "Paul Durand",
        "Léa Roux",
        TEAM_49.subject,
    )
    [event] = [e for e in uow.events() if isinstance(e, MissionReassigned)]
    assert (event.assignment_id, event.to_agent, event.reason) == (
        mission,
        "Léa Roux",
        "Départ en retraite",
    )


def _deflated_odt() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", ODT * 4)
        archive.writestr("content.xml", b"<office/>" * 50)
    return out.getvalue()


ZIPS = [sample_files.docx(), sample_files.xlsx(), sample_files.odt(), _deflated_odt()]


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(ZIPS),
    # The headers and the first entry, where a flip breaks the archive's structure.
    st.lists(st.tuples(st.integers(0, 160), st.integers(0, 255)), min_size=1, max_size=6),
    st.integers(min_value=0),
)
def test_a_damaged_office_file_is_a_known_type_or_refused_never_an_error(
    original: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    damaged = bytearray(original)
    for position, value in flips:
        damaged[position % len(damaged)] = value
    data = bytes(damaged[: max(4, len(damaged) - cut % len(damaged))])
    with contextlib.suppress(UnsupportedDeliverable):
        assert sniff(data) in (PDF, DOCX, XLSX, ODT, PNG, JPEG)


def test_a_corrupt_deflate_stream_is_refused() -> None:
    damaged = bytearray(_deflated_odt())
    damaged[40] = 0xFF  # inside the deflated "mimetype": zlib refuses it
    with pytest.raises(UnsupportedDeliverable):
        sniff(bytes(damaged))


def test_a_zip_bomb_in_place_of_the_mimetype_is_refused_without_inflating_it() -> None:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("mimetype", "w", force_zip64=True) as entry,
    ):
        for _ in range(100):  # 100 MB of zeros deflate to about 100 KB
            entry.write(bytes(1024 * 1024))
    bomb = out.getvalue()
    tracemalloc.start()
    try:
        with pytest.raises(UnsupportedDeliverable):
            sniff(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024
