"""``mg-matching rebuild-memberships``: matching's projection of the adhésions, rebuilt from
offset 0 of ``billing.adhesion.v1`` (kept without time limit for that, ADR 0012).

The projection is emptied and every registration and end replayed in one transaction,
with a progress bar; the running service keeps routing on the old projection until the
new one is committed, and its own subscription carries on with what comes after.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.matching import bootstrap
from services.matching.service_layer.memberships import rebuild
from shared.contracts.base import EventPayload
from shared.contracts.billing import AdhesionEnded, AdhesionRegistered
from shared.contracts.topics import BILLING_ADHESION
from shared.messaging.replay import TopicReplay
from shared.settings import KafkaSettings

console = Console()


async def rebuild_from_topic(
    name: str, migrations: Path, kafka: KafkaSettings
) -> tuple[int, int, int]:
    """Rebuild; returns (records read, records rejected, adhésions held)."""
    types = (AdhesionRegistered.event_type, AdhesionEnded.event_type)
    async with (
        bootstrap.standalone_units_of_work(name, migrations) as unit_of_work,
        TopicReplay(
            kafka.principal(name), BILLING_ADHESION.name, types, client_id=f"{name}-rebuild"
        ) as replay,
    ):
        with Progress(
            TextColumn(f"Relecture de {BILLING_ADHESION.name}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("replay", total=replay.total)

            async def history() -> AsyncIterator[list[EventPayload]]:
                async for batch in replay.batches():
                    yield [record.payload for record in batch]
                    progress.update(task, completed=replay.read)

            held = await rebuild(unit_of_work(), history())
        return replay.read, replay.rejected, held


def rebuild_memberships(name: str, migrations: Path) -> None:
    started = time.perf_counter()
    read, rejected, held = asyncio.run(rebuild_from_topic(name, migrations, KafkaSettings()))
    console.print(
        f"{read} événements relus, {held} adhésions dans la projection "
        f"({rejected} enregistrements invalides ignorés, {time.perf_counter() - started:.1f} s)"
    )
