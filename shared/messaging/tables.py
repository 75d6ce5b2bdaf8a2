"""The outbox and processed-events tables that every service database has.

They live in every service's own database, created by that service's own
migrations (its ``env.py`` targets ``[its metadata, MESSAGING_METADATA]``), so that
the outbox row is written in the same transaction as the state change, and the
processed-event row in the same transaction as the effect of a consumed event.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

MESSAGING_METADATA = MetaData()

OUTBOX = Table(
    "outbox",
    MESSAGING_METADATA,
    # The identity gives the publication order, which keeps each key's events in order.
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("event_type", String(200), nullable=False),
    Column("topic", String(249), nullable=False),
    Column("message_key", String(64), nullable=False),
    Column("headers", JSONB, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Index("outbox_unpublished_idx", "id", postgresql_where=text("published_at IS NULL")),
)


def processed_events_table(name: str, metadata: MetaData) -> Table:
    """An inbox: ``processed_events``, or the table of a second consumer of the same events
    in one database (the projection to the integration topics, ADR 0020)."""
    return Table(
        name,
        metadata,
        Column("event_id", String(64), primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("topic", String(249), nullable=False),
        Column("kafka_partition", Integer, nullable=False),
        Column("kafka_offset", BigInteger, nullable=False),
        # "handled", or "dead_lettered" when the event was sent to the dead-letter topic.
        Column("outcome", String(20), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


PROCESSED_EVENTS = processed_events_table("processed_events", MESSAGING_METADATA)
