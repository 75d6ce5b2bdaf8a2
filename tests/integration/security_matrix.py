"""The role × endpoint × tenant matrix (ADR 0021): every operation of the four OpenAPI
documents, called by every kind of caller — anonymous, each role, of the département
that owns the resource (49) and of another (35), the collectivité and the actor that own
it and others of the same département — with the status each gets.

Resources of département 49 are created first (a demande of collectivité 49007, its
contact, an adhésion, a webhook subscription; actor ``caue49`` is in the shipped
catalogue); other ids name nothing (a random UUID), and then the table says what a
caller learns about a resource it cannot see. ``docs/security.md`` is this table; the
test checks that it is up to date and that no caller outside the owner's perimeter gets
a success on a write or a body that names the owner's resources.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from shared.auth.tokens import Role
from tests.support.openapi_documents import SERVICES, openapi_document
from tests.support.submissions import demande_body
from tests.support.tokens import bearer

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "security.md"
YEAR = datetime.now(UTC).year
CONTACT = "matrice.49007@example.fr"
NOWHERE = uuid.UUID("00000000-0000-4000-8000-000000000049")


@dataclass(frozen=True)
class Caller:
    key: str
    label: str
    role: Role | None = None
    departement: str | None = None
    scope: str | None = None
    # Inside the owner's perimeter: its own collectivité or actor, its team, an admin.
    owner: bool = False

    def headers(self) -> dict[str, str]:
        return {} if self.role is None else bearer(self.role, self.departement, self.scope)


# In calling order: the owner's own callers last, so that a write of theirs that removes
# the resource (a withdrawal, a deletion) happens after everybody else has tried.
CALLERS = (
    Caller("anonyme", "anonyme"),
    Caller("coll35", "collectivité 35238 (35)", Role.COLLECTIVITE, "35", "35238"),
    Caller("acteur35", "acteur caue35 (35)", Role.ACTOR, "35", "caue35"),
    Caller("equipe35", "équipe 35", Role.DEPARTEMENT, "35"),
    Caller("coll49b", "autre collectivité 49015 (49)", Role.COLLECTIVITE, "49", "49015"),
    Caller("acteur49b", "autre acteur sieml (49)", Role.ACTOR, "49", "sieml"),
    Caller("coll49", "collectivité 49007 (49)", Role.COLLECTIVITE, "49", "49007", owner=True),
    Caller("acteur49", "acteur caue49 (49)", Role.ACTOR, "49", "caue49", owner=True),
    Caller("equipe49", "équipe 49", Role.DEPARTEMENT, "49", owner=True),
    Caller("admin", "administrateur", Role.ADMIN, owner=True),
)

# Their own signed link (an unsubscribe, a survey) is the credential.
PUBLIC = {"/health/live", "/health/ready", "/v1/unsubscribe", "/v1/surveys/{token}"}


@dataclass
class Resources:
    """Département 49's resources the operations are called on."""

    ids: dict[str, str] = field(default_factory=dict)

    def markers(self) -> set[str]:
        """What must never appear in an answer to a caller outside the perimeter."""
        return set(self.ids.values()) | {CONTACT}


def actor_card(actor_id: str = "caue49") -> dict[str, Any]:
    return {
        "id": actor_id,
        "departement": "49",
        "name": "CAUE de Maine-et-Loire",
        "kind": "caue",
        "themes": {"urbanisme": 2},
        "phases": ["idee"],
        "territory": {"departements": ["49"]},
        "capacity": 3,
    }


def body_of(service: str, method: str, path: str) -> Any:
    """A body that passes the schema, aimed at département 49's resources."""
    soon = (date.today() + timedelta(days=30)).isoformat()
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/v1/requests"): demande_body(contact={"name": "Marie", "email": CONTACT}),
        ("POST", "/v1/requests/{request_id}/withdraw"): {"reason": "Plus nécessaire."},
        ("POST", "/v1/requests/{request_id}/next-phase"): {},
        ("PUT", "/v1/actors"): {"departement": "49", "actors": [actor_card()]},
        ("PUT", "/v1/actors/{actor_id}"): actor_card(),
        ("POST", "/v1/assignments/{assignment_id}/accept"): {},
        ("POST", "/v1/assignments/{assignment_id}/decline"): {"reason": "Pas disponible."},
        ("POST", "/v1/assignments/{assignment_id}/complete"): {"days_spent": "2"},
        ("POST", "/v1/missions/{assignment_id}/milestones"): {"title": "Jalon", "due_on": soon},
        ("PATCH", "/v1/missions/{assignment_id}/milestones/{milestone_id}"): {"title": "J"},
        ("POST", "/v1/missions/{assignment_id}/milestones/{milestone_id}/done"): {},
        ("POST", "/v1/actors/{actor_id}/handover"): {"from_agent": "a", "to_agent": "b"},
        ("POST", "/v1/adhesions"): {
            "collectivite_code": "49007",
            "year": YEAR,
            "departement": "49",
        },
        ("POST", "/v1/adhesions/{adhesion_id}/end"): {"reason": "Fin."},
        ("PUT", "/v1/tariffs"): {"departement": "49", "year": YEAR},
        ("POST", "/v1/invoices/{invoice_id}/cancel"): {"reason": "Erreur."},
        ("POST", "/v1/cotisation-runs"): {"year": YEAR, "departements": ["49"]},
        ("POST", "/v1/conventions/{convention_id}/send"): {},
        ("POST", "/v1/conventions/{convention_id}/sign"): {"engagement_number": "EJ-1"},
        ("POST", "/v1/conventions/{convention_id}/refuse"): {"reason": "Non."},
        ("POST", "/v1/conventions/{convention_id}/amend"): {
            "price_delta": "10",
            "reason": "Avenant.",
        },
        ("POST", "/v1/webhooks"): {
            "url": "http://hooks.example.org:9/matrice",
            "event_types": ["requests.request.submitted.v1"],
            "departement": "49",
        },
        ("PUT", "/v1/actors/{actor_id}/contact"): {"email": "caue@example.fr", "departement": "49"},
        ("PUT", "/v1/teams/{departement}/contact"): {"email": "equipe49@example.fr"},
        ("POST", "/v1/departements/{departement}/contacts/search"): {"email": CONTACT},
        ("PUT", "/v1/departements/{departement}/contacts/{contact_id}/preferences"): {
            "digest": "daily"
        },
    }
    return bodies.get((method, path))


