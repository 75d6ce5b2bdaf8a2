"""A local stand-in for the ANCT "Les Communs" API, for the tests and the demo: the part
of its published contract that we use, served on 127.0.0.1.

What it implements, as their code and ADRs publish it (betagouv/communs-de-la-transition-
ecologique-des-collectivites, ``api/src/projets``, ADR "API_CREATE" and "STATUS"):

- ``POST /projets`` with ``Authorization: Bearer <API key>``: one key per connected
  service (401 otherwise); body validated as their ``CreateProjetRequest`` (``nom``
  required, ``collectivites`` not empty, each ``{type: Commune|EPCI, code}``, ``phase``
  in Idée/Étude/Opération, ``phaseStatut`` in En cours…Terminé and only with a phase,
  defaulting to "En cours" when a phase comes alone, ``externalId`` required): 400 with
  their ``{statusCode, message, error}`` otherwise; an idempotent upsert keyed on the
  service and the ``externalId``: 201 ``{"id": …}``, the same id for the same project;
- ``GET /projets/{id}`` and ``GET /projets``.

Every accepted upsert is logged in order (``received``), so that a test can check what
reached it and how many times. ``python -m stack.harness.les_communs --port P --api-key K``
runs it alone (the demo does).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Self

import typer
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PHASES = ("Idée", "Étude", "Opération")
PHASE_STATUSES = ("En cours", "En retard", "En pause", "Bloqué", "Abandonné", "Terminé")
COLLECTIVITE_TYPES = ("Commune", "EPCI")
SERVICE = "MatiereGrise"


@dataclass(frozen=True)
class Received:
    at: float
    service: str
    external_id: str
    phase: str | None
    phase_statut: str | None
    body: dict[str, Any]


@dataclass
class LesCommunsState:
    api_keys: dict[str, str]
    projets: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_external_id: dict[tuple[str, str], str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    refused: list[tuple[int, Any]] = field(default_factory=list)

    def received_for(self, external_id: str) -> list[Received]:
        return [r for r in self.received if r.external_id == external_id]


def _problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["body must be an object"]
    problems = []
    if not isinstance(body.get("nom"), str) or not body["nom"].strip():
        problems.append("nom should not be empty")
    if not isinstance(body.get("externalId"), str) or not body["externalId"]:
        problems.append("externalId should not be empty")
    collectivites = body.get("collectivites")
    if not isinstance(collectivites, list) or not collectivites:
        problems.append("At least one commune insee code must be provided")
    else:
        for c in collectivites:
            if not isinstance(c, dict) or c.get("type") not in COLLECTIVITE_TYPES:
                problems.append("collectivites.type must be one of the following values")
            elif not isinstance(c.get("code"), str):
                problems.append("collectivites.code must be a string")
    phase, statut = body.get("phase"), body.get("phaseStatut")
    if phase is not None and phase not in PHASES:
        problems.append(f"phase must be one of the following values: {', '.join(PHASES)}")
    if statut is not None and statut not in PHASE_STATUSES:
        problems.append("phaseStatut must be one of the following values")
    if statut is not None and phase is None:
        problems.append("phaseStatut cannot be specified without a phase")
    return problems


def app_of(state: LesCommunsState) -> Starlette:
    def service_of(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return None
        return state.api_keys.get(header.split(" ", 1)[1])

    def refuse(status: int, message: Any) -> JSONResponse:
        state.refused.append((status, message))
        error = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}[status]
        return JSONResponse(
            {"statusCode": status, "message": message, "error": error}, status_code=status
        )

    async def create(request: Request) -> JSONResponse:
        service = service_of(request)
        if service is None:
            return refuse(401, "Invalid API key")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return refuse(400, ["body must be JSON"])
        problems = _problems(body)
        if problems:
            return refuse(400, problems)
        if body.get("phase") and not body.get("phaseStatut"):
            body["phaseStatut"] = "En cours"
        key = (service, body["externalId"])
        projet_id = state.by_external_id.setdefault(key, str(uuid.uuid4()))
        fields = {k: v for k, v in body.items() if k != "externalId"}
        state.projets[projet_id] = {"id": projet_id, f"{service}Id": body["externalId"]} | fields
        state.received.append(
            Received(
                time.monotonic(),
                service,
                body["externalId"],
                body.get("phase"),
                body.get("phaseStatut"),
                body,
            )
        )
        return JSONResponse({"id": projet_id}, status_code=201)

    async def read(request: Request) -> JSONResponse:
        if service_of(request) is None:
            return refuse(401, "Invalid API key")
        projet = state.projets.get(request.path_params["projet_id"])
        if projet is None:
            return refuse(404, "Projet not found")
        return JSONResponse(projet)

    async def listing(request: Request) -> JSONResponse:
        if service_of(request) is None:
            return refuse(401, "Invalid API key")
        return JSONResponse(list(state.projets.values()))

    return Starlette(
        routes=[
            Route("/projets", create, methods=["POST"]),
            Route("/projets", listing, methods=["GET"]),
            Route("/projets/{projet_id}", read, methods=["GET"]),
        ]
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LesCommunsServer:
    """The stand-in, in the running event loop: ``async with LesCommunsServer(key, port)``.

    A port chosen before it starts lets a test point the service at it while it is down.
    """

    def __init__(self, api_key: str, port: int | None = None) -> None:
        self.state = LesCommunsState(api_keys={api_key: SERVICE})
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        config = uvicorn.Config(
            app_of(self.state),
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or self._task.done():
                raise TimeoutError("the Les Communs stand-in did not start")
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, timeout=10)


cli = typer.Typer(add_completion=False)


@cli.command()
def serve(
    port: int = typer.Option(..., help="Port on 127.0.0.1"),
    api_key: str = typer.Option(..., help="The one API key it accepts"),
) -> None:
    """Serve the Les Communs stand-in until stopped."""
    state = LesCommunsState(api_keys={api_key: SERVICE})
    uvicorn.run(app_of(state), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    cli()
