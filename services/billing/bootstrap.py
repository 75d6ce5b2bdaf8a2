"""The one place where the billing adapters are wired into the service layer: the entry
points get their units of work here, never from ``services.billing.adapters``."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.billing.adapters.pdf import html_to_pdf
from services.billing.adapters.unit_of_work import BillingUnitOfWork
from services.billing.service_layer.ports import FacturXRenderer, PdfPrinter, UnitOfWork
from shared.messaging.consumer import IdempotentConsumer, Route
from shared.runtime import ServiceRuntime, unit_of_work_dependency

# FastAPI dependency: a fresh unit of work per request; its commit wakes the relay.
http_unit_of_work: Callable[[Request], UnitOfWork] = unit_of_work_dependency(BillingUnitOfWork)

# Prints the documents (conventions) to PDF.
pdf_printer: PdfPrinter = html_to_pdf


def unit_of_work_factory(runtime: ServiceRuntime) -> Callable[[], UnitOfWork]:
    """Units of work of the running service; committing one wakes the relay."""
    return runtime.unit_of_work(BillingUnitOfWork)


def standalone_unit_of_work(
    session_factory: async_sessionmaker[AsyncSession], source: str
) -> Callable[[], UnitOfWork]:
    """Units of work of a process without a relay (the CLI): the service's relay
    publishes what they wrote to the outbox."""
    return lambda: BillingUnitOfWork(session_factory, source=source)


def consumer(
    runtime: ServiceRuntime, routes: Mapping[str, Route[BillingUnitOfWork]]
) -> IdempotentConsumer[BillingUnitOfWork]:
    """An idempotent consumer running ``routes``, each event in its own unit of work."""
    return runtime.consumer(runtime.unit_of_work(BillingUnitOfWork), routes)


def facturx_renderer() -> FacturXRenderer:
    """Factur-X files (WeasyPrint, factur-x, lxml)."""
    # Imported here: WeasyPrint loads Pango when imported, which the processes that never
    # render (the consumers, the cotisation run) need not pay for.
    from services.billing.adapters.facturx_pdf import FacturXFiles

    return FacturXFiles()
