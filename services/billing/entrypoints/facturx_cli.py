"""``mg-facturx``: the Factur-X file of a stored invoice or credit note, from a terminal.

    mg-facturx write INVOICE_ID OUT.pdf --buyer-siret 21490007800012 \
        [--xml]   # the CII XML alone instead of the PDF

Until buyer identities are stored, the SIRET of the collectivité's invoicing
establishment is given here; an invalid one is refused with the same French messages the
API gives, and nothing is written. A mission invoice cites its signed convention: its
number, the engagement number and the service code come from there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

from services.billing import bootstrap
from services.billing.entrypoints.main import terminal_unit_of_work
from services.billing.service_layer.facturx import BuyerAccount, facturx_file
from shared.errors import DomainValidationError, NotFound
from shared.french import euros

app = typer.Typer(help="Factur-X files of the billing service.", no_args_is_help=True)
console = Console()


@contextmanager
def refusals_in_french(out: Console) -> Iterator[None]:
    """What the use cases refuse, printed in French; exit status 1."""
    try:
        yield
    except DomainValidationError as exc:
        for error in exc.errors:
            out.print(f"[red]{error.field}[/] : {error.message}")
        raise typer.Exit(1) from exc
    except NotFound as exc:
        out.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc


@app.callback()
def main() -> None:
    """Factur-X files of the billing service (``write``; the deposit batches: ``mg-invoices``)."""


@app.command()
def write(
    invoice_id: UUID,
    out: Path,
    buyer_siret: Annotated[str, typer.Option(help="SIRET of the invoicing establishment")],
    xml: Annotated[bool, typer.Option("--xml", help="The CII XML alone")] = False,
) -> None:
    """Write the Factur-X PDF (or the CII XML) of one invoice or credit note."""

    async def go() -> tuple[str, str, bytes]:
        async with terminal_unit_of_work() as uow:
            invoice, content = await facturx_file(
                uow,
                invoice_id,
                BuyerAccount(siret=buyer_siret),
                bootstrap.facturx_renderer(),
                "xml" if xml else "pdf",
            )
            return invoice.number, euros(invoice.totals.incl_tax), content

    with refusals_in_french(console):
        number, total, content = asyncio.run(go())
    out.write_bytes(content)
    console.print(f"{number} ({total}) : {out} ({len(content)} octets)")


if __name__ == "__main__":
    app()
