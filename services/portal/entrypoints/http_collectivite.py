"""The collectivité's pages: its demandes, the demande form, a demande's timeline, the
convention to sign or refuse, deliverables and invoices to download."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.portal.bootstrap import ApiError
from services.portal.domain import labels
from services.portal.entrypoints.downloads import forward
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

router = APIRouter(prefix="/collectivite")
ROLE = "collectivite"
HOME = ("Mes demandes", "/collectivite")
PageNumber = Annotated[int, Query(ge=1, le=100_000)]


@router.get("")
async def home(request: Request, page: PageNumber = 1, notice: str | None = None) -> Response:
    session = session_of(request, ROLE)
    p = portal(request)
    found = await demandes.list_page(p.api, session, {}, page, p.settings.page_size)
    return render(
        request,
        "collectivite/home.html",
        title="Mes demandes",
        session=session,
        crumbs=[("Accueil", "/"), ("Mes demandes", None)],
        page=found,
        labels=labels,
        notice=notice,
    )


def _form_page(
    request: Request, session: Any, form: dict[str, Any], errors: dict[str, str], status: int
) -> Response:
    return render(
        request,
        "collectivite/new.html",
        title="Déposer une demande",
        session=session,
        crumbs=[("Accueil", "/"), HOME, ("Déposer une demande", None)],
        form=form,
        errors=errors,
        themes=labels.THEMES,
        phases=labels.PHASES,
        status_code=status,
    )


@router.get("/demandes/nouvelle")
async def new(request: Request) -> Response:
    session = session_of(request, ROLE)
    return _form_page(request, session, {"requester_code": session.scope, "themes": []}, {}, 200)


@router.post("/demandes/nouvelle")
async def submit(request: Request) -> Response:
    session = session_of(request, ROLE)
    posted = await form_of(request, session)
    form: dict[str, Any] = {k: posted.get(k) for k in posted}
    form["themes"] = [str(t) for t in posted.getlist("themes")]  # type: ignore[attr-defined]
    form["requester_code"] = session.scope
    body = demandes.draft_of(form, form["themes"])
    try:
        created = await portal(request).api.call(
            "requests", "POST", "/v1/requests", session.token, json=body
        )
    except ApiError as exc:
        if exc.status != 422:
            raise
        errors = field_errors(exc.errors) | {"summary": exc.detail}
        return _form_page(request, session, form, errors, 422)
    return redirect(
        f"/collectivite/demandes/{created['id']}", notice="Votre demande a bien été déposée."
    )


@router.get("/demandes/{request_id}")
async def detail(request: Request, request_id: str, notice: str | None = None) -> Response:
    session = session_of(request, ROLE)
    return await demande_page(request, session, request_id, home=HOME, notice=notice)


@router.post("/conventions/{convention_id}/signer")
async def sign(request: Request, convention_id: str) -> Response:
    session = session_of(request, ROLE)
    form = await form_of(request, session)
    body: dict[str, Any] = {"engagement_number": str(form.get("engagement_number") or "").strip()}
    for name in ("service_code", "siret"):
        value = str(form.get(name) or "").strip()
        if value:
            body[name] = value
    api = portal(request).api
    try:
        signed = await api.call(
            "billing", "POST", f"/v1/conventions/{convention_id}/sign", session.token, json=body
        )
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        convention = await api.call(
            "billing", "GET", f"/v1/conventions/{convention_id}", session.token
        )
        return await demande_page(
            request,
            session,
            convention["demande_id"],
            home=HOME,
            errors=field_errors(exc.errors) | {"summary": exc.detail},
            status_code=exc.status,
        )
    return redirect(
        f"/collectivite/demandes/{signed['demande_id']}",
        notice=f"Convention {signed['number']} signée.",
    )


@router.post("/conventions/{convention_id}/refuser")
async def refuse(request: Request, convention_id: str) -> Response:
    session = session_of(request, ROLE)
    form = await form_of(request, session)
    reason = str(form.get("reason") or "").strip() or None
    refused = await portal(request).api.call(
        "billing",
        "POST",
        f"/v1/conventions/{convention_id}/refuse",
        session.token,
        json={"reason": reason},
    )
    return redirect(
        f"/collectivite/demandes/{refused['demande_id']}",
        notice=f"Convention {refused['number']} refusée.",
    )


@router.get("/livrables/{assignment_id}/{deliverable_id}")
async def deliverable(request: Request, assignment_id: str, deliverable_id: str) -> Response:
    session = session_of(request, ROLE)
    path = f"/v1/missions/{assignment_id}/deliverables/{deliverable_id}"
    return await forward(portal(request).api, "matching", path, session.token)


@router.get("/factures/{invoice_id}")
async def invoice(request: Request, invoice_id: str) -> Response:
    session = session_of(request, ROLE)
    path = f"/v1/invoices/{invoice_id}/document"
    return await forward(
        portal(request).api, "billing", path, session.token, f"facture-{invoice_id}.html"
    )


@router.get("/factures/{invoice_id}/facturx")
async def invoice_facturx(
    request: Request, invoice_id: str, siret: Annotated[str, Query(min_length=14, max_length=14)]
) -> Response:
    session = session_of(request, ROLE)
    return await forward(
        portal(request).api,
        "billing",
        f"/v1/invoices/{invoice_id}/facturx",
        session.token,
        params={"siret": siret},
    )


@router.get("/conventions/{convention_id}/document")
async def convention_document(request: Request, convention_id: str) -> Response:
    session = session_of(request, ROLE)
    return await forward(
        portal(request).api,
        "billing",
        f"/v1/conventions/{convention_id}/document.pdf",
        session.token,
        f"convention-{convention_id}.pdf",
    )