def fill(path: str, resources: Resources) -> str:
    values = {
        "departement": "49",
        "year": str(YEAR),
        "actor_id": "caue49",
        **resources.ids,
    }
    for name in [p[1:-1] for p in path.split("/") if p.startswith("{")]:
        path = path.replace("{" + name + "}", values.get(name, str(NOWHERE)))
    return path


def query_of(operation: Mapping[str, Any], resources: Resources) -> dict[str, str]:
    values = {
        "name": "plan.pdf",
        "token": f"{NOWHERE.hex}.x",
        "departement": "49",
        "year": str(YEAR),
        **resources.ids,
    }
    return {
        p["name"]: values.get(p["name"], "49")
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }


@dataclass(frozen=True)
class Cell:
    status: int
    leaked: bool


@dataclass(frozen=True)
class Row:
    service: str
    method: str
    path: str
    cells: dict[str, Cell]


def operations() -> Iterable[tuple[str, str, str, dict[str, Any]]]:
    for service in SERVICES:
        for path, methods in openapi_document(service)["paths"].items():
            for method, operation in methods.items():
                yield service, method.upper(), path, operation


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    operation: Mapping[str, Any],
    caller: Caller,
    resources: Resources,
    service: str,
) -> httpx.Response:
    url = fill(path, resources)
    content = operation.get("requestBody", {}).get("content", {})
    headers = caller.headers()
    if "application/octet-stream" in content:
        headers["Content-Type"] = "application/pdf"
        return await client.request(
            method,
            url,
            params=query_of(operation, resources),
            content=b"%PDF-1.4\n%%EOF\n",
            headers=headers,
        )
    body = body_of(service, method, path)
    if content and body is None:
        body = {}
    return await client.request(
        method, url, params=query_of(operation, resources), json=body, headers=headers
    )


async def run(clients: Mapping[str, httpx.AsyncClient], resources: Resources) -> list[Row]:
    rows = []
    markers = resources.markers()
    for service, method, path, operation in operations():
        cells = {}
        for caller in CALLERS:
            answer = await call(
                clients[service], method, path, operation, caller, resources, service
            )
            leaked = not caller.owner and any(m in answer.text for m in markers)
            cells[caller.key] = Cell(answer.status_code, leaked)
        rows.append(Row(service, method, path, cells))
    return rows


def violations(rows: list[Row]) -> list[str]:
    """What the matrix must never show."""
    found = []
    for row in rows:
        for caller in CALLERS:
            cell = row.cells[caller.key]
            at = f"{row.method} {row.path} as {caller.label}: {cell.status}"
            if caller.role is None and row.path not in PUBLIC and cell.status != 401:
                found.append(f"{at} (anonymous, expected 401)")
            if caller.owner or caller.role is None:
                continue
            if cell.leaked:
                found.append(f"{at} (an answer names département 49's resources)")
            if row.method != "GET" and 200 <= cell.status < 300:
                found.append(f"{at} (a write outside the owner's perimeter succeeded)")
    return found


def render(rows: list[Row]) -> str:
    lines = [
        "# Who may call what: the role × endpoint × tenant matrix",
        "",
        "Generated by `tests/integration/test_security_matrix.py` (ADR 0021); rewrite it with",
        "`MG_SECURITY_MATRIX_WRITE=1 .venv/bin/python -m pytest "
        "tests/integration/test_security_matrix.py`.",
        "Do not edit by hand: the test fails when this file and the services disagree.",
        "",
        "Every operation of the four services' OpenAPI documents, called on the resources of",
        "département 49 (a demande and the contact of collectivité 49007, its adhésion, a",
        "webhook subscription, the actor `caue49`; other ids name nothing) by each caller.",
        "The owner's perimeter: collectivité 49007, actor caue49, team 49, administrator.",
        "Outside it, the test checks that no write succeeds and no answer names the owner's",
        "resources. 401: no or bad token; 403: the role or the scope refuses; 404: unknown",
        "or out of scope; 422: the body or parameters are refused (the check of the role or",
        "scope may come later); 409: the state refuses.",
        "",
    ]
    header = "| service | opération | " + " | ".join(c.label for c in CALLERS) + " |"
    lines += [header, "|" + " --- |" * (len(CALLERS) + 2)]
    for row in rows:
        cells = " | ".join(str(row.cells[c.key].status) for c in CALLERS)
        lines.append(f"| {row.service} | `{row.method} {row.path}` | {cells} |")
    return "\n".join(lines) + "\n"
