"""Hundreds of malformed HTTP submissions to the requests service: every one is refused with
a 4xx, never a 5xx; a 422 explains each field in French; nothing is stored and nothing
is published. Then the inputs that once got a 500 or an English 400, each pinned.

The cases come from a seeded generator (``MG_BAD_INPUT_SEED``), so a failure replays; the
figures go to ``tests/perf/results/requests_bad_input.json``."""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from services.requests.adapters.orm import demandes
from shared.auth.tokens import Role, mint
from shared.contracts.topics import REQUESTS_REQUEST
from shared.messaging.tables import OUTBOX
from shared.refdata import Territories, get_territories
from shared.settings import AuthSettings, KafkaSettings
from tests.integration.bad_input_mutations import js, mutations, unknown_commune, unknown_siren
from tests.integration.bad_input_run import SEED, report, today_utc
from tests.support.kafka_tap import TopicTap
from tests.support.services import RunningService, running_service
from tests.support.submissions import demande_body
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

MIN_HTTP_CASES = 150
HTTP_HUGE = 1024 * 1024

TEAM_49 = bearer(Role.DEPARTEMENT, "49")
ADMIN = bearer(Role.ADMIN, None)

# What an untranslated pydantic, FastAPI or Python message looks like.
ENGLISH = re.compile(
    r"field required|input should|should (be|have)|value error|valid (dictionary|string|"
    r"integer|number|date|list|decimal)|extra inputs|not permitted|invalid json|"
    r"there was an error|is not a valid|unable to|expected|\berror\b",
    re.IGNORECASE,
)
# french_message() falls back to "Valeur invalide (<pydantic type>)." for unmapped types.
VAGUE = re.compile(r"^Valeur invalide \((?P<kind>[a-z_]+)\)\.$")


@dataclass(frozen=True)
class HttpCase:
    category: str
    label: str
    content: bytes
    headers: dict[str, str]
    statuses: frozenset[int]


def http_cases(rng: random.Random, t: Territories, today: date) -> list[HttpCase]:
    cases: list[HttpCase] = []
    for m in mutations(rng, t, today, HTTP_HUGE):
        if m.label.startswith("request_id"):
            continue  # not a field of the HTTP body
        token = TEAM_49 if m.departement == "49" else bearer(Role.DEPARTEMENT, m.departement)
        content = m.payload(demande_body())
        headers = token | {"Content-Type": "application/json"}
        cases.append(HttpCase(m.category, m.label, content, headers, m.http))
    # Unknown codes also for an administrator, whose département comes from the code.
    for code in [unknown_commune(rng, t, "49"), unknown_siren(rng, t), "75999"]:
        content = js(demande_body(requester_code=code))
        headers = ADMIN | {"Content-Type": "application/json"}
        cases.append(HttpCase("unknown_code", f"admin {code}", content, headers, frozenset({422})))

    valid = js(demande_body())
    for content_type in [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/html",
        None,
    ]:
        headers = TEAM_49 | ({"Content-Type": content_type} if content_type else {})
        cases.append(HttpCase("content_type", str(content_type), valid, headers, frozenset({422})))

    json_type = {"Content-Type": "application/json"}
    expired = mint(
        AuthSettings(),
        role=Role.DEPARTEMENT,
        subject="t",
        departement="49",
        ttl=timedelta(hours=-1),
    )
    forged = mint(
        AuthSettings(secret=SecretStr("un-autre-secret-que-celui-du-service-0123456789")),
        role=Role.DEPARTEMENT,
        subject="t",
        departement="49",
    )
    unauthenticated: list[tuple[str, dict[str, str]]] = [
        ("no token", {}),
        ("garbage token", {"Authorization": "Bearer forged"}),
        ("basic auth", {"Authorization": "Basic bWFyaWU6c2VjcmV0"}),
        ("empty bearer", {"Authorization": "Bearer "}),
        ("expired token", {"Authorization": f"Bearer {expired}"}),
        ("wrong signature", {"Authorization": f"Bearer {forged}"}),
    ]
    for label, headers in unauthenticated:
        cases.append(HttpCase("auth_scope", label, valid, headers | json_type, frozenset({401})))
    nantes = rng.choice(t.communes_of("44")).code_insee
    out_of_scope: list[tuple[str, dict[str, str], bytes]] = [
        (
            "collectivité for a neighbour",
            bearer(Role.COLLECTIVITE, "49", "49007"),
            js(demande_body(requester_code="49015")),
        ),
        (
            "collectivité for another département",
            bearer(Role.COLLECTIVITE, "49", "49007"),
            js(demande_body(requester_code=nantes)),
        ),
        ("neighbour for Angers", bearer(Role.COLLECTIVITE, "49", "49015"), valid),
        ("actor", bearer(Role.ACTOR, "49", "caue-49"), valid),
    ]
    for label, headers, content in out_of_scope:
        cases.append(HttpCase("auth_scope", label, content, headers | json_type, frozenset({403})))
    return cases


