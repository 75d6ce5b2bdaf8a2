"""``mg-report``: the activity report of a département for a year or a month.

    mg-report --departement 49 --year 2027 [--month 3] [--out docs/reports/49-2027] [--rebuild]

writes ``rapport.html`` (SVG charts, French formats), one CSV per table, ``open-data.csv``
(anonymised aggregates, counts below 5 suppressed) and ``open-data.schema.json`` (its
Table Schema). The figures come from the reports' projection, built from events only;
``--rebuild`` first empties the département's part of it and replays its topics from
offset 0 (``reports.REPORTED_EVENTS``; the records of other départements are skipped
unparsed), which gives the same figures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.resources import bootstrap
from services.resources.domain.report_figures import Period
from services.resources.entrypoints.main import MIGRATIONS, NAME
from services.resources.service_layer import reports
from services.resources.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.messaging.replay import TopicReplay
from shared.refdata import get_territories
from shared.settings import KafkaSettings

console = Console(stderr=True)
# The command acts as the département's team: it reads what that team may read.
OPERATOR = "cli:mg-report"


async def rebuild(
    new_uow: Callable[[], UnitOfWork],
    kafka: KafkaSettings,
    departement: str | None = None,
    client_id: str = f"{NAME}-rebuild",
) -> tuple[int, int]:
    """Empty the projection (of ``departement`` only, when given: the records keyed by
    others are skipped unparsed) and replay its topics from offset 0; returns (records
    read, facts added)."""
    territories = get_territories()
    async with new_uow() as uow:
        await reports.reset(uow, departement)
    keys = [departement] if departement is not None else None
    read = added = 0
    for topic, models in reports.REPORTED_EVENTS.items():
        types = [m.event_type for m in models]
        # As the service itself (ADR 0019): the topics it reads are the ones it replays.
        reader = kafka.principal(NAME)
        async with TopicReplay(reader, topic, types, client_id=client_id, keys=keys) as replay:
            async for batch in replay.batches():
                async with new_uow() as uow:
                    added += await reports.replay(
                        uow,
                        [(r.envelope.id, r.payload) for r in batch],
                        territories,
                        departement,
                    )
            read += replay.read
    return read, added


async def report_files(
    new_uow: Callable[[], UnitOfWork], period: Period, now: datetime
) -> dict[str, str]:
    """File name → content of the report of ``period``."""
    territories = get_territories()
    principal = Principal(Role.DEPARTEMENT, OPERATOR, period.departement)
    async with new_uow() as uow:
        report = await reports.activity_report(uow, principal, period, territories)
    found = territories.departement(period.departement)
    name = found.nom if found is not None else period.departement
    return bootstrap.report_documents(report, name, now)


def write_files(files: dict[str, str], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, content in files.items():
        path = out / file_name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def run(
    departement: Annotated[str, typer.Option(help="Code du département, ex. 49")],
    year: Annotated[int, typer.Option(min=2000, max=2100, help="Année")],
    month: Annotated[int | None, typer.Option(min=1, max=12, help="Mois (1–12)")] = None,
    out: Annotated[Path | None, typer.Option(help="Dossier où écrire les fichiers")] = None,
    rebuild_first: Annotated[
        bool,
        typer.Option(
            "--rebuild",
            help="Reconstruire d'abord la part du département dans la projection, depuis "
            "l'offset 0 des sujets",
        ),
    ] = False,
) -> None:
    """Rapport d'activité d'un département : HTML, CSV par tableau, open data."""
    if get_territories().departement(departement) is None:
        console.print(f"Département inconnu : {departement}")
        raise typer.Exit(2)
    period = Period(departement, year, month)
    target = out or Path(f"{departement}-{year}" + (f"-{month:02d}" if month else ""))

    async def go() -> dict[str, str]:
        async with bootstrap.standalone_units_of_work(NAME, MIGRATIONS) as new_uow:
            if rebuild_first:
                read, added = await rebuild(new_uow, KafkaSettings(), departement)
                console.print(f"Projection reconstruite : {read} événements relus, {added} faits.")
            return await report_files(new_uow, period, datetime.now(UTC))

    for path in write_files(asyncio.run(go()), target):
        console.print(f"écrit : {path}")


def main() -> None:
    typer.run(run)
