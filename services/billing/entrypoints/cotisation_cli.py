"""``mg-cotisations``: the annual cotisation run, from a terminal.

    mg-cotisations enrol --year 2027 --all          every commune and EPCI becomes a member
    mg-cotisations run --year 2027 [-d 49 -d 78]    invoice every member (all départements
                                                     by default), with a progress bar

A run can be stopped at any moment (even ``kill -9``) and started again: members
already invoiced are skipped, numbers stay gapless.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.billing import bootstrap
from services.billing.entrypoints.main import MIGRATIONS, NAME, terminal_unit_of_work
from services.billing.service_layer.adhesions import enrol as enrol_everyone
from services.billing.service_layer.cotisation_run import RunProgress, open_run, run_cotisations
from shared.db.engine import make_engine, make_session_factory
from shared.db.migrations import upgrade
from shared.french import euros
from shared.refdata import get_territories
from shared.settings import service_settings

app = typer.Typer(help="The annual cotisation run of the billing service.", no_args_is_help=True)
console = Console()


def _now() -> datetime:
    return datetime.now(UTC)


@app.command()
def enrol(
    year: Annotated[int, typer.Option(min=2000, max=2100)],
    departement: Annotated[list[str] | None, typer.Option("-d", "--departement")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every département")] = False,
    share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Part of the collectivités that join")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Which part joins, with --share")] = 0,
) -> None:
    """Make every commune and EPCI of the départements (or a part) a member for the year."""
    territories = get_territories()
    targets = [d.code for d in territories.departements()] if all_ else list(departement or [])
    if not targets:
        console.print("[red]Donnez --departement ou --all.[/]")
        raise typer.Exit(2)

    async def go() -> int:
        async with terminal_unit_of_work() as uow:
            return await enrol_everyone(
                uow, year, targets, territories, _now(), share=share, seed=seed
            )

    added = asyncio.run(go())
    console.print(f"{added} adhésions {year} enregistrées ({len(targets)} départements)")


@app.command()
def run(
    year: Annotated[int, typer.Option(min=2000, max=2100)],
    departement: Annotated[list[str] | None, typer.Option("-d", "--departement")] = None,
    batch: Annotated[int, typer.Option(min=1, max=5000)] = 500,
) -> None:
    """Invoice every active member of the year that has no cotisation invoice yet."""

    async def go() -> RunProgress:
        settings = service_settings(NAME)
        await asyncio.to_thread(upgrade, MIGRATIONS, settings.database_url)
        engine = make_engine(settings.database_url, pool_size=2)
        unit_of_work = bootstrap.standalone_unit_of_work(make_session_factory(engine), NAME)
        try:
            with Progress(
                TextColumn("Appel de cotisations {task.fields[year]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[euros]}"),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                task = progress.add_task("run", total=None, year=year, euros="")

                def show(p: RunProgress) -> None:
                    progress.update(
                        task, total=p.members, completed=p.issued, euros=euros(p.amount_incl_tax)
                    )

                plan = await open_run(unit_of_work, year, list(departement or []) or None, _now())
                return await run_cotisations(
                    unit_of_work, plan, _now, on_progress=show, batch=batch
                )
        finally:
            await engine.dispose()

    started = time.perf_counter()
    result = asyncio.run(go())
    elapsed = time.perf_counter() - started
    rate = result.issued / elapsed if elapsed else 0.0
    refused = len(result.refused)
    console.print(
        f"{result.issued} factures émises sur {result.members} adhérents "
        f"({result.members - result.issued - refused} déjà facturés), "
        f"{euros(result.amount_incl_tax)}, {elapsed:.1f} s, {rate:.0f} factures/s"
    )
    if refused:
        # Their buyer account requires what a cotisation lacks (ADR 0017): no number taken.
        console.print(
            f"{refused} adhérents non facturés, facture refusée avant numérotation "
            f"(compte acheteur) : {', '.join(result.refused[:20])}" + (" …" if refused > 20 else "")
        )


if __name__ == "__main__":
    app()
