"""``mg-catalogue``: load actor catalogues into the matching database.

    mg-catalogue load --shipped            the catalogues shipped for 49, 35 and 24
    mg-catalogue load path/to/44.json      a département's own file

Each actor that is new or changed goes out as an event on ``matching.actor.v1``
through the outbox, like a change made over the HTTP API.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from services.matching import bootstrap
from services.matching.domain.catalogue import (
    CatalogueError,
    load_shipped,
    read_catalogue,
    shipped_departements,
)
from services.matching.domain.model import Actor
from services.matching.entrypoints.main import MIGRATIONS, NAME
from services.matching.service_layer.actors import load_catalogue
from shared.auth.tokens import Principal, Role

app = typer.Typer(help="Actor catalogues of the matching service.", no_args_is_help=True)

OPERATOR = Principal(Role.ADMIN, "mg-catalogue", None)


@app.callback()
def catalogues() -> None:
    """Actor catalogues of the matching service."""
    # With a callback, Typer keeps ``load`` a subcommand, as the usage above says; a lone
    # command would otherwise become the program itself and take "load" for a file.


async def _save(actors: list[Actor]) -> int:
    async with bootstrap.standalone_units_of_work(NAME, MIGRATIONS) as unit_of_work:
        uow = unit_of_work()
        async with uow:
            return await load_catalogue(uow, OPERATOR, actors, datetime.now(UTC))


@app.command()
def load(
    files: Annotated[list[Path] | None, typer.Argument(help="Catalogue files (JSON)")] = None,
    shipped: Annotated[bool, typer.Option(help="Load the shipped catalogues")] = False,
) -> None:
    """Register or update every actor of the given catalogues."""
    actors: list[Actor] = []
    try:
        if shipped:
            for departement in shipped_departements():
                actors += load_shipped(departement)
        for file in files or []:
            actors += read_catalogue(file)
    except CatalogueError as exc:
        typer.echo(f"catalogue invalide : {exc}", err=True)
        raise typer.Exit(2) from exc
    if not actors:
        typer.echo("rien à charger : donnez un fichier ou --shipped", err=True)
        raise typer.Exit(2)
    changed = asyncio.run(_save(actors))
    typer.echo(f"{len(actors)} acteurs lus, {changed} enregistrés ou modifiés")


if __name__ == "__main__":
    app()
