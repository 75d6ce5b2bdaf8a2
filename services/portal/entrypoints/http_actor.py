"""The actor's pages: proposals with the reasons of the match, accept or decline; missions
with their milestones to mark done and deliverables to upload; its capacity."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from services.portal.bootstrap import ApiError, ServicesApi
from services.portal.domain import labels
from services.portal.entrypoints.web import (
    field_errors,
    form_of,
    portal,
    redirect,
    render,
    session_of,
)

router = APIRouter(prefix="/acteur")
ROLE = "actor"
HOME = ("Propositions et missions", "/acteur")
# The services' own limit (matching refuses more); read no further than that and a byte.
MAX_UPLOAD = 10 * 1024 * 1024


@router.get("")
async def home(request: Request, notice: str | None = None) -> Response:
    session = session_of(request, ROLE)
    api = portal(request).api
    size = portal(request).settings.page_size
    # Only what the page shows: the open proposals and the missions, a page of each.
    proposals, missions, actor = await asyncio.gather(
        api.call(
            "matching",
            "GET",
            "/v1/assignments",
            session.token,
            params={"status": "proposed", "limit": size},
        ),
        api.call(
            "matching",
            "GET",
            "/v1/assignments",
            session.token,
            params={"status": "accepted", "limit": size},
        ),
        _actor(api, session.token, session.scope),
    )
    return render(
        request,
        "actor/home.html",
        title="Propositions et missions",
        session=session,
        crumbs=[("Accueil", "/"), ("Propositions et missions", None)],
        proposals=proposals,
        missions=missions,
        open_count=len(proposals) + len(missions),
        page_size=size,
        actor=actor,
        labels=labels,
        notice=notice,
    )


async def _actor(api: ServicesApi, token: str, actor_id: str | None) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = await api.call("matching", "GET", f"/v1/actors/{actor_id}", token)
    except ApiError:
        return None
    return found


@router.post("/propositions/{assignment_id}/accepter")
async def accept(request: Request, assignment_id: str) -> Response:
    session = session_of(request, ROLE)
    await form_of(request, session)
    await portal(request).api.call(
        "matching", "POST", f"/v1/assignments/{assignment_id}/accept", session.token, json=None
    )
    return redirect(f"/acteur/missions/{assignment_id}", notice="Proposition acceptée.")


@router.post("/propositions/{assignment_id}/decliner")
async def decline(request: Request, assignment_id: str) -> Response:
    session = session_of(request, ROLE)
    form = await form_of(request, session)
    reason = str(form.get("reason") or "").strip() or None
    await portal(request).api.call(
        "matching",
        "POST",
        f"/v1/assignments/{assignment_id}/decline",
        session.token,
        json={"reason": reason},
    )
    return redirect("/acteur", notice="Proposition déclinée.")


async def _mission_page(
    request: Request, assignment_id: str, notice: str | None, errors: dict[str, str], status: int
) -> Response:
    session = session_of(request, ROLE)
    api = portal(request).api
    timeline = await api.call(
        "matching", "GET", f"/v1/missions/{assignment_id}/timeline", session.token
    )
    assignment = await api.call(
        "matching", "GET", f"/v1/assignments/{assignment_id}", session.token
    )
    return render(
        request,
        "actor/mission.html",
        title=f"Mission pour {timeline['requester_code']}",
        session=session,
        crumbs=[("Accueil", "/"), HOME, ("Mission", None)],
        timeline=timeline,
        assignment=assignment,
        notice=notice,
        errors=errors,
        status_code=status,
    )


@router.get("/missions/{assignment_id}")
async def mission(request: Request, assignment_id: str, notice: str | None = None) -> Response:
    return await _mission_page(request, assignment_id, notice, {}, 200)


@router.post("/missions/{assignment_id}/jalons/{milestone_id}/livrables")
async def upload(request: Request, assignment_id: str, milestone_id: str) -> Response:
    session = session_of(request, ROLE)
    form = await form_of(request, session)
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return await _mission_page(
            request, assignment_id, None, {"file": "Choisissez un fichier à joindre."}, 422
        )
    content = await file.read(MAX_UPLOAD + 1)
    name = file.filename.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        await portal(request).api.call(
            "matching",
            "POST",
            f"/v1/missions/{assignment_id}/milestones/{milestone_id}/deliverables",
            session.token,
            params={"name": name},
            content=content,
        )
    except ApiError as exc:
        if exc.status not in (413, 415, 422):
            raise
        message = field_errors(exc.errors).get("name") or exc.detail
        return await _mission_page(request, assignment_id, None, {"file": message}, exc.status)
    return redirect(f"/acteur/missions/{assignment_id}", notice=f"Livrable « {name} » ajouté.")


@router.post("/missions/{assignment_id}/jalons/{milestone_id}/remis")
async def mark_done(request: Request, assignment_id: str, milestone_id: str) -> Response:
    session = session_of(request, ROLE)
    form = await form_of(request, session)
    note = str(form.get("note") or "").strip() or None
    await portal(request).api.call(
        "matching",
        "POST",
        f"/v1/missions/{assignment_id}/milestones/{milestone_id}/done",
        session.token,
        json={"note": note},
    )
    return redirect(f"/acteur/missions/{assignment_id}", notice="Jalon marqué comme remis.")
