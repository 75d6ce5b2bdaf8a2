"""A demande as the portal shows it: what requests, matching and billing each know of it,
gathered on the signed-in person's behalf (each service checks that person's scope)."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any

from services.portal.domain.labels import ASSIGNMENT_STATUSES, DOCUMENT_KINDS
from services.portal.domain.session import Session
from services.portal.service_layer.ports import Services


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    number: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))


@dataclass
class DemandeFile:
    demande: dict[str, Any]
    missions: list[dict[str, Any]] = field(default_factory=list)
    conventions: list[dict[str, Any]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)


def draft_of(form: dict[str, Any], themes: list[str]) -> dict[str, Any]:
    """The body of ``POST /v1/requests`` from the demande form; the service validates it."""

    def text(name: str) -> str | None:
        value = str(form.get(name) or "").strip()
        return value or None

    contact = {"name": text("contact_name") or "", "email": text("contact_email") or ""}
    if text("contact_phone"):
        contact["phone"] = text("contact_phone") or ""
    body: dict[str, Any] = {
        "requester_code": text("requester_code") or "",
        "contact": contact,
        "title": text("title") or "",
        "description": text("description") or "",
        "themes": themes,
        "phase": text("phase") or "",
    }
    budget = text("estimated_budget")
    if budget:
        body["estimated_budget"] = budget.replace(" ", "").replace("\u202f", "").replace(",", ".")
    for name in ("wished_start", "wished_end"):
        if text(name):
            body[name] = text(name)
    return body


async def list_page(
    api: Services, session: Session, filters: dict[str, str | None], number: int, size: int
) -> Page:
    params = filters | {"limit": size, "offset": (number - 1) * size}
    found = await api.call("requests", "GET", "/v1/requests", session.token, params=params)
    return Page(found["items"], found["total"], number, size)


async def demande_file(api: Services, session: Session, request_id: str) -> DemandeFile:
    """The demande and, where the person may see them, its missions, conventions, invoices."""
    token = session.token
    demande = await api.call("requests", "GET", f"/v1/requests/{request_id}", token)
    missions, conventions, invoices = await asyncio.gather(
        api.call("matching", "GET", "/v1/missions", token, params={"request_id": request_id}),
        api.call("billing", "GET", "/v1/conventions", token, params={"demande_id": request_id}),
        api.call(
            "billing",
            "GET",
            "/v1/invoices",
            token,
            params={"collectivite": demande["requester_code"], "limit": 1000},
        ),
    )
    mine = [i for i in invoices if i.get("request_id") == request_id]
    found = DemandeFile(demande, missions, conventions, mine)
    found.events = _events(found)
    return found


def _events(f: DemandeFile) -> list[tuple[str, str]]:
    """What happened to the demande, oldest first: (ISO time, what)."""
    d = f.demande
    events = [(d["submitted_at"], "Demande déposée")]
    for a in d.get("assignments", []):
        status = ASSIGNMENT_STATUSES.get(a["status"], a["status"])
        events.append((a["updated_at"], f"Mise en relation avec {a['actor_name']} : {status}"))
    for m in f.missions:
        events += [(e["at"], e["label"]) for e in m["events"]]
    for c in f.conventions:
        events.append((c["prepared_at"], f"Convention {c['number']} préparée"))
        if c.get("sent_at"):
            events.append((c["sent_at"], f"Convention {c['number']} envoyée pour signature"))
        if c.get("signed_at"):
            events.append((c["signed_at"], f"Convention {c['number']} signée"))
    for i in f.invoices:
        events.append(
            (
                i["issued_at"],
                f"{DOCUMENT_KINDS.get(i['document_kind'], 'Document')} {i['number']} émise",
            )
        )
    return sorted(events)
