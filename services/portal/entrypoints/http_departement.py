"""The département agent's pages: the board of demandes (by status and commune, search,
pages), a demande's file with its convention to send, the demandes left without an actor
and why, the actor catalogue, the adhésions, the invoices and credit notes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.portal.bootstrap import ApiError
from services.portal.domain import labels
from services.portal.entrypoints.web import (
    demande_page,
    field_errors,
    form_of,
    portal,
    redirect,
    render,
    session_of,
)
from services.portal.service_layer import demandes
from services.portal.service_layer.territories import search

router = APIRouter(prefix="/departement")
ROLE = "departement"
HOME = ("Tableau des demandes", "/departement")
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
Filter = Annotated[str | None, Query(max_length=100)]


async def _slice(
    request: Request, token: str, service: str, path: str, page: int
) -> tuple[list[dict[str, Any]], bool]:
    """One page of a list that gives no total: its items, and whether more follow."""
    size = portal(request).settings.page_size
    params = {"limit": size + 1, "offset": (page - 1) * size}
    found: list[dict[str, Any]] = await portal(request).api.call(
        service, "GET", path, token, params=params
    )
    return found[:size], len(found) > size


@router.get("")
async def board(
    request: Request,
    page: PageNumber = 1,
    status: Filter = None,
    commune: Filter = None,
    notice: str | None = None,
) -> Response:
    session = session_of(request, ROLE)
    p = portal(request)
    status = status if status in labels.REQUEST_STATUSES else None
    code = (commune or "").strip()
    searched: list[dict[str, str]] = []
    if code and not code.isdigit():
        # A name: the communes and EPCI of the département it may be.
        searched = search(p.territories, code, session.departement)
        code = searched[0]["code"] if len(searched) == 1 else ""
    filters: dict[str, str | None] = {"status": status, "commune": code or None}
    found = await demandes.list_page(p.api, session, filters, page, p.settings.page_size)
    base = "/departement?" + "".join(
        f"{k}={v}&" for k, v in (("status", status), ("commune", commune)) if v
    )
    return render(
        request,
        "departement/board.html",
        title="Tableau des demandes",
        session=session,
        crumbs=[("Accueil", "/"), ("Tableau des demandes", None)],
        page=found,
        statuses=labels.REQUEST_STATUSES,
        status=status,
        commune=commune or "",
        searched=searched if len(searched) > 1 else [],
        base=base,
        notice=notice,
    )


@router.get("/demandes/{request_id}")
async def detail(request: Request, request_id: str, notice: str | None = None) -> Response:
    session = session_of(request, ROLE)
    return await demande_page(request, session, request_id, home=HOME, notice=notice)


@router.post("/conventions/{convention_id}/envoyer")
async def send(request: Request, convention_id: str) -> Response:
    session = session_of(request, ROLE)
    await form_of(request, session)
    sent = await portal(request).api.call(
        "billing", "POST", f"/v1/conventions/{convention_id}/send", session.token, json=None
    )
    return redirect(
        f"/departement/demandes/{sent['demande_id']}",
        notice=f"Convention {sent['number']} envoyée à la collectivité pour signature.",
    )


@router.get("/sans-acteur")
async def unmatched(request: Request, page: PageNumber = 1, notice: str | None = None) -> Response:
    return await _unmatched_page(request, page, notice, {}, 200)


async def _unmatched_page(
    request: Request, page: int, notice: str | None, errors: dict[str, str], status_code: int
) -> Response:
    session = session_of(request, ROLE)
    items, more = await _slice(request, session.token, "matching", "/v1/unmatched", page)
    catalogue = await portal(request).api.call("matching", "GET", "/v1/actors", session.token)
    return render(
        request,
        "departement/unmatched.html",
        title="Demandes sans acteur",
        session=session,
        crumbs=[("Accueil", "/"), HOME, ("Demandes sans acteur", None)],
        items=items,
        number=page,
        more=more,
        reasons=labels.UNMATCHED_REASONS,
        actors=[a for a in catalogue if a.get("active", True)],
        notice=notice,
        errors=errors,
        status_code=status_code,
    )


@router.post("/sans-acteur/{request_id}/orienter")
async def route_by_hand(request: Request, request_id: str) -> Response:
    """The team proposes the actor it chose, with its reason (matching checks capacity)."""
    session = session_of(request, ROLE)
    form = await form_of(request, session)
    body = {
        "actor_id": str(form.get("actor_id") or ""),
        "reason": str(form.get("reason") or "").strip(),
    }
    try:
        await portal(request).api.call(
            "matching", "POST", f"/v1/unmatched/{request_id}/route", session.token, json=body
        )
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        errors = {f"{request_id}-{k}": v for k, v in field_errors(exc.errors).items()}
        errors[f"{request_id}-general"] = exc.detail
        return await _unmatched_page(request, 1, None, errors, exc.status)
    return redirect("/departement/sans-acteur", notice="Acteur proposé ; il a été prévenu.")


@router.get("/catalogue")
async def catalogue(request: Request) -> Response:
    session = session_of(request, ROLE)
    found = await portal(request).api.call("matching", "GET", "/v1/actors", session.token)
    return render(
        request,
        "departement/catalogue.html",
        title="Catalogue des acteurs",
        session=session,
        crumbs=[("Accueil", "/"), HOME, ("Catalogue des acteurs", None)],
        actors=found,
        labels=labels,
    )


@router.get("/factures")
async def invoices(request: Request, page: PageNumber = 1) -> Response:
    session = session_of(request, ROLE)
    items, more = await _slice(request, session.token, "billing", "/v1/invoices", page)
    return render(
        request,
        "departement/invoices.html",
        title="Factures et avoirs",
        session=session,
        crumbs=[("Accueil", "/"), HOME, ("Factures et avoirs", None)],
        items=items,
        number=page,
        more=more,
        labels=labels,
    )
