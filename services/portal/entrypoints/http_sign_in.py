"""Sign-in and sign-out, the home page that sends each role to its own, and the commune
and EPCI search the forms' autocomplete asks."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.portal.domain.session import ROLE_LABELS
from services.portal.entrypoints.web import (
    BadForm,
    clear_session,
    form_of,
    json_response,
    portal,
    read_session,
    redirect,
    render,
    write_session,
)
from services.portal.service_layer.sign_in import local_session
from services.portal.service_layer.territories import search
from shared.errors import DomainValidationError

router = APIRouter()
HOMES = {"collectivite": "/collectivite", "actor": "/acteur", "departement": "/departement"}
# Before sign-in the forms carry a token of their own, in a cookie of their own.
PRE_CSRF = "mg_portal_csrf"


@router.get("/")
async def home(request: Request) -> Response:
    session = read_session(request)
    return redirect(HOMES[session.role] if session else "/connexion")


def _sign_in_page(
    request: Request, form: dict[str, str], errors: dict[str, str], status: int
) -> Response:
    token = request.cookies.get(PRE_CSRF) or secrets.token_urlsafe(32)
    response = render(
        request,
        "sign_in.html",
        title="Se connecter",
        session=None,
        crumbs=[("Accueil", "/"), ("Se connecter", None)],
        roles=list(ROLE_LABELS.items()),
        form=form,
        errors=errors,
        oidc=portal(request).settings.sign_in == "oidc",
        status_code=status,
        csrf=token,
    )
    response.set_cookie(
        PRE_CSRF,
        token,
        httponly=True,
        secure=portal(request).settings.cookie_secure,
        samesite="lax",
    )
    return response


@router.get("/connexion")
async def sign_in_page(request: Request) -> Response:
    return _sign_in_page(request, {"role": "", "departement": "", "scope": ""}, {}, 200)


@router.post("/connexion")
async def sign_in(request: Request) -> Response:
    p = portal(request)
    if p.settings.sign_in != "local":
        return redirect("/connexion")
    posted = await request.form()
    expected = request.cookies.get(PRE_CSRF, "")
    offered = posted.get("csrf")
    if (
        not expected
        or not isinstance(offered, str)
        or not secrets.compare_digest(offered, expected)
    ):
        raise BadForm
    form = {k: str(posted.get(k) or "").strip() for k in ("role", "departement", "scope")}
    try:
        session = local_session(
            p.auth,
            p.territories,
            role=form["role"],
            departement=form["departement"],
            scope=form["scope"],
            hours=p.settings.session_hours,
        )
    except DomainValidationError as exc:
        errors = {e.field: e.message for e in exc.errors}
        return _sign_in_page(request, form, errors, 422)
    response = redirect(HOMES[session.role])
    write_session(request, response, session)
    response.delete_cookie(PRE_CSRF)
    return response


@router.post("/deconnexion")
async def sign_out(request: Request) -> Response:
    session = read_session(request)
    if session is not None:
        await form_of(request, session)
    response = redirect("/connexion")
    clear_session(response)
    return response


@router.get("/territoires")
async def territories(request: Request, q: Annotated[str, Query(max_length=100)] = "") -> Response:
    session = read_session(request)
    departement = session.departement if session else None
    return json_response(search(portal(request).territories, q, departement))
