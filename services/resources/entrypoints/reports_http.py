"""HTTP API of the activity reports: a département's report for a year or a month, as an
HTML page, one of its tables as CSV, or its open-data export. Its team only (another
département's report: 403)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse, Response

from services.resources import bootstrap
from services.resources.domain.report_figures import Period
from services.resources.service_layer import reports
from services.resources.service_layer.ports import UnitOfWork
from shared.errors import NotFound
from shared.http.security import CurrentPrincipal
from shared.refdata import get_territories

router = APIRouter(prefix="/v1/reports", tags=["rapports d'activité"])

UoW = Annotated[UnitOfWork, Depends(bootstrap.http_unit_of_work)]
Departement = Annotated[str, Path(min_length=2, max_length=3, pattern=r"^[0-9AB]{2,3}$")]
Year = Annotated[int, Path(ge=2000, le=2100)]
Month = Annotated[int | None, Query(ge=1, le=12, description="Un mois ; l'année sinon.")]


async def _files(
    uow: UnitOfWork, principal: CurrentPrincipal, departement: str, year: int, month: int | None
) -> dict[str, str]:
    territories = get_territories()
    async with uow:
        report = await reports.activity_report(
            uow, principal, Period(departement, year, month), territories
        )
    found = territories.departement(departement)
    name = found.nom if found is not None else departement
    return bootstrap.report_documents(report, name, datetime.now(UTC))


@router.get(
    "/{departement}/{year}",
    response_class=HTMLResponse,
    summary="Rapport d'activité (HTML, graphiques SVG)",
    responses={403: {"description": "Rapport d'un autre département."}},
)
async def report_page(
    departement: Departement,
    year: Year,
    principal: CurrentPrincipal,
    uow: UoW,
    month: Month = None,
) -> HTMLResponse:
    files = await _files(uow, principal, departement, year, month)
    return HTMLResponse(files["rapport.html"])


@router.get(
    "/{departement}/{year}/{name}",
    summary="Un tableau du rapport en CSV, l'open data (open-data.csv) ou son schéma",
    responses={403: {"description": "Rapport d'un autre département."}},
)
async def report_file(
    departement: Departement,
    year: Year,
    name: Annotated[str, Path(max_length=80, pattern=r"^[a-z_.-]+$")],
    principal: CurrentPrincipal,
    uow: UoW,
    month: Month = None,
) -> Response:
    files = await _files(uow, principal, departement, year, month)
    if name not in files or name == "rapport.html":
        raise NotFound("Ce fichier ne fait pas partie du rapport.")
    media = "application/json" if name.endswith(".json") else "text/csv; charset=utf-8"
    return Response(files[name], media_type=media)
