"""Tables of the requests database."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData()

demandes = Table(
    "demandes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("departement", String(3), nullable=False),
    Column("requester_kind", String(10), nullable=False),
    Column("requester_code", String(9), nullable=False),
    Column("requester_name", String(200), nullable=False),
    Column("requester_population", Integer, nullable=False),
    # Personal data of the contact: kept here and in the event that notifications needs.
    Column("contact", JSONB, nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("themes", ARRAY(String(40)), nullable=False),
    Column("phase", String(20), nullable=False),
    Column("estimated_budget", Numeric(14, 2), nullable=True),
    Column("wished_start", Date, nullable=True),
    Column("wished_end", Date, nullable=True),
    Column("channel", String(10), nullable=False),
    Column("submitted_by", String(200), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False),
    Column("status_changed_at", DateTime(timezone=True), nullable=True),
    Column("status_detail", Text, nullable=True),
    Column("withdrawn_reason", Text, nullable=True),
    Column("correlation_id", String(64), nullable=True),
    Column("project_id", Uuid, nullable=False),
    Column("phase_number", Integer, nullable=False, server_default="1"),
    # At most one next phase per demande: two clicks on "next phase" open one.
    Column("previous_demande_id", Uuid, nullable=True, unique=True),
    Column("carried_deliverables", ARRAY(Text), nullable=False, server_default="{}"),
    Column("deliverables", ARRAY(Text), nullable=False, server_default="{}"),
    Column("suspected_duplicate_of", ARRAY(Uuid), nullable=False, server_default="{}"),
    Index("demandes_project_idx", "project_id", "phase_number"),
    Index("demandes_departement_status_idx", "departement", "status", "submitted_at"),
    Index("demandes_requester_idx", "requester_code", "submitted_at"),
    Index("demandes_themes_idx", "themes", postgresql_using="gin"),
)


# What the requests service knows of the matching of each demande, from matching's events.
demande_assignments = Table(
    "demande_assignments",
    metadata,
    Column("assignment_id", Uuid, primary_key=True),
    Column("request_id", Uuid, nullable=False),
    Column("actor_id", String(80), nullable=False),
    Column("actor_name", String(200), nullable=False),
    Column("lead", Boolean, nullable=False),
    Column("needs", ARRAY(String(40)), nullable=False),
    Column("status", String(20), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("demande_assignments_request_idx", "request_id"),
)


# A project: what a collectivité carries across phases, one demande per phase (ADR 0015).
projects = Table(
    "projects",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("departement", String(3), nullable=False),
    Column("requester_code", String(9), nullable=False),
    Column("title", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The last project_revision its events carried.
    Column("revision", Integer, nullable=False, server_default="0"),
)
