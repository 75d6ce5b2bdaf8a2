"""The département agent's pages: the board of demandes (by status and commune, search,
pages), a demande's file with its convention to send, the demandes left without an actor
and why, the actor catalogue, the adhésions, the invoices and credit notes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.portal.domain import labels
from services.portal.entrypoints.web import form_of, portal, redirect, render, session_of
from services.portal.service_layer import demandes
from services.portal.service_layer.territories import search

router = APIRouter(prefix="/departement")
ROLE = "departement"
HOME = ("Tableau des demandes", "/departement")
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
Filter = Annotated[str | None, Query(max_length=100)]


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
    found = await demandes.demande_file(portal(request).api, session, request_id)
    return render(
        request,
        "departement/demande.html",
        title=f"Demande : {found.demande['title']}",
        session=session,
        crumbs=[("Accueil", "/"), HOME, (found.demande["title"], None)],
        file=found,
        labels=labels,
        notice=notice,
    )


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
async def unmatched(request: Request, page: PageNumber = 1) -> Response:
    session = session_of(request, ROLE)
    p = portal(request)
    size = p.settings.page_size
    found: list[dict[str, Any]] = await p.api.call(
        "matching",
        "GET",
        "/v1/unmatched",
        session.token,
        params={"limit": size + 1, "offset": (page - 1) * size},
    )
    return render(
        request,
        "departement/unmatched.html",
        title="Demandes sans acteur",
        session=session,
        crumbs=[("Accueil", "/"), HOME, ("Demandes sans acteur", None)],
        items=found[:size],
        number=page,
        more=len(found) > size,
        reasons=labels.UNMATCHED_REASONS,
    )


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
    p = portal(request)
    size = p.settings.page_size
    found: list[dict[str, Any]] = await p.api.call(
        "billing",
        "GET",
        "/v1/invoices",
        session.token,
        params={"limit": size + 1, "offset": (page - 1) * size},
    )
    return render(
        request,
        "departement/invoices.html",
        title="Factures et avoirs",
        session=session,
        crumbs=[("Accueil", "/"), HOME, ("Factures et avoirs", None)],
        items=found[:size],
        number=page,
        more=len(found) > size,
        labels=labels,
    )
