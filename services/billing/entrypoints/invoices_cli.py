"""``mg-invoices``: the Chorus Pro deposit batches of a département's year.

    mg-invoices export --departement 49 --year 2027 --sirets sirets.csv OUT_DIR

writes ``OUT_DIR/MG-49-2027-lot-001.zip``, … : the Factur-X PDF of every invoice and
credit note of the year (``FX-49-2027-000001.pdf``, …), each zip at most 10 MB. Until
buyer identities are stored, ``--sirets`` gives the SIRET of each collectivité's invoicing
establishment, one ``code;siret`` line each (the CSV convention of the exports); a
collectivité without one is refused, in French, before anything is rendered or written.
The same invoices give the same files, byte for byte.
"""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.billing import bootstrap
from services.billing.domain.deposit_batches import Batch
from services.billing.entrypoints.facturx_cli import refusals_in_french
from services.billing.entrypoints.main import terminal_unit_of_work
from services.billing.service_layer.facturx import BuyerAccount, deposit_batches

app = typer.Typer(help="Chorus Pro exports of the billing service.", no_args_is_help=True)
# The files go to OUT_DIR; what a person watches (progress, refusals) goes to stderr.
console = Console(stderr=True)


@app.callback()
def main() -> None:
    """Chorus Pro exports of the billing service (``export``)."""


def _accounts(path: Path) -> dict[str, BuyerAccount]:
    with path.open(encoding="utf-8", newline="") as lines:
        rows = [row for row in csv.reader(lines, delimiter=";") if row]
    if any(len(row) < 2 for row in rows):
        raise typer.BadParameter("une ligne « code;siret » par collectivité", param_hint="--sirets")
    return {code.strip(): BuyerAccount(siret=siret.strip()) for code, siret, *_ in rows}


@app.command()
def export(
    out_dir: Path,
    departement: Annotated[str, typer.Option(help="Département code, e.g. 49")],
    year: Annotated[int, typer.Option(min=2000, max=2100, help="Year of the invoices")],
    sirets: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="code;siret per line")
    ] = None,
) -> None:
    """Write the deposit batches (zip files) of the département's invoices of the year."""
    accounts = _accounts(sirets) if sirets else {}

    async def go() -> list[Batch]:
        with Progress(
            TextColumn(f"Factur-X {departement} {year}"),
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
                    uow, departement, year, accounts, bootstrap.facturx_renderer(), show
                )

    with refusals_in_french(console):
        batches = asyncio.run(go())
    out_dir.mkdir(parents=True, exist_ok=True)
    for batch in batches:
        (out_dir / batch.name).write_bytes(batch.content)
        console.print(f"{batch.name} : {len(batch.entries)} fichiers, {len(batch.content)} octets")
    if not batches:
        console.print(f"Aucune facture pour {departement} en {year}.")


if __name__ == "__main__":
    app()
