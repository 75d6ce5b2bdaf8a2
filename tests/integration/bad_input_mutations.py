"""Malformed submissions of a demande, common to the HTTP and the command tests: each
``Mutation`` breaks a valid body in one way (missing or mistyped fields, unknown or foreign
codes, oversized or huge values, broken JSON, bytes that are not UTF-8...), drawn from a
seeded generator so that a failure replays."""

from __future__ import annotations

import json
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from shared.contracts.vocabulary import Theme
from shared.refdata import Territories

# Schema-level refusals (pydantic) and domain refusals of a command.
SCHEMA = frozenset({"invalid_payload"})
DOMAIN = frozenset({"invalid_command"})
# A refusal that only the database makes: dead-lettered, but as a handler error.
DATABASE = frozenset({"invalid_payload", "invalid_command", "handler_error"})


def js(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def text(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(string.ascii_letters + " éèàçôû", k=n))


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
    foreign_epcis = [e for e in t.epcis() if "49" not in e.departement_codes]
    foreign = (
        [("commune", c.code_insee) for c in rng.sample(others, 8)]
        + [("commune", rng.choice(t.communes_of(dep)).code_insee) for dep in ["2A", "974"]]
        + [("epci", e.siren) for e in rng.sample(foreign_epcis, 3)]
    )
    for kind, code in foreign:
        add("other_departement", f"{kind} {code}", put(requester_code=code), reasons=DOMAIN)
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

    # Huge bodies (about 1 MB): over HTTP, the body guard answers 413 before reading them
    # (ADR 0021).
    too_large = frozenset({413})
    add("huge_body", "description", put(description="é" * (huge // 2)), http=too_large)
    add("huge_body", "title", put(title="A" * huge), http=too_large)
    add("huge_body", "extra field", put(piece_jointe="Q" * huge), http=too_large)
    add("huge_body", "themes", put(themes=["urbanisme"] * (huge // 13)), http=too_large)

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
