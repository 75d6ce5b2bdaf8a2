"""``mg-chorus-directory``: the Chorus Pro directory of public structures, into the buyer
accounts (ADR 0017).

    mg-chorus-directory import STRUCTURES.csv [--services SERVICES.csv]

reads the directory's published export (the structures, and their services) and sets,
on every buyer account invoicing one of its SIRETs, whether the buyer requires a service
code, an engagement number or one of the two, and its active services' codes. Run it
again whenever a new export is published: accounts already as the directory says are
left alone and nothing is published for them, so a second run of the same file changes
nothing. SIRETs without an account are counted, not created (the directory does not say
which commune or EPCI an establishment invoices for).
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.billing.domain.chorus_directory import (
    DirectoryFormatError,
    ReadCounts,
    read_services,
    read_structures,
)
from services.billing.entrypoints.main import terminal_units_of_work
from services.billing.service_layer.buyers import ImportCounts, import_directory

app = typer.Typer(help="The Chorus Pro directory, into billing.", no_args_is_help=True)
console = Console(stderr=True)
# Structures per transaction: a lock on the accounts of a chunk, never on all of them.
CHUNK = 1000


@app.callback()
def main() -> None:
    """The Chorus Pro directory of public structures, into billing (``import``)."""


def _lines(path: Path) -> int:
    with path.open(encoding="utf-8-sig", newline="") as text:
        return max(sum(1 for _ in text) - 1, 0)


@app.command("import")
def import_(
    structures: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    services: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="The services file")
    ] = None,
) -> None:
    """Set the buyers' requirements and services from the directory's export."""
    read, imported = ReadCounts(), ImportCounts()

    async def go() -> None:
        known: dict[str, tuple[str, ...]] = {}
        if services is not None:
            with services.open(encoding="utf-8-sig", newline="") as text:
                known = read_services(text, read)
        with (
            Progress(
                TextColumn("Annuaire Chorus Pro"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress,
            structures.open(encoding="utf-8-sig", newline="") as text,
        ):
            task = progress.add_task("import", total=_lines(structures))
            entries = read_structures(text, known, read)
            async with terminal_units_of_work() as unit_of_work:
                while chunk := list(itertools.islice(entries, CHUNK)):
                    async with unit_of_work() as uow:
                        await import_directory(uow, chunk, datetime.now(UTC), imported)
                    progress.update(task, completed=read.rows)
                progress.update(task, completed=read.rows)

    try:
        asyncio.run(go())
    except DirectoryFormatError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    console.print(
        f"{read.rows} structures lues : {read.kept} retenues (SIRET, actives), "
        f"{read.not_siret} sans SIRET, {read.inactive} inactives, {read.invalid} SIRET "
        f"invalides ; {read.services} services actifs.\n"
        f"Comptes acheteurs : {imported.matched} trouvés, {imported.changed} modifiés ; "
        f"{imported.unknown} SIRET sans compte."
    )


if __name__ == "__main__":
    app()
