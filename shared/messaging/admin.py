"""``mg-topics``: create every declared topic, idempotently, and list them."""

from __future__ import annotations

import asyncio
import contextlib

import typer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.contracts.topics import TOPICS, all_topic_names
from shared.settings import KafkaSettings

app = typer.Typer(help="Kafka topics of Matière Grise.", no_args_is_help=True)

DLQ_PARTITIONS = 3


async def ensure_topics(kafka: KafkaSettings, replication_factor: int = 1) -> list[str]:
    """Create the topics that are missing; returns the names it created."""
    partitions = {t.name: t.partitions for t in TOPICS}
    admin = AIOKafkaAdminClient(
        bootstrap_servers=kafka.bootstrap_servers, client_id="mg-topics", request_timeout_ms=30_000
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in all_topic_names() if name not in existing]
        if missing:
            # Another process may create some of them first: that is what we wanted.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(
                            name,
                            num_partitions=partitions.get(name, DLQ_PARTITIONS),
                            replication_factor=replication_factor,
                        )
                        for name in missing
                    ]
                )
        return missing
    finally:
        await admin.close()


@app.command()
def create(
    replication_factor: int = typer.Option(1, min=1, help="Replicas of each topic"),
) -> None:
    """Create every declared topic that does not exist yet."""
    created = asyncio.run(ensure_topics(KafkaSettings(), replication_factor))
    typer.echo(f"{len(created)} topic(s) created, {len(all_topic_names())} declared")


@app.command(name="list")
def list_() -> None:
    """Print the declared topics."""
    for name in all_topic_names():
        typer.echo(name)


if __name__ == "__main__":
    app()
