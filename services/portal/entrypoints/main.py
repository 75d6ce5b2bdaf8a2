"""``mg-portal``: the portal process (server-rendered pages over the four services' APIs)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from services.portal.bootstrap import ApiError, Portal, build_portal
from services.portal.entrypoints import (
    http_actor,
    http_collectivite,
    http_departement,
    http_sign_in,
)
from services.portal.entrypoints.web import (
    BadForm,
    SignInRequired,
    WrongRole,
    json_response,
    read_session,
    redirect,
    render,
    security_headers,
)

HERE = Path(__file__).resolve().parent.parent
# Installed by `npm ci --ignore-scripts` in services/portal (README, infra/setup.sh).
DSFR_DIST = HERE / "node_modules" / "@gouvfr" / "dsfr" / "dist"

ERROR_TITLES = {
    400: "Formulaire expiré",
    403: "Accès refusé",
    404: "Page introuvable",
    409: "Action impossible",
    503: "Service indisponible",
}


def _error_page(request: Request, status: int, message: str) -> Response:
    return render(
        request,
        "error.html",
        title=ERROR_TITLES.get(status, "Erreur"),
        session=read_session(request),
        status=status,
        message=message,
        status_code=status,
    )


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.status == 401:
        return redirect("/connexion")
    # Another tenant's record: the service says 403 or 404; the portal shows no more.
    status = exc.status if exc.status in ERROR_TITLES else 400 if exc.status < 500 else 503
    if exc.status == 422:
        status = 404
        return _error_page(request, status, "Cette page n'existe pas.")
    return _error_page(request, status, exc.detail)


async def _on_sign_in_required(request: Request, _: Exception) -> Response:
    return redirect("/connexion")


async def _on_wrong_role(request: Request, _: Exception) -> Response:
    return _error_page(request, 403, "Cette page est réservée à un autre rôle.")


async def _on_bad_form(request: Request, _: Exception) -> Response:
    return _error_page(
        request, 400, "Ce formulaire a expiré ou ne vient pas du portail : rechargez la page."
    )


async def _on_not_found(request: Request, _: Exception) -> Response:
    return _error_page(request, 404, "Cette page n'existe pas.")


def build(portal: Portal | None = None) -> FastAPI:
    portal = portal or build_portal()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await portal.api.aclose()

    app = FastAPI(
        title="Matière Grise — portail",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.portal = portal
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(SignInRequired, _on_sign_in_required)
    app.add_exception_handler(WrongRole, _on_wrong_role)
    app.add_exception_handler(BadForm, _on_bad_form)
    app.add_exception_handler(404, _on_not_found)
    app.middleware("http")(security_headers)
    for router in (
        http_sign_in.router,
        http_collectivite.router,
        http_actor.router,
        http_departement.router,
    ):
        app.include_router(router)
    dsfr = Path(portal.settings.dsfr_dir) if portal.settings.dsfr_dir else DSFR_DIST
    app.mount("/static/dsfr", StaticFiles(directory=dsfr), name="dsfr")
    app.mount("/static/portal", StaticFiles(directory=HERE / "static"), name="portal")

    @app.get("/health/live", include_in_schema=False)
    async def live() -> Response:
        return json_response({"status": "ok"})

    @app.get("/health/ready", include_in_schema=False)
    async def ready() -> Response:
        return json_response({"status": "ok", "dsfr": dsfr.is_dir()})

    return app


def run() -> None:
    portal = build_portal()
    settings = portal.settings
    uvicorn.run(
        build(portal),
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


if __name__ == "__main__":
    run()
