"""``mg-token``: mint a bearer token for local use and tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from shared.auth.tokens import Role, mint
from shared.settings import AuthSettings

app = typer.Typer(help="Mint a JWT bearer token signed with MG_JWT_SECRET.")


@app.command()
def main(
    role: Annotated[Role, typer.Option(help="collectivite, actor, departement or admin")],
    departement: Annotated[str | None, typer.Option(help="Département code, e.g. 49")] = None,
    scope: Annotated[
        str | None, typer.Option(help="INSEE code / SIREN of the collectivité, or the actor's id")
    ] = None,
    subject: Annotated[str, typer.Option(help="Who the token names")] = "local-user",
    hours: Annotated[int, typer.Option(min=1, max=24 * 30, help="Validity")] = 12,
) -> None:
    try:
        token = mint(
            AuthSettings(),
            role=role,
            subject=subject,
            departement=departement,
            scope=scope,
            ttl=timedelta(hours=hours),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(token)


if __name__ == "__main__":
    app()
