"""``mg-conventions``: the conventions' expiry, from a terminal.

    mg-conventions expire                       expire the unsigned conventions past validity
    mg-conventions expire --at 2027-06-01T00:00:00+00:00
                                                the same as of another moment (tests, the demo)

The service runs the same sweep every minute on its own clock; this command lets an
operator, a test or the demo give the clock. What it writes goes out through the
service's outbox relay (matching then releases the actors' missions).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

from services.billing import bootstrap
from services.billing.entrypoints.main import MIGRATIONS, NAME
from services.billing.service_layer.conventions import expire_due
from shared.db.engine import make_engine, make_session_factory
from shared.db.migrations import upgrade
from shared.settings import service_settings

app = typer.Typer(help="The conventions of the billing service.", no_args_is_help=True)
console = Console()


@app.callback()
def main() -> None:
    """Conventions (devis) of the missions."""


@app.command()
def expire(
    at: Annotated[
        datetime | None, typer.Option(help="The moment to expire as of (ISO 8601); now by default")
    ] = None,
) -> None:
    """Expire every unsigned convention whose validity ended before ``--at``."""
    moment = (at or datetime.now(UTC)).astimezone(UTC)

    async def go() -> int:
        settings = service_settings(NAME)
        await asyncio.to_thread(upgrade, MIGRATIONS, settings.database_url)
        engine = make_engine(settings.database_url, pool_size=2)
        try:
            unit_of_work = bootstrap.standalone_unit_of_work(make_session_factory(engine), NAME)
            total = 0
            while True:
                async with unit_of_work() as uow:
                    expired = await expire_due(uow, moment)
                if not expired:
                    return total
                total += len(expired)
        finally:
            await engine.dispose()

    count = asyncio.run(go())
    console.print(f"{count} convention(s) expirée(s) au {moment.isoformat()}")


if __name__ == "__main__":
    app()
