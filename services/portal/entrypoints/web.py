"""What every page of the portal shares: the session cookie, the anti-forgery token of the
forms, the security headers, the templates and the error pages."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer

from services.portal.bootstrap import SERVICE_SECONDS, Portal
from services.portal.domain import labels
from services.portal.domain.session import Session
from services.portal.service_layer import demandes
from shared import french

COOKIE = "mg_portal"
TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")


def _moment(value: str) -> str:
    """An ISO 8601 time from a service, as French readers write it, in Paris time."""
    return french.long_datetime(datetime.fromisoformat(value))


def _day(value: str) -> str:
    """An ISO 8601 date or time from a service, as "01/03/2027" (Paris time)."""
    parsed = datetime.fromisoformat(value)
    return french.short_date(parsed if len(value) > 10 else parsed.date())


TEMPLATES.env.filters["euros"] = french.euros
TEMPLATES.env.filters["file_size"] = french.file_size
TEMPLATES.env.filters["day"] = _day
TEMPLATES.env.filters["moment"] = _moment

# No inline script or style anywhere: the DSFR's files and ours, from this origin only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


NAV = {
    "collectivite": [
        ("/collectivite", "Mes demandes"),
        ("/collectivite/demandes/nouvelle", "Déposer une demande"),
    ],
    "actor": [("/acteur", "Propositions et missions")],
    "departement": [
        ("/departement", "Tableau des demandes"),
        ("/departement/sans-acteur", "Sans acteur"),
        ("/departement/catalogue", "Catalogue"),
        ("/departement/factures", "Factures et avoirs"),
    ],
}


class SignInRequired(Exception):
    """No session, or one whose signature or age does not hold."""


class WrongRole(Exception):
    """A page of another role than the session's."""


class BadForm(Exception):
    """A form without this session's anti-forgery token."""


def portal(request: Request) -> Portal:
    found: Portal = request.app.state.portal
    return found


def _serializer(request: Request) -> URLSafeTimedSerializer:
    secret = portal(request).settings.session_secret.get_secret_value()
    return URLSafeTimedSerializer(secret, salt="mg-portal-session")


def read_session(request: Request) -> Session | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    max_age = portal(request).settings.session_hours * 3600
    try:
        data = _serializer(request).loads(raw, max_age=max_age)
    except BadSignature:
        return None
    return Session.of(data)


def write_session(request: Request, response: Response, session: Session) -> None:
    settings = portal(request).settings
    response.set_cookie(
        COOKIE,
        _serializer(request).dumps(session.as_json()),
        max_age=settings.session_hours * 3600,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")


def session_of(request: Request, role: str) -> Session:
    found = read_session(request)
    if found is None:
        raise SignInRequired
    if found.role != role:
        raise WrongRole
    return found


async def form_of(request: Request, session: Session) -> Mapping[str, Any]:
    """The posted form, once its anti-forgery token is this session's."""
    form = await request.form()
    offered = form.get("csrf")
    if not isinstance(offered, str) or not secrets.compare_digest(offered, session.csrf):
        raise BadForm
    return form


def render(
    request: Request,
    template: str,
    *,
    title: str,
    session: Session | None,
    crumbs: list[tuple[str, str | None]] | None = None,
    status_code: int = 200,
    csrf: str | None = None,
    **context: Any,
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "title": title,
            "session": session,
            "crumbs": crumbs or [],
            "csrf": csrf or (session.csrf if session else ""),
            "nav": NAV.get(session.role, []) if session else [],
            **context,
        },
        status_code=status_code,
    )


def redirect(url: str, **params: str) -> RedirectResponse:
    target = f"{url}?{urlencode(params)}" if params else url
    return RedirectResponse(target, status_code=303)


def field_errors(errors: list[dict[str, str]]) -> dict[str, str]:
    """The services' French messages by field, as the forms name their fields."""
    out: dict[str, str] = {}
    for error in errors:
        name = error.get("field", "").removeprefix("body.").replace(".", "_")
        out.setdefault(name or "general", error.get("message", ""))
    return out


async def security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    started = time.perf_counter()
    waited: list[float] = []
    SERVICE_SECONDS.set(waited)
    response = await call_next(request)
    # The page's time in the portal, the services' answers included, and the time spent
    # waiting for them (tests/perf/bench_portal).
    response.headers["Server-Timing"] = (
        f"app;dur={(time.perf_counter() - started) * 1000:.1f}, svc;dur={sum(waited) * 1000:.1f}"
    )
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.url.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def json_response(data: Any) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), media_type="application/json")


async def demande_page(
    request: Request,
    session: Session,
    request_id: str,
    *,
    home: tuple[str, str],
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A demande's file, as its collectivité or its département sees it."""
    found = await demandes.demande_file(portal(request).api, session, request_id)
    title = found.demande["title"]
    return render(
        request,
        f"{session.role}/demande.html",
        title=f"Demande : {title}",
        session=session,
        crumbs=[("Accueil", "/"), home, (title, None)],
        file=found,
        labels=labels,
        notice=notice,
        errors=errors or {},
        status_code=status_code,
    )
