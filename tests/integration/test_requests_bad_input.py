"""Hundreds of malformed submissions, by HTTP and by command event: none gets in, none is lost.

HTTP: every generated request is refused with a 4xx, never a 5xx; a 422 explains each
field in French; nothing is stored and nothing is published. Commands: every bad record
reaches the dead-letter topic with its reason, and a valid command published behind them
is still processed. The cases come from a seeded generator (``MG_BAD_INPUT_SEED``), so a
failure replays; the figures go to ``tests/perf/results/requests_bad_input.json``.
"""

from __future__ import annotations

import json
import os
import random
import re
import string
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from services.requests.adapters.orm import demandes
from shared.auth.tokens import Role, mint
from shared.contracts.topics import REQUESTS_COMMAND, REQUESTS_REQUEST, dead_letter_topic
from shared.contracts.vocabulary import Theme
from shared.messaging.envelope import Envelope
from shared.messaging.tables import OUTBOX
from shared.refdata import Territories, get_territories
from shared.settings import AuthSettings, KafkaSettings
from tests.component.test_requests_api import as_record, body, command
from tests.support.kafka_tap import Record, TopicTap, publish_raw
from tests.support.services import RunningService, running_requests_service
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

SEED = int(os.environ.get("MG_BAD_INPUT_SEED", "20261125"))
RESULTS = Path(__file__).resolve().parents[1] / "perf" / "results" / "requests_bad_input.json"
SUMMARY: dict[str, Any] = {"seed": SEED}

MIN_HTTP_CASES = 150
MIN_COMMAND_CASES = 100
HTTP_HUGE = 1024 * 1024
# A command and its dead letter (original headers plus dlq_*) must fit the broker's 1 MB.
COMMAND_HUGE = 900_000

SUBMIT_TYPE = "requests.command.submit-request.v1"
DLQ = dead_letter_topic(REQUESTS_COMMAND.name, "requests")
# Schema-level refusals (pydantic) and domain refusals of a command.
SCHEMA = frozenset({"invalid_payload"})
DOMAIN = frozenset({"invalid_command"})
# A refusal that only the database makes: dead-lettered, but as a handler error.
DATABASE = frozenset({"invalid_payload", "invalid_command", "handler_error"})

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


