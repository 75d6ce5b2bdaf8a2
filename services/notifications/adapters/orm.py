"""Tables of the notifications database: its projection of demandes and proposals, the
contacts and preferences it manages, webhook subscriptions, and the deliveries."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from shared.messaging.tables import processed_events_table

metadata = MetaData()

# What this service knows of a demande, from requests.request.* and matching.* events.
demandes = Table(
    "demandes",
    metadata,
    Column("request_id", Uuid, primary_key=True),
    Column("departement", String(3), nullable=False),
    Column("requester_code", String(9), nullable=False),
    Column("requester_name", String(200), nullable=False),
    # Personal data: used to address messages, never logged, never published. Empty until
    # its contact arrives from the restricted topic (ADR 0020).
    Column("contact_id", Uuid, nullable=True),
    Column("contact_name", String(120), nullable=True),
    Column("contact_email", String(320), nullable=True),
    Column("title", String(200), nullable=False),
    # open, done (every mission completed), withdrawn
    Column("status", String(12), nullable=False),
    Column("correlation_id", String(64), nullable=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    # The last time the requester heard of it; the "Où en êtes-vous ?" clock.
    Column("last_news_at", DateTime(timezone=True), nullable=False),
    Index("demandes_collectivite_idx", "requester_code", "departement"),
    Index("demandes_follow_up_idx", "last_news_at", postgresql_where=text("status = 'open'")),
    Index(
        "demandes_awaiting_contact_idx",
        "contact_id",
        postgresql_where=text("contact_email IS NULL"),
    ),
)

# The contacts of the demandes, from the restricted requests.contact.v1 (ADR 0020).
# Personal data: addresses messages, never logged, never published.
requester_contacts = Table(
    "requester_contacts",
    metadata,
    Column("contact_id", Uuid, primary_key=True),
    Column("departement", String(3), nullable=False),
    Column("request_id", Uuid, nullable=False),
    Column("name", String(120), nullable=False),
    Column("email", String(320), nullable=False),
    Column("phone", String(30), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

# The inbox of the projection to the integration topics: the same columns as every
# service's processed_events, a table of its own because it sees the same event ids.
integration_processed_events = processed_events_table("integration_processed_events", metadata)

proposals = Table(
    "proposals",
    metadata,
    Column("assignment_id", Uuid, primary_key=True),
    Column("request_id", Uuid, nullable=False),
    Column("departement", String(3), nullable=False),
    Column("actor_id", String(80), nullable=False),
    Column("actor_name", String(200), nullable=False),
    # proposed, accepted, declined, expired, completed, cancelled
    Column("status", String(12), nullable=False),
    Column("respond_by", DateTime(timezone=True), nullable=False),
    Column("remind_at", DateTime(timezone=True), nullable=True),
    Column("reminded_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("proposals_request_idx", "request_id"),
    Index(
        "proposals_reminder_due_idx",
        "remind_at",
        postgresql_where=text("status = 'proposed' AND reminded_at IS NULL"),
    ),
)

# The conventions sent for signature: what the reminder before their expiry needs.
convention_reminders = Table(
    "convention_reminders",
    metadata,
    Column("convention_id", Uuid, primary_key=True),
    Column("demande_id", Uuid, nullable=False),
    Column("departement", String(3), nullable=False),
    Column("number", String(40), nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=False),
    Column("total_incl_tax", String(20), nullable=False),
    Column("remind_at", DateTime(timezone=True), nullable=True),
    Column("reminded_at", DateTime(timezone=True), nullable=True),
    # Signed, refused or expired: nothing more to remind.
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Index(
        "convention_reminders_due_idx",
        "remind_at",
        postgresql_where=text("reminded_at IS NULL AND closed_at IS NULL"),
    ),
)

actor_contacts = Table(
    "actor_contacts",
    metadata,
    # Keyed within the département (ADR 0021): another's same id is another actor.
    Column("departement", String(3), primary_key=True),
    Column("actor_id", String(80), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("name", String(200), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(200), nullable=False),
)

team_contacts = Table(
    "team_contacts",
    metadata,
    Column("departement", String(3), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(200), nullable=False),
)

# A recipient within one département, under an opaque id (the URLs never carry an
# address), with what it chose to receive there (ADR 0021).
contacts = Table(
    "contacts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("departement", String(3), nullable=False),
    Column("email", String(320), nullable=False),
    Column("opted_out", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    # none, daily
    Column("digest", String(10), nullable=False, server_default="none"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("updated_by", String(200), nullable=True),
    UniqueConstraint("departement", "email", name="contacts_departement_email_key"),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Uuid, primary_key=True),
    # NULL: every département (an administrator's subscription).
    Column("departement", String(3), nullable=True),
    Column("url", String(2000), nullable=False),
    Column("event_types", JSONB, nullable=False),
    # Needed in clear to sign; never returned by the API nor logged.
    # Sealed (shared/secret_box.py): "enc:v1:" and a Fernet token.
    Column("secret", String(600), nullable=False),
    Column("description", String(200), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("removed_at", DateTime(timezone=True), nullable=True),
    Index("webhook_subscriptions_departement_idx", "departement"),
)

# One row per message, recipient and channel; its primary key, the notification id
# (uuid5 of source, recipient, channel), is what makes a second message impossible.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("channel", String(10), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("departement", String(3), nullable=False),
    Column("recipient_role", String(12), nullable=False),
    Column("recipient", String(400), nullable=False),
    # The email address; NULL for a webhook, or while awaiting the demande.
    Column("address", String(320), nullable=True),
    Column("subscription_id", Uuid, nullable=True),
    # Dispatch concurrency is limited per endpoint: "smtp", "webhook:<subscription>".
    Column("endpoint", String(60), nullable=False),
    Column("request_id", Uuid, nullable=True),
    # The template's context, or the CloudEvent of a webhook.
    Column("payload", JSONB, nullable=False),
    Column("source_event_id", String(64), nullable=False),
    Column("source_event_type", String(200), nullable=False),
    Column("correlation_id", String(64), nullable=True),
    Column("causation_id", String(64), nullable=True),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    # Due time while pending; a claim pushes it forward by the lease.
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    # Why it was skipped or dead-lettered.
    Column("reason", String(60), nullable=True),
    Column("digest_id", Uuid, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Index("deliveries_due_idx", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    Index(
        "deliveries_awaiting_idx",
        "request_id",
        postgresql_where=text("status = 'awaiting_recipient'"),
    ),
    Index("deliveries_held_idx", "address", postgresql_where=text("status = 'held'")),
    Index("deliveries_departement_status_idx", "departement", "status", "created_at"),
)

# Our projects as published to the ANCT "Les Communs" API: the newest state of each, and
# how far its publication went (ADR 0015). One row per project, whatever the events.
les_communs_projects = Table(
    "les_communs_projects",
    metadata,
    Column("project_id", Uuid, primary_key=True),
    Column("departement", String(3), nullable=False),
    # The highest project_revision heard of, and its body for POST /projets.
    Column("revision", Integer, nullable=False),
    Column("body", JSONB, nullable=False),
    # The revision Les Communs acknowledged; 0 before the first.
    Column("sent_revision", Integer, nullable=False, server_default="0"),
    # pending, sent, dead_lettered (an answer that retrying cannot change: 400, 401…)
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("les_communs_id", String(64), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index(
        "les_communs_projects_due_idx",
        "next_attempt_at",
        postgresql_where=text("status = 'pending'"),
    ),
)
