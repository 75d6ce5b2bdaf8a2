"""``mg-invoices``: the Chorus Pro deposit batches of a département's invoices.

    mg-invoices export --departement 49 --from 2027-01-01 --to 2027-12-31 OUT.zip

writes the Factur-X PDF of every invoice and credit note issued in the period (Paris
dates, both included) as ``OUT.zip`` (``FX-49-2027-000001.pdf``, …), or, when they do not
fit in one deposit of 10 MB, ``OUT-001.zip``, ``OUT-002.zip``, …; and beside them the
manifest ``OUT.csv``: one row per file (file, batch, number, type 380/381, buyer SIRET,
service code, engagement number, amount, SHA-256). The buyers are the collectivités'
stored accounts (ADR 0017); collectivités without one are all refused, in French, before
anything is rendered or written. The same invoices give the same files, byte for byte.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.billing import bootstrap
from services.billing.domain.deposit_batches import manifest_csv
from services.billing.entrypoints.facturx_cli import refusals_in_french
from services.billing.entrypoints.main import terminal_unit_of_work
from services.billing.service_layer.facturx import Deposit, deposit_batches
from shared.french import euros

app = typer.Typer(help="Chorus Pro exports of the billing service.", no_args_is_help=True)
# The files go to OUT; what a person watches (progress, refusals) goes to stderr.
console = Console(stderr=True)


@app.callback()
def main() -> None:
    """Chorus Pro exports of the billing service (``export``)."""


def _day(value: datetime) -> date:
    return value.date()


@app.command()
def export(
    out: Annotated[Path, typer.Argument(help="OUT.zip (OUT-001.zip, … if several batches)")],
    departement: Annotated[str, typer.Option(help="Département code, e.g. 49")],
    start: Annotated[
        datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day (issue date)")
    ],
    end: Annotated[
        datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day (issue date)")
    ],
) -> None:
    """Write the deposit batches (zip files) and their manifest (CSV) of the
    département's invoices and credit notes issued in the period."""
    if out.suffix != ".zip":
        raise typer.BadParameter("le fichier de sortie se termine par .zip", param_hint="OUT")
    if end < start:
        raise typer.BadParameter("la fin précède le début", param_hint="--to")
    period = (_day(start), _day(end))

    async def go() -> Deposit:
        with Progress(
            TextColumn(f"Factur-X {departement} {period[0]} → {period[1]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("export", total=None)

            def show(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            async with terminal_unit_of_work() as uow:
                return await deposit_batches(
                    uow, departement, period, out.stem, bootstrap.facturx_renderer(), show
                )

    with refusals_in_french(console):
        deposit = asyncio.run(go())
    if not deposit.rows:
        console.print(f"Aucune facture pour {departement} du {period[0]} au {period[1]}.")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    for batch in deposit.batches:
        (out.parent / batch.name).write_bytes(batch.content)
        console.print(f"{batch.name} : {len(batch.entries)} fichiers, {len(batch.content)} octets")
    manifest = out.with_suffix(".csv")
    manifest.write_bytes(manifest_csv(deposit.batches, deposit.rows))
    total = sum((r.amount if r.type_code == "380" else -r.amount for r in deposit.rows), start=0)
    console.print(
        f"{manifest.name} : {len(deposit.rows)} factures et avoirs, "
        f"{len(deposit.batches)} lot(s), solde {euros(total)}"
    )


if __name__ == "__main__":
    app()