@pytest.fixture
async def client(requests_service: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sees a server error as the 500 a caller would get, not as an exception."""
    transport = httpx.ASGITransport(app=requests_service.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://requests") as c:
        yield c


async def count(running: RunningService, table: Any) -> int:
    async with running.runtime.session_factory() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


def explanation_problems(status: int, answer: Any) -> list[str]:
    """Why an HTTP refusal does not explain itself in French (empty when it does)."""
    if not isinstance(answer, dict) or not str(answer.get("detail") or "").strip():
        return ["no detail"]
    problems = []
    if ENGLISH.search(str(answer["detail"])):
        problems.append(f"English detail {answer['detail']!r}")
    if status == 422:
        errors = answer.get("errors")
        if not isinstance(errors, list) or not errors:
            return [*problems, "422 without errors"]
        for error in errors:
            message = str(error.get("message") or "")
            if not str(error.get("field") or "").strip() or not message.strip():
                problems.append(f"incomplete error {error!r}")
            elif ENGLISH.search(message):
                problems.append(f"English message {error['field']}: {message!r}")
    return problems


async def test_malformed_http_submissions_are_refused_and_explained(
    requests_service: RunningService, client: httpx.AsyncClient, kafka_topics: KafkaSettings
) -> None:
    started = time.monotonic()
    cases = http_cases(random.Random(SEED), get_territories(), today_utc())
    assert len(cases) >= MIN_HTTP_CASES
    run = uuid.uuid4().hex[:12]
    statuses: Counter[int] = Counter()
    by_category: dict[str, Counter[int]] = defaultdict(Counter)
    unexpected: list[str] = []
    unexplained: list[str] = []
    vague: Counter[str] = Counter()
    not_french: Counter[str] = Counter()
    async with TopicTap(kafka_topics, REQUESTS_REQUEST.name) as tap:
        for n, case in enumerate(cases):
            headers = case.headers | {"X-Correlation-ID": f"bad-http-{run}-{n:04d}"}
            response = await client.post("/v1/requests", content=case.content, headers=headers)
            status = response.status_code
            statuses[status] += 1
            by_category[case.category][status] += 1
            where = f"{case.category} / {case.label} -> {status} {response.text[:300]}"
            if status not in case.statuses or not 400 <= status < 500:
                unexpected.append(where)
                continue
            try:
                answer = response.json()
            except ValueError:
                answer = None
            problems = explanation_problems(status, answer)
            if status == 400 and problems:
                # FastAPI's own "There was an error parsing the body": see known gaps below.
                not_french[case.label] += 1
            elif problems:
                unexplained.append(f"{where}: {problems}")
            for error in (answer or {}).get("errors") or []:
                if match := VAGUE.match(str(error.get("message"))):
                    vague[match["kind"]] += 1
        # Give the relay time to publish anything that slipped through.
        records = await tap.collect(lambda rs: True, settle=1.5)
    ours = [r for r in records if r.headers.get("correlation_id", "").startswith(f"bad-http-{run}")]
    rows = await count(requests_service, demandes)
    outbox = await count(requests_service, OUTBOX)

    figures = {
        "cases": len(cases),
        "cases_per_category": {c: sum(s.values()) for c, s in sorted(by_category.items())},
        "statuses": {str(s): n for s, n in sorted(statuses.items())},
        "statuses_per_category": {
            c: {str(s): n for s, n in sorted(v.items())} for c, v in sorted(by_category.items())
        },
        "server_errors": sum(n for s, n in statuses.items() if s >= 500),
        "unexpected": unexpected,
        "unexplained": unexplained,
        "explained_in_english_only": dict(not_french),
        "vague_messages_by_pydantic_type": dict(vague),
        "rows_written": rows,
        "outbox_rows": outbox,
        "published": len(ours),
    }
    report(
        "http",
        figures,
        started,
        f"HTTP: {len(cases)} malformed submissions, statuses {dict(sorted(statuses.items()))}",
        {c: (sum(n.values()), dict(sorted(n.items()))) for c, n in by_category.items()},
    )
    print(f"  rows {rows}, outbox {outbox}, published {len(ours)}, vague {dict(vague)}")
    print(f"  explained in English only (400 from FastAPI): {sum(not_french.values())}")

    assert unexpected == [], "\n".join(unexpected)
    assert unexplained == [], "\n".join(unexplained)
    assert rows == 0
    assert outbox == 0
    assert ours == []


# ---------------------------------------------------------------------------------------
# Inputs that once got a 500 or an English 400: each is now a clear French refusal, or
# accepted with a fresh correlation id.


def known_gap(reason: str, case_id: str, content: bytes, **headers: str | bytes) -> Any:
    return pytest.param(content, headers, id=f"{case_id} ({reason})")


NUL_IN_DB = "PostgreSQL refuses U+0000: refused before"
CORRELATION = "an unusable X-Correlation-ID is replaced"
FASTAPI_400 = "an unreadable body gets a French 422"


@pytest.fixture(scope="module")
async def gap_client(
    fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> AsyncIterator[httpx.AsyncClient]:
    """One service for all the known gaps: none of them asserts on what is stored."""
    async with running_service("requests", fresh_database, kafka_topics) as running:
        transport = httpx.ASGITransport(app=running.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://requests") as c:
            yield c


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        known_gap(NUL_IN_DB, "nul-in-title", js(demande_body(title="Titre avec \u0000 caché"))),
        known_gap(
            NUL_IN_DB,
            "nul-in-contact",
            js(demande_body(contact={"name": "Ma\u0000rie", "email": "marie@example.fr"})),
        ),
        known_gap(
            CORRELATION,
            "correlation-id-too-long",
            js(demande_body()),
            **{"X-Correlation-ID": "c" * 65},
        ),
        known_gap(
            CORRELATION,
            "correlation-id-not-ascii",
            js(demande_body()),
            **{"X-Correlation-ID": "corrélation".encode()},
        ),
        known_gap(
            FASTAPI_400,
            "body-not-utf8",
            json.dumps(demande_body(), ensure_ascii=False).encode("latin-1"),
        ),
        known_gap(FASTAPI_400, "json-nested-too-deep", b"[" * 100_000 + b"]" * 100_000),
    ],
)
async def test_known_gaps(
    gap_client: httpx.AsyncClient, content: bytes, headers: dict[str, str | bytes]
) -> None:
    sent = TEAM_49 | {"Content-Type": "application/json"} | headers
    response = await gap_client.post("/v1/requests", content=content, headers=sent)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.status_code == 422, response.text
        assert explanation_problems(422, response.json()) == []