def js(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def text(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(string.ascii_letters + " éèàçôû", k=n))


# ---------------------------------------------------------------------------------------
# The generated cases.


@dataclass(frozen=True)
class Mutation:
    """One malformed payload: ``make`` turns a valid body into a broken dict, value or bytes."""

    category: str
    label: str
    make: Callable[[dict[str, Any]], Any]
    # What the command consumer must answer; HTTP answers 422 to all of them unless said.
    reasons: frozenset[str] = SCHEMA
    http: frozenset[int] = frozenset({422})
    departement: str = "49"  # the token's (HTTP) or the envelope's (command) département

    def payload(self, valid: dict[str, Any]) -> bytes:
        made = self.make(valid)
        return made if isinstance(made, bytes) else js(made)


def put(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda d: d | changes


def drop(*keys: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda d: {k: v for k, v in d.items() if k not in keys}


def in_contact(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda d: d | {"contact": {**d["contact"], **changes}}


def bytes_of(edit: Callable[[bytes], bytes]) -> Callable[[dict[str, Any]], bytes]:
    return lambda d: edit(js(d))


def truncated(fraction: float) -> Callable[[dict[str, Any]], bytes]:
    def make(d: dict[str, Any]) -> bytes:
        whole = js(d)
        return whole[: max(1, int(len(whole) * fraction))]

    return make


def raw_field(name: str, literal: bytes) -> Callable[[dict[str, Any]], bytes]:
    """The body with ``name`` set to a JSON literal that Python's json cannot produce."""
    return lambda d: js(d | {name: "@@raw@@"}).replace(b'"@@raw@@"', literal)


def in_title(bad: bytes) -> Callable[[dict[str, Any]], bytes]:
    return lambda d: js(d).replace(d["title"][:3].encode(), d["title"][:1].encode() + bad, 1)


def unknown_commune(rng: random.Random, t: Territories, prefix: str) -> str:
    while True:
        code = f"{prefix}{rng.randrange(1000):03d}"
        if t.requester(code) is None:
            return code


def unknown_siren(rng: random.Random, t: Territories) -> str:
    while True:
        code = str(rng.randrange(10**8, 10**9))
        if t.requester(code) is None:
            return code


def mutations(rng: random.Random, t: Territories, today: date, huge: int) -> list[Mutation]:
    """The malformed payloads common to both channels, drawn from ``rng``."""
    out: list[Mutation] = []

    def add(category: str, label: str, make: Callable[[dict[str, Any]], Any], **kw: Any) -> None:
        out.append(Mutation(category, label, make, **kw))

    # Missing fields, one or several at a time.
    required = ["requester_code", "contact", "title", "description", "themes", "phase"]
    for name in required:
        add("missing_field", f"no {name}", drop(name))
    add("missing_field", "no contact.name", lambda d: d | {"contact": {"email": "a@b.fr"}})
    add("missing_field", "no contact.email", lambda d: d | {"contact": {"name": "Marie"}})
    add("missing_field", "empty object", lambda d: {})
    for _ in range(4):
        gone = rng.sample(required, rng.randint(2, 5))
        add("missing_field", f"no {'+'.join(gone)}", drop(*gone))

    # Wrong types: numbers for strings, strings for lists, nested garbage.
    garbage: list[Any] = [{"a": [1, {"b": None}]}, [[[]]], {"$gt": ""}, [None, {}], {"": []}]
    wrong: dict[str, list[Any]] = {
        "requester_code": [49007, 4.9007e4, True, None, ["49007"], {"code": "49007"}],
        "contact": ["Marie Dupont", 42, None, [], ["marie@example.fr"], True],
        "title": [12345, 3.14, False, None, ["Titre valide"], {"fr": "Titre valide"}],
        "description": [1e10, True, None, ["une", "liste"], {"texte": "Une description"}],
        "themes": ["energie", 7, None, {"energie": True}, [1, 2], [["energie"]], [None]],
        "phase": [1, None, ["faisabilite"], {"phase": "faisabilite"}, 0.5, False],
        "estimated_budget": ["cent mille", [100], {"montant": 100}, True, "12,50", "1 000"],
        "wished_start": ["demain", True, [2030, 1, 1], {"annee": 2030}, 1.5],
        "wished_end": ["jamais", False, ["2030-01-01"], {"jour": 1}],
    }
    for name, values in wrong.items():
        for value in [*values, rng.choice(garbage)]:
            add("wrong_type", f"{name}={json.dumps(value)[:30]}", put(**{name: value}))
    add("wrong_type", "contact.name=[]", in_contact(name=["Marie"]))
    add("wrong_type", "contact.email=42", in_contact(email=42))
    add("wrong_type", "contact.phone=612345678", in_contact(phone=612345678))

    # Unknown INSEE codes and SIRENs, well formed.
    for prefix in ["49", "49", "49", "44", "2A", "97", "00", "99"]:
        add(
            "unknown_code",
            f"commune {prefix}xxx",
            put(requester_code=unknown_commune(rng, t, prefix)),
            reasons=DOMAIN,
        )
    for _ in range(5):
        add("unknown_code", "siren", put(requester_code=unknown_siren(rng, t)), reasons=DOMAIN)

    # Wrong formats.
    codes = [
        "4900",
        "490071",
        "ABCDE",
        "2C004",
        "2a004",
        "٤٩٠٠٧",
        "49 07",
        "49-007",
        "49007 ",
        "",
        "1234567890",
        "24490001X",
        "49\u0000007",
        "0x49007",
    ]
    for code in rng.sample(codes, 11):
        reasons = SCHEMA if not 5 <= len(code) <= 9 else DOMAIN
        add("bad_format", f"requester_code={code!r}", put(requester_code=code), reasons=reasons)
    for email in [
        "pas-une-adresse",
        "marie@",
        "@example.fr",
        "marie@@example.fr",
        "marie dupont@x.fr",
    ]:
        add("bad_format", f"email={email!r}", in_contact(email=email))
    for phone in ["abc", "12", "06 12 34 56 78 90 12 34 56 78 90 12", "+33#612"]:
        add("bad_format", f"phone={phone!r}", in_contact(phone=phone))
    add("bad_format", "request_id=abc", put(request_id="pas-un-uuid"))

    # A commune or EPCI of another département than the token's or envelope's.
    others = [c for c in t.communes() if c.departement_code != "49"]
    for commune in rng.sample(others, 8):
        add(
            "other_departement",
            f"commune {commune.code_insee}",
            put(requester_code=commune.code_insee),
            reasons=DOMAIN,
        )
    for dep in ["2A", "974"]:
        code = rng.choice(t.communes_of(dep)).code_insee
        add("other_departement", f"commune {code}", put(requester_code=code), reasons=DOMAIN)
    foreign_epcis = [e for e in t.epcis() if "49" not in e.departement_codes]
    for epci in rng.sample(foreign_epcis, 3):
        add(
            "other_departement",
            f"epci {epci.siren}",
            put(requester_code=epci.siren),
            reasons=DOMAIN,
        )
    for dep in ["44", "75", "2B"]:
        add(
            "other_departement",
            f"49007 for {dep}",
            put(requester_code="49007"),
            reasons=DOMAIN,
            departement=dep,
        )

    # Oversized fields.
    for _ in range(3):
        add("oversized", "title", put(title=text(rng, rng.randint(201, 4000))))
        add("oversized", "description", put(description=text(rng, rng.randint(5001, 60000))))
    add("oversized", "contact.name", in_contact(name=text(rng, rng.randint(121, 500))))
    add("oversized", "contact.role", in_contact(role=text(rng, rng.randint(121, 500))))
    add("oversized", "requester_code", put(requester_code="4" * rng.randint(10, 300)))
    add("oversized", "7 themes", put(themes=[th.value for th in Theme][:7]))
    add("oversized", "5000 themes", put(themes=["energie"] * 5000))

    # Huge bodies (about 1 MB).
    add("huge_body", "description", put(description="é" * (huge // 2)))
    add("huge_body", "title", put(title="A" * huge))
    add("huge_body", "extra field", put(piece_jointe="Q" * huge))
    add("huge_body", "themes", put(themes=["urbanisme"] * (huge // 13)))

    # Unknown themes and phases.
    for themes in [
        ["tourisme"],
        ["ENERGIE"],
        ["énergie"],
        [""],
        ["energie", "spatial"],
        ["energie "],
    ]:
        add("unknown_theme_phase", f"themes={themes}", put(themes=themes))
    for phase in ["etude", "FAISABILITE", "", "travaux ", "phase-1"]:
        add("unknown_theme_phase", f"phase={phase!r}", put(phase=phase))

    # Budgets: negative, huge, too precise, not a number.
    for value in [
        "-0.01",
        -1,
        "1000000000.01",
        10**12,
        "123.456",
        0.001,
        "NaN",
        "Infinity",
        "-Infinity",
        "abc",
        "123456789012345",
        "1e-7",
        "0x10",
    ]:
        add("budget", f"budget={value!r}", put(estimated_budget=value))
    add("budget", "budget=1e400", raw_field("estimated_budget", b"1e400"))
    add("budget", "budget=-1e999", raw_field("estimated_budget", b"-1e999"))

    # Dates in the past, end before start, invalid, too far.
    past = today - timedelta(days=rng.randint(1, 4000))
    later = today + timedelta(days=rng.randint(30, 300))
    year = today.year + 1
    add("dates", "start in the past", put(wished_start=past.isoformat()), reasons=DOMAIN)
    add(
        "dates",
        "end in the past",
        put(wished_start=None, wished_end=past.isoformat()),
        reasons=DOMAIN,
    )
    add(
        "dates",
        "end before start",
        put(wished_start=later.isoformat(), wished_end=(later - timedelta(days=1)).isoformat()),
        reasons=DOMAIN,
    )
    add(
        "dates",
        "more than ten years",
        put(wished_start=None, wished_end=(today + timedelta(days=3700)).isoformat()),
        reasons=DOMAIN,
    )
    add("dates", "epoch 0", put(wished_start=0), reasons=DOMAIN)
    for value in [
        f"{year}-02-30",
        f"{year}-13-01",
        f"31/12/{year}",
        "",
        f"{year}-1-1",
        f"{year}-06-01T10:30:00",
        "aujourd'hui",
    ]:
        add("dates", f"date={value!r}", put(wished_start=value))

    # Fields that are not part of a submission.
    for name, value in rng.sample(
        [
            ("id", str(uuid.UUID(int=rng.getrandbits(128)))),
            ("status", "accepted"),
            ("departement", "49"),
            ("requester_name", "Angers"),
            ("channel", "api"),
            ("__proto__", {"admin": True}),
            ("submitted_by", "admin:root"),
        ],
        6,
    ):
        add("extra_field", name, put(**{name: value}))
    add("extra_field", "contact.telephone", in_contact(telephone="0241000000"))

    # Broken JSON.
    for _ in range(4):
        add("broken_json", "truncated", truncated(rng.uniform(0.01, 0.99)))
    add("broken_json", "trailing comma", bytes_of(lambda b: b[:-1] + b",}"))
    add("broken_json", "single quotes", bytes_of(lambda b: b.replace(b'"', b"'")))
    add("broken_json", "unquoted key", bytes_of(lambda b: b.replace(b'"title"', b"title")))
    add("broken_json", "comment", bytes_of(lambda b: b"// demande\n" + b))
    add("broken_json", "two objects", bytes_of(lambda b: b + b))
    add("broken_json", "undefined", raw_field("phase", b"undefined"))
    add("broken_json", "NaN literal", raw_field("estimated_budget", b"NaN"))
    add("broken_json", "open brace", lambda d: b"{")
    add("broken_json", "close brace", lambda d: b"}")
    add("broken_json", "empty body", lambda d: b"")
    add(
        "broken_json",
        "deep nesting",
        lambda d: b"[" * 100_000 + b"]" * 100_000,
        http=frozenset({400, 422}),
    )
    add(
        "broken_json",
        "5000-digit integer",
        raw_field("estimated_budget", b"9" * 5000),
        http=frozenset({400, 422}),
    )

    # Bytes that are not UTF-8 (HTTP: FastAPI answers 400 before our handlers).
    not_utf8 = frozenset({400, 422})
    add(
        "non_utf8",
        "latin-1 body",
        lambda d: json.dumps(d, ensure_ascii=False).encode("latin-1"),
        http=not_utf8,
    )
    for bad in [b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80", b"\x92"]:
        add("non_utf8", f"title with {bad!r}", in_title(bad), http=not_utf8)
    add("non_utf8", "lone surrogate escape", in_title(b"\\ud800"))

    # JSON that is not an object.
    for value in [[], [0], 42, -1.5, None, "texte", True]:
        add("not_an_object", json.dumps(value), lambda d, v=value: v)
    add("not_an_object", "list of the body", lambda d: [d])
    return out


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
        content = m.payload(body())
        headers = token | {"Content-Type": "application/json"}
        cases.append(HttpCase(m.category, m.label, content, headers, m.http))
    # Unknown codes also for an administrator, whose département comes from the code.
    for code in [unknown_commune(rng, t, "49"), unknown_siren(rng, t), "75999"]:
        content = js(body(requester_code=code))
        headers = ADMIN | {"Content-Type": "application/json"}
        cases.append(HttpCase("unknown_code", f"admin {code}", content, headers, frozenset({422})))

    valid = js(body())
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
            js(body(requester_code="49015")),
        ),
        (
            "collectivité for another département",
            bearer(Role.COLLECTIVITE, "49", "49007"),
            js(body(requester_code=nantes)),
        ),
        ("neighbour for Angers", bearer(Role.COLLECTIVITE, "49", "49015"), valid),
        ("actor", bearer(Role.ACTOR, "49", "caue-49"), valid),
    ]
    for label, headers, content in out_of_scope:
        cases.append(HttpCase("auth_scope", label, content, headers | json_type, frozenset({403})))
    return cases


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
        return body(request_id=request_id), request_id

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


# ---------------------------------------------------------------------------------------
# Helpers.


@pytest.fixture
async def service(
    fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings
) -> AsyncIterator[RunningService]:
    async with running_requests_service(fresh_database, kafka_topics) as running:
        yield running


@pytest.fixture
async def client(service: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sees a server error as the 500 a caller would get, not as an exception."""
    transport = httpx.ASGITransport(app=service.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://requests") as c:
        yield c


async def count(service: RunningService, table: Any) -> int:
    async with service.runtime.session_factory() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


def write_summary() -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(SUMMARY, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


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


def request_id_of(record: Record) -> str | None:
    """The demande a record on the shared requests topic is about, if it says."""
    try:
        payload = record.json()
    except ValueError:
        return None
    return payload.get("request_id") if isinstance(payload, dict) else None


def today_utc() -> date:
    return datetime.now(UTC).date()


# ---------------------------------------------------------------------------------------
# The tests.


async def test_malformed_http_submissions_are_refused_and_explained(
    service: RunningService, client: httpx.AsyncClient, kafka_topics: KafkaSettings
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
    rows = await count(service, demandes)
    outbox = await count(service, OUTBOX)

    SUMMARY["http"] = {
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
        "seconds": round(time.monotonic() - started, 1),
    }
    write_summary()
    print(f"\nHTTP: {len(cases)} malformed submissions, statuses {dict(sorted(statuses.items()))}")
    for category, counts in sorted(by_category.items()):
        print(f"  {category:22} {sum(counts.values()):4}  {dict(sorted(counts.items()))}")
    print(f"  rows {rows}, outbox {outbox}, published {len(ours)}, vague {dict(vague)}")
    print(f"  explained in English only (400 from FastAPI): {sum(not_french.values())}")

    assert unexpected == [], "\n".join(unexpected)
    assert unexplained == [], "\n".join(unexplained)
    assert rows == 0
    assert outbox == 0
    assert ours == []


async def test_malformed_commands_are_dead_lettered_and_do_not_block_the_flow(
    service: RunningService, kafka_topics: KafkaSettings
) -> None:
    started = time.monotonic()
    run = uuid.uuid4().hex[:12]
    plan = command_plan(random.Random(SEED), get_territories(), today_utc(), run)
    assert len(plan.bad) >= MIN_COMMAND_CASES
    markers = {case.marker: case for case in plan.bad}
    assert len(markers) == len(plan.bad)
    ignored = {case.marker for case in plan.ignored}
    good, good_value = command("49")
    good_id = json.loads(good_value)["request_id"]

    def marker(record: Record) -> str | None:
        ce_id = record.headers.get("ce_id")
        if ce_id in markers or ce_id in ignored:
            return ce_id
        key = (record.key or b"").decode("ascii", "replace")
        return key if key in markers else None

    async with (
        TopicTap(kafka_topics, DLQ) as dead,
        TopicTap(kafka_topics, REQUESTS_REQUEST.name) as out,
    ):
        await publish_raw(
            kafka_topics,
            REQUESTS_COMMAND.name,
            [c.record() for c in plan.bad + plan.ignored] + [as_record(good, good_value)],
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
    async with service.runtime.session_factory() as session:
        stored = [str(i) for i in (await session.execute(select(demandes.c.id))).scalars()]

    per_category = Counter(c.category for c in plan.bad)
    SUMMARY["commands"] = {
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
        "seconds": round(time.monotonic() - started, 1),
    }
    write_summary()
    print(f"\ncommands: {len(plan.bad)} bad + {len(plan.ignored)} of unknown type + 1 valid")
    for category, n in sorted(per_category.items()):
        print(f"  {category:22} {n:4}  {dict(reasons_per_category[category].most_common())}")
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
    async with running_requests_service(fresh_database, kafka_topics) as running:
        transport = httpx.ASGITransport(app=running.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://requests") as c:
            yield c


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        known_gap(NUL_IN_DB, "nul-in-title", js(body(title="Titre avec \u0000 caché"))),
        known_gap(
            NUL_IN_DB,
            "nul-in-contact",
            js(body(contact={"name": "Ma\u0000rie", "email": "marie@example.fr"})),
        ),
        known_gap(
            CORRELATION, "correlation-id-too-long", js(body()), **{"X-Correlation-ID": "c" * 65}
        ),
        known_gap(
            CORRELATION,
            "correlation-id-not-ascii",
            js(body()),
            **{"X-Correlation-ID": "corrélation".encode()},
        ),
        known_gap(
            FASTAPI_400,
            "body-not-utf8",
            json.dumps(body(), ensure_ascii=False).encode("latin-1"),
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
