"""``mg-topics``: create every declared topic and its ACLs, idempotently, and list them.

It connects as the ``admin`` principal (a super user of the broker) unless
``MG_KAFKA_SASL_USERNAME`` names another.
"""

from __future__ import annotations

import asyncio
import contextlib

import typer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from shared.contracts.topics import all_topic_names, declared_topics
from shared.messaging.acls import ADMIN, acls, apply_acls, principals
from shared.messaging.broker import client_options
from shared.settings import IntegrationSettings, KafkaSettings

app = typer.Typer(help="Kafka topics of Matière Grise.", no_args_is_help=True)

DLQ_PARTITIONS = 3


async def ensure_topics(
    kafka: KafkaSettings,
    replication_factor: int = 1,
    served: tuple[str, ...] | None = None,
) -> list[str]:
    """Create the topics that are missing, and the ACLs on a secured broker; returns the
    names of the topics it created.

    Topic-level settings (``Topic.configs``: retention.ms=-1 for the topics that rebuild a
    projection) are given at creation and set again on topics that already exist, so that
    a broker set up before a topic was declared ``keep_forever`` gets it too.
    """
    served = served if served is not None else IntegrationSettings().codes
    topics = declared_topics(served)
    partitions = {t.name: t.partitions for t in topics}
    configs = {t.name: t.configs() for t in topics if t.configs()}
    admin = AIOKafkaAdminClient(
        **client_options(kafka.principal(ADMIN)), client_id="mg-topics", request_timeout_ms=30_000
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in all_topic_names(served) if name not in existing]
        if missing:
            # Another process may create some of them first: that is what we wanted.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(
                            name,
                            num_partitions=partitions.get(name, DLQ_PARTITIONS),
                            replication_factor=replication_factor,
                            topic_configs=configs.get(name, {}),
                        )
                        for name in missing
                    ]
                )
        kept = [name for name in configs if name in existing]
        if kept:
            await admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, name, configs[name]) for name in kept]
            )
        # A plaintext broker (the dev switch) has no authorizer, and so no ACLs to keep.
        if kafka.security_protocol.startswith("SASL"):
            await apply_acls(admin, acls(served))
        return missing
    finally:
        await admin.close()


@app.command()
def create(
    replication_factor: int = typer.Option(1, min=1, help="Replicas of each topic"),
) -> None:
    """Create every declared topic that does not exist yet."""
    created = asyncio.run(ensure_topics(KafkaSettings(), replication_factor))
    served = IntegrationSettings().codes
    typer.echo(f"{len(created)} topic(s) created, {len(all_topic_names(served))} declared")


@app.command(name="principals")
def principals_() -> None:
    """Print the broker's client principals, one a line (infra/ makes their passwords)."""
    for name in principals(IntegrationSettings().codes):
        typer.echo(name)


@app.command(name="acls")
def acls_() -> None:
    """Print the ACLs that ``create`` applies."""
    for acl in acls(IntegrationSettings().codes):
        pattern = "*" if acl.pattern.name == "PREFIXED" else ""
        typer.echo(
            f"User:{acl.principal:<22} {acl.operation.name:<6} "
            f"{acl.resource_type.name.lower()}:{acl.name}{pattern}"
        )


@app.command(name="list")
def list_() -> None:
    """Print the declared topics."""
    served = IntegrationSettings().codes
    configs = {t.name: t.configs() for t in declared_topics(served) if t.configs()}
    for name in all_topic_names(served):
        settings = ", ".join(f"{k}={v}" for k, v in configs.get(name, {}).items())
        typer.echo(f"{name}  ({settings})" if settings else name)


if __name__ == "__main__":
    app()
