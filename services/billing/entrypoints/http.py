"""HTTP API of the billing service: adhésions, tariffs, invoices (JSON, HTML, CSV,
Factur-X), credit notes, and the annual cotisation run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from services.billing import bootstrap
from services.billing.domain.adhesion import Adhesion
from services.billing.domain.invoice import Invoice
from services.billing.domain.tariff import TariffError, tariff_to_dict
from services.billing.service_layer import adhesions, cotisation_run, facturx, invoices, tariffs
from services.billing.service_layer.ports import UnitOfWork
from shared.contracts.base import Text
from shared.contracts.vocabulary import DEPARTEMENT_CODE
from shared.errors import DomainValidationError, FieldError
from shared.http.security import CurrentPrincipal
from shared.observability.logging import get_logger
from shared.refdata import get_territories
from shared.runtime import runtime_of

log = get_logger(__name__)

adhesions_router = APIRouter(prefix="/v1/adhesions", tags=["adhésions"])
tariffs_router = APIRouter(prefix="/v1/tariffs", tags=["tarifs"])
invoices_router = APIRouter(prefix="/v1/invoices", tags=["factures"])
runs_router = APIRouter(prefix="/v1/cotisation-runs", tags=["appel de cotisations"])


UoW = Annotated[UnitOfWork, Depends(bootstrap.http_unit_of_work)]


# --- adhésions --------------------------------------------------------------------------


class AdhesionIn(BaseModel):
    collectivite_code: str = Field(min_length=5, max_length=9)
    year: int = Field(ge=2000, le=2100)
    departement: str | None = Field(default=None, min_length=2, max_length=3)


class AdhesionOut(BaseModel):
    id: UUID
    departement: str
    year: int
    collectivite_code: str
    collectivite_kind: str
    collectivite_name: str
    population: int
    status: str
    registered_at: datetime
    ended_at: datetime | None

    @classmethod
    def of(cls, a: Adhesion) -> AdhesionOut:
        return cls(
            id=a.id,
            departement=a.departement,
            year=a.year,
            collectivite_code=a.collectivite_code,
            collectivite_kind=a.collectivite_kind.value,
            collectivite_name=a.collectivite_name,
            population=a.population,
            status=a.status,
            registered_at=a.registered_at,
            ended_at=a.ended_at,
        )


class AdhesionPage(BaseModel):
    items: list[AdhesionOut]
    total: int


class Ending(BaseModel):
    reason: Text | None = Field(default=None, max_length=1000)


@adhesions_router.post("", status_code=201, response_model=AdhesionOut, summary="Adhésion")
async def register(principal: CurrentPrincipal, uow: UoW, body: AdhesionIn) -> AdhesionOut:
    departement = body.departement or principal.departement
    if departement is None:
        departement = get_territories().home_departement(body.collectivite_code) or ""
    async with uow:
        adhesion = await adhesions.register_adhesion(
            uow,
            principal,
            body.collectivite_code,
            departement,
            body.year,
            get_territories(),
            datetime.now(UTC),
        )
    return AdhesionOut.of(adhesion)


@adhesions_router.get("", response_model=AdhesionPage, summary="Adhésions d'un département")
async def list_adhesions(
    principal: CurrentPrincipal,
    uow: UoW,
    departement: Annotated[str | None, Query(min_length=2, max_length=3)] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AdhesionPage:
    async with uow:
        items, total = await adhesions.list_adhesions(
            uow, principal, departement, year, limit, offset
        )
    return AdhesionPage(items=[AdhesionOut.of(a) for a in items], total=total)


@adhesions_router.post("/{adhesion_id}/end", response_model=AdhesionOut, summary="Fin d'adhésion")
async def end(
    adhesion_id: UUID,
    principal: CurrentPrincipal,
    uow: UoW,
    body: Annotated[Ending | None, Body()] = None,
) -> AdhesionOut:
    async with uow:
        adhesion = await adhesions.end_adhesion(
            uow, principal, adhesion_id, body.reason if body else None, datetime.now(UTC)
        )
    return AdhesionOut.of(adhesion)


# --- tariffs ----------------------------------------------------------------------------


@tariffs_router.get("/{departement}/{year}", summary="Tarif en vigueur")
async def read_tariff(
    departement: Annotated[str, Path(min_length=2, max_length=3)],
    year: Annotated[int, Path(ge=2000, le=2100)],
    principal: CurrentPrincipal,
    uow: UoW,
) -> dict[str, Any]:
    async with uow:
        version, tariff = await tariffs.tariff_in_force(
            uow, principal, departement, year, get_territories(), datetime.now(UTC)
        )
    return tariff_to_dict(tariff) | {"version": version}


@tariffs_router.put("", summary="Publier une nouvelle version d'un tarif (équipe)")
async def publish(
    principal: CurrentPrincipal,
    uow: UoW,
    document: Annotated[dict[str, Any], Body(description="Le tarif, format des tarifs livrés.")],
) -> dict[str, Any]:
    try:
        async with uow:
            version, tariff = await tariffs.publish_tariff(
                uow, principal, document, datetime.now(UTC)
            )
    except TariffError as exc:
        raise DomainValidationError([FieldError("tarif", str(exc))]) from exc
    return tariff_to_dict(tariff) | {"version": version}


# --- invoices ---------------------------------------------------------------------------


class InvoiceOut(BaseModel):
    id: UUID
    number: str
    document_kind: str
    invoice_kind: str
    departement: str
    year: int
    collectivite_code: str
    collectivite_kind: str
    collectivite_name: str
    tariff_version: int
    lines: list[dict[str, Any]]
    total_excl_tax: Decimal
    total_vat: Decimal
    total_incl_tax: Decimal
    refers_to: UUID | None
    reason: str | None
    request_id: UUID | None
    assignment_id: UUID | None
    issued_at: datetime

    @classmethod
    def of(cls, i: Invoice) -> InvoiceOut:
        return cls(
            id=i.id,
            number=i.number,
            document_kind=i.document_kind,
            invoice_kind=i.invoice_kind,
            departement=i.departement,
            year=i.year,
            collectivite_code=i.collectivite.code,
            collectivite_kind=i.collectivite.kind.value,
            collectivite_name=i.collectivite.name,
            tariff_version=i.tariff_version,
            lines=[line.as_json() for line in i.lines],
            total_excl_tax=i.totals.excl_tax,
            total_vat=i.totals.vat,
            total_incl_tax=i.totals.incl_tax,
            refers_to=i.refers_to,
            reason=i.reason,
            request_id=i.request_id,
            assignment_id=i.assignment_id,
            issued_at=i.issued_at,
        )


class Cancellation(BaseModel):
    reason: Text = Field(min_length=3, max_length=1000)


@invoices_router.get("", response_model=list[InvoiceOut], summary="Factures et avoirs")
async def list_invoices(
    principal: CurrentPrincipal,
    uow: UoW,
    departement: Annotated[str | None, Query(min_length=2, max_length=3)] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    collectivite: Annotated[str | None, Query(min_length=5, max_length=9)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[InvoiceOut]:
    async with uow:
        found = await invoices.list_invoices(
            uow,
            principal,
            departement=departement,
            year=year,
            collectivite=collectivite,
            limit=limit,
            offset=offset,
        )
    return [InvoiceOut.of(i) for i in found]


@invoices_router.get(
    "/export.csv",
    summary="Export comptable (CSV, séparateur point-virgule)",
    response_class=Response,
)
async def export_csv(
    principal: CurrentPrincipal,
    uow: UoW,
    year: Annotated[int, Query(ge=2000, le=2100)],
    departement: Annotated[str | None, Query(min_length=2, max_length=3)] = None,
) -> Response:
    async with uow:
        text = await invoices.export_csv(uow, principal, year, departement)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="factures-{year}.csv"'},
    )


@invoices_router.get("/{invoice_id}", response_model=InvoiceOut, summary="Une facture")
async def read_invoice(invoice_id: UUID, principal: CurrentPrincipal, uow: UoW) -> InvoiceOut:
    async with uow:
        invoice = await invoices.read_invoice(uow, principal, invoice_id)
    return InvoiceOut.of(invoice)


@invoices_router.get(
    "/{invoice_id}/document",
    response_class=HTMLResponse,
    summary="La facture lisible, en français (HTML)",
)
async def read_document(invoice_id: UUID, principal: CurrentPrincipal, uow: UoW) -> HTMLResponse:
    async with uow:
        return HTMLResponse(await invoices.invoice_document(uow, principal, invoice_id))


_FACTURX_MEDIA = {"pdf": "application/pdf", "xml": "application/xml"}


@invoices_router.get(
    "/{invoice_id}/facturx.xml",
    response_class=Response,
    summary="Le XML CII (EN 16931) de la facture ou de l'avoir",
)
@invoices_router.get(
    "/{invoice_id}/facturx",
    response_class=Response,
    summary="La facture ou l'avoir en Factur-X (PDF/A-3, EN 16931)",
)
async def read_facturx(
    request: Request,
    invoice_id: UUID,
    principal: CurrentPrincipal,
    uow: UoW,
) -> Response:
    # One handler, two routes: the path says which file.
    file_format: facturx.FacturXFormat = "xml" if request.url.path.endswith(".xml") else "pdf"
    async with uow:
        invoice, content = await facturx.readable_facturx_file(
            uow, principal, invoice_id, bootstrap.facturx_renderer(), file_format
        )
    name = f"FX-{invoice.number}.{file_format}"
    return Response(
        content,
        media_type=_FACTURX_MEDIA[file_format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@invoices_router.post(
    "/{invoice_id}/cancel",
    response_model=InvoiceOut,
    summary="Annuler par un avoir (équipe du département)",
)
async def cancel(
    invoice_id: UUID, principal: CurrentPrincipal, uow: UoW, body: Cancellation
) -> InvoiceOut:
    async with uow:
        credit = await invoices.cancel_invoice(
            uow, principal, invoice_id, body.reason, datetime.now(UTC)
        )
    return InvoiceOut.of(credit)


# --- cotisation runs ----------------------------------------------------------------------


class RunIn(BaseModel):
    year: int = Field(ge=2000, le=2100)
    # Official codes only: a free string carried a NUL byte to PostgreSQL (500, found by
    # the OpenAPI fuzz test at 100 examples per operation).
    departements: list[Annotated[str, Field(pattern=rf"^(?:{DEPARTEMENT_CODE.pattern})$")]] = Field(
        default_factory=list, max_length=101
    )


@runs_router.post("", status_code=202, summary="Lancer l'appel de cotisations d'une année")
async def start_run(request: Request, principal: CurrentPrincipal, body: RunIn) -> dict[str, Any]:
    departements = cotisation_run.run_departements(principal, body.departements)
    unit_of_work = bootstrap.unit_of_work_factory(runtime_of(request))
    plan = await cotisation_run.open_run(
        unit_of_work, body.year, departements or None, datetime.now(UTC)
    )

    async def work() -> None:
        try:
            await cotisation_run.run_cotisations(unit_of_work, plan, lambda: datetime.now(UTC))
        except Exception as exc:
            log.error("cotisation run failed", run_id=str(plan.run_id), error=repr(exc))

    task = asyncio.create_task(work(), name=f"cotisation-run-{plan.run_id}")
    request.app.state.runs = getattr(request.app.state, "runs", set()) | {task}
    return {"id": str(plan.run_id), "status": "running", "members": plan.members}


@runs_router.get("/{run_id}", summary="Avancement d'un appel de cotisations")
async def read_run(run_id: UUID, principal: CurrentPrincipal, uow: UoW) -> dict[str, Any]:
    async with uow:
        found = await cotisation_run.read_run(uow, principal, run_id)
    return {k: (str(v) if isinstance(v, Decimal | UUID) else v) for k, v in found.items()}
