"""``mg-facturx``: the Factur-X file of a stored invoice or credit note, from a terminal.

    mg-facturx write INVOICE_ID OUT.pdf [--xml]   # --xml: the CII XML alone

The buyer is the collectivité's stored account (ADR 0017); without one, or with what
the buyer would refuse, the same French messages as the API, and nothing is written. A
mission invoice cites its signed convention: its number, the engagement number and the
service code come from there.
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
from services.billing.service_layer.facturx import account_of, facturx_file
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
    xml: Annotated[bool, typer.Option("--xml", help="The CII XML alone")] = False,
) -> None:
    """Write the Factur-X PDF (or the CII XML) of one invoice or credit note."""

    async def go() -> tuple[str, str, bytes]:
        async with terminal_unit_of_work() as uow:
            found = await uow.invoices.get(invoice_id)
            if found is None:
                raise NotFound("Facture introuvable.")
            invoice, content = await facturx_file(
                uow,
                invoice_id,
                await account_of(uow, found),
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
