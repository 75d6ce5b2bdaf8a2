"""Hundreds of malformed submit-request commands: every bad record reaches the dead-letter
topic with its reason and its original key and body, records of unknown types are
skipped, and a valid command published behind them all is still processed.

The cases come from a seeded generator (``MG_BAD_INPUT_SEED``), so a failure replays; the
figures go to ``tests/perf/results/requests_bad_input.json``."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from services.requests.adapters.orm import demandes
from shared.contracts.topics import REQUESTS_COMMAND
from shared.messaging.envelope import Envelope
from shared.refdata import Territories, get_territories
from shared.settings import KafkaSettings
from tests.integration.bad_input_mutations import DATABASE, SCHEMA, in_contact, js, mutations, put
from tests.integration.bad_input_run import SEED, report, request_id_of, today_utc
from tests.support import submissions
from tests.support.kafka_tap import Record
from tests.support.services import RunningService

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

MIN_COMMAND_CASES = 100
# A command and its dead letter (original headers plus dlq_*) must fit the broker's 1 MB.
COMMAND_HUGE = 900_000

SUBMIT_TYPE = "requests.command.submit-request.v1"


# ---------------------------------------------------------------------------------------
# Command cases.


@dataclass(frozen=True)
class CommandCase:
    category: str
    label: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    reasons: frozenset[str]
    # Our ce_id, found on the dead letter as its ce_id header, or as its key when the
    # record has no usable ce_id header.
    marker: str
    request_id: str | None = None

    def record(self) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
        return self.key, self.value, self.headers


@dataclass
class CommandPlan:
    run: str
    bad: list[CommandCase] = field(default_factory=list)
    ignored: list[CommandCase] = field(default_factory=list)

    def next_id(self) -> str:
        return f"bad-{self.run}-{len(self.bad) + len(self.ignored):04d}"

    def envelope_case(
        self,
        category: str,
        label: str,
        value: bytes | None,
        *,
        departement: str = "49",
        reasons: frozenset[str],
        request_id: str | None = None,
        header_changes: dict[str, str | bytes | None] | None = None,
    ) -> CommandCase:
        """A record whose ce_id is ours and unique; ``header_changes`` edit its headers."""
        ce_id = self.next_id()
        envelope = Envelope(type=SUBMIT_TYPE, source="sig-49", departement=departement, id=ce_id)
        headers: dict[str, str | bytes | None] = dict(envelope.to_headers())
        headers.update(header_changes or {})
        raw = [(k, v.encode() if isinstance(v, str) else v) for k, v in headers.items() if v]
        usable = isinstance(headers.get("ce_id"), str) and headers["ce_id"] == ce_id
        key = departement.encode() if usable else ce_id.encode()
        marker = ce_id
        return CommandCase(category, label, key, value, raw, reasons, marker, request_id)


def command_plan(rng: random.Random, t: Territories, today: date, run: str) -> CommandPlan:
    plan = CommandPlan(run)

    def valid_payload() -> tuple[dict[str, Any], str]:
        request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        return submissions.demande_body(request_id=request_id), request_id

    # A valid envelope with an invalid payload.
    for m in mutations(rng, t, today, COMMAND_HUGE):
        payload, request_id = valid_payload()
        plan.bad.append(
            plan.envelope_case(
                m.category,
                m.label,
                m.payload(payload),
                departement=m.departement,
                reasons=m.reasons,
                request_id=request_id,
            )
        )
    payload, request_id = valid_payload()
    plan.bad.append(
        plan.envelope_case("wrong_type", "null value", None, reasons=SCHEMA, request_id=request_id)
    )
    for label, make in [
        ("NUL in title", put(title="Titre avec \u0000 caché")),
        ("NUL in contact", in_contact(name="Ma\u0000rie")),
    ]:
        payload, request_id = valid_payload()
        plan.bad.append(
            plan.envelope_case(
                "nul_character", label, js(make(payload)), reasons=DATABASE, request_id=request_id
            )
        )

    # A valid payload in a broken envelope.
    def envelope(
        label: str,
        reasons: frozenset[str] = frozenset({"invalid_envelope"}),
        **changes: str | bytes | None,
    ) -> None:
        payload, request_id = valid_payload()
        plan.bad.append(
            plan.envelope_case(
                "envelope",
                label,
                js(payload),
                reasons=reasons,
                request_id=request_id,
                header_changes=changes,
            )
        )

    for name in ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "departement"]:
        envelope(f"no {name}", **{name: None})
    for version in ["0.3", "2.0", "1", "1.0 ", "v1.0"]:
        envelope(f"ce_specversion={version!r}", ce_specversion=version)
    for when in ["2026-11-25T10:00:00", "2026-11-25", "hier", "2026-13-45T00:00:00Z", "1764000000"]:
        envelope(f"ce_time={when!r}", ce_time=when)
    for name, value in [
        ("departement", "é"),
        ("ce_source", "système-départemental"),
        ("ce_type", f"{SUBMIT_TYPE}é"),
        ("correlation_id", "corrélation"),
        ("ce_id", "identifiant-é"),
        ("ce_source", "sig\u00a049"),
        ("content-type", "application/json; charset=é"),
    ]:
        envelope(f"non-ASCII {name}", **{name: value})
    for content_type in ["text/plain", "application/xml", "application/cloudevents+json"]:
        envelope(f"content-type={content_type}", **{"content-type": content_type})
    for departement in ["4", "999", "49 ", "XX", "2C", "00", "4" * 40]:
        envelope(f"departement={departement!r}", departement=departement)
    # "20" (Corsica before 1976) is no département code now; nor is a code with a newline.
    for departement in ["20", "49\n"]:
        envelope(f"departement={departement!r}", departement=departement)
    for name in ["ce_id", "correlation_id", "causation_id", "ce_type", "ce_source"]:
        limit = {"ce_type": 200, "ce_source": 100}.get(name, 64)
        envelope(f"{name} too long", **{name: "x" * rng.randint(limit + 1, limit + 500)})

    # No headers at all, or nothing usable: the key is the marker.
    for label in ["no headers, null value", "no headers, valid body"]:
        payload, request_id = valid_payload()
        key = plan.next_id().encode()
        value = None if "null" in label else js(payload)
        plan.bad.append(
            CommandCase(
                "envelope",
                label,
                key,
                value,
                [],
                frozenset({"invalid_envelope"}),
                key.decode(),
                request_id,
            )
        )
    # Header bytes stay UTF-8: FastStream's default parser decodes every header as UTF-8
    # before our consumer runs, so a non-UTF-8 header fails there on every redelivery and
    # would block its partition instead of reaching the dead-letter topic.
    key = plan.next_id().encode()
    plan.bad.append(
        CommandCase(
            "envelope",
            "garbage headers",
            key,
            b"{}",
            [("\u00e9", "\u00e9".encode()), ("x", b"")],
            frozenset({"invalid_envelope"}),
            key.decode(),
        )
    )

    # Unknown types are skipped by design, not dead-lettered.
    for ce_type in [
        "requests.command.teleport.v1",
        "Requests.Command.Submit-Request.V1",
        "requests.command.submit-request.v2",
        "requests.request.submitted.v1",
    ]:
        payload, request_id = valid_payload()
        case = plan.envelope_case(
            "ignored",
            ce_type,
            js(payload) if rng.random() < 0.5 else b"{x",
            reasons=frozenset(),
            request_id=request_id,
            header_changes={"ce_type": ce_type},
        )
        plan.ignored.append(case)
    rng.shuffle(plan.bad)
    return plan


async def test_malformed_commands_are_dead_lettered_and_do_not_block_the_flow(
    requests_service: RunningService, kafka_topics: KafkaSettings
) -> None:
    started = time.monotonic()
    run = uuid.uuid4().hex[:12]
    plan = command_plan(random.Random(SEED), get_territories(), today_utc(), run)
    assert len(plan.bad) >= MIN_COMMAND_CASES
    markers = {case.marker: case for case in plan.bad}
    assert len(markers) == len(plan.bad)
    ignored = {case.marker for case in plan.ignored}
    good, good_value = submissions.command("49")
    good_id = json.loads(good_value)["request_id"]

    def marker(record: Record) -> str | None:
        ce_id = record.headers.get("ce_id")
        if ce_id in markers or ce_id in ignored:
            return ce_id
        key = (record.key or b"").decode("ascii", "replace")
        return key if key in markers else None

    async with submissions.command_outcomes(kafka_topics) as (dead, out):
        await submissions.publish_commands(
            kafka_topics,
            [c.record() for c in plan.bad + plan.ignored]
            + [submissions.command_record(good, good_value)],
        )
        published = time.monotonic()
        await out.collect(lambda rs: any(request_id_of(r) == good_id for r in rs))
        good_after = time.monotonic() - published

        found: set[str] = set()
        scanned = 0

        def all_dead_lettered(records: list[Record]) -> bool:
            nonlocal scanned
            found.update(m for r in records[scanned:] if (m := marker(r)) in markers)
            scanned = len(records)
            return found >= markers.keys()

        try:
            letters = await dead.collect(all_dead_lettered, timeout=45.0, settle=1.5)
        except TimeoutError as exc:
            missing = [
                f"{markers[m].category} / {markers[m].label}" for m in markers if m not in found
            ]
            raise AssertionError(
                f"{len(missing)} bad commands not dead-lettered: {missing}"
            ) from exc
        all_letters_after = time.monotonic() - published
        outputs = await out.collect(lambda rs: True, settle=0.5)

    mine: dict[str, list[Record]] = defaultdict(list)
    for letter in letters:
        if (m := marker(letter)) is not None:
            mine[m].append(letter)
    problems: list[str] = []
    reasons: Counter[str] = Counter()
    reasons_per_category: dict[str, Counter[str]] = defaultdict(Counter)
    for m, case in markers.items():
        copies = mine.get(m, [])
        where = f"{case.category} / {case.label}"
        if len(copies) != 1:
            problems.append(f"{where}: {len(copies)} dead letters")
            continue
        h = copies[0].headers
        reason = h.get("dlq_reason", "")
        reasons[reason] += 1
        reasons_per_category[case.category][reason] += 1
        if reason not in case.reasons:
            problems.append(f"{where}: reason {reason!r}, expected {sorted(case.reasons)}")
        if not h.get("dlq_error", "").strip():
            problems.append(f"{where}: no dlq_error")
        if h.get("dlq_original_topic") != REQUESTS_COMMAND.name:
            problems.append(f"{where}: dlq_original_topic {h.get('dlq_original_topic')!r}")
        if not all(
            h.get(k, "").isdigit()
            for k in ("dlq_original_partition", "dlq_original_offset", "dlq_attempts")
        ):
            problems.append(f"{where}: dlq_* position headers {h}")
        if copies[0].value != (case.value or b""):
            problems.append(f"{where}: the dead letter does not carry the original body")
        if copies[0].key != case.key:
            problems.append(f"{where}: the dead letter does not carry the original key")
    wrongly_lettered = [m for m in ignored if m in mine]
    bad_ids = {c.request_id for c in plan.bad + plan.ignored if c.request_id}
    leaked = [r for r in outputs if request_id_of(r) in bad_ids]
    good_events = [r for r in outputs if request_id_of(r) == good_id]
    async with requests_service.runtime.session_factory() as session:
        stored = [str(i) for i in (await session.execute(select(demandes.c.id))).scalars()]

    per_category = Counter(c.category for c in plan.bad)
    figures = {
        "bad_commands": len(plan.bad),
        "cases_per_category": dict(sorted(per_category.items())),
        "ignored_unknown_types": len(plan.ignored),
        "dead_lettered": sum(len(v) for k, v in mine.items() if k in markers),
        "dlq_reasons": dict(reasons.most_common()),
        "dlq_reasons_per_category": {
            c: dict(v.most_common()) for c, v in sorted(reasons_per_category.items())
        },
        "ignored_but_dead_lettered": len(wrongly_lettered),
        "leaked_to_requests_topic": len(leaked),
        "valid_command_on_topic_after_seconds": round(good_after, 2),
        "all_dead_letters_after_seconds": round(all_letters_after, 2),
        "rows": len(stored),
        "problems": problems,
    }
    report(
        "commands",
        figures,
        started,
        f"commands: {len(plan.bad)} bad + {len(plan.ignored)} of unknown type + 1 valid",
        {c: (n, dict(reasons_per_category[c].most_common())) for c, n in per_category.items()},
    )
    print(f"  DLQ reasons {dict(reasons.most_common())}")
    print(
        f"  valid command on topic after {good_after:.2f} s, all dead letters after "
        f"{all_letters_after:.2f} s, rows {len(stored)}"
    )

    assert problems == [], "\n".join(problems)
    assert wrongly_lettered == [], "unknown types must be skipped, not dead-lettered"
    assert leaked == []
    assert len(good_events) == 1
    assert stored == [good_id]
