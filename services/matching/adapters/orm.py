"""Tables of the matching database: the actor catalogue, the demandes it routes,
the assignments (proposals, then missions) and its projection of billing's adhésions."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from services.matching.domain.model import Need
from shared.contracts.vocabulary import Phase, Theme

metadata = MetaData()

actors = Table(
    "actors",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("departement", String(3), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("themes", JSONB, nullable=False),
    Column("phases", ARRAY(String(20)), nullable=False),
    Column("territory", JSONB, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("eligibility", JSONB, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("actors_departement_idx", "departement"),
)

routed_demandes = Table(
    "routed_demandes",
    metadata,
    Column("request_id", Uuid, primary_key=True),
    Column("departement", String(3), nullable=False),
    Column("requester_kind", String(10), nullable=False),
    Column("requester_code", String(9), nullable=False),
    Column("requester_population", Integer, nullable=False),
    Column("needs", JSONB, nullable=False),
    # open, unmatched, withdrawn
    Column("status", String(20), nullable=False),
    Column("uncovered", JSONB, nullable=False),
    Column("summary", Text, nullable=False),
    Column("correlation_id", String(64), nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # When the collectivité submitted it: membership is judged at that date, every round.
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    # An unmatched demande's reason code (RequestUnmatched.reason).
    Column("unmatched_reason", String(30), nullable=True),
    Index("routed_demandes_departement_status_idx", "departement", "status"),
)

# Matching's own copy of billing.adhesion.v1 (registered, ended), rebuilt from the topic by
# ``mg-matching rebuild-memberships``.
memberships = Table(
    "memberships",
    metadata,
    Column("adhesion_id", Uuid, primary_key=True),
    Column("departement", String(3), nullable=False),
    Column("collectivite_code", String(9), nullable=False),
    Column("collectivite_kind", String(10), nullable=False),
    Column("year", Integer, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Index("memberships_collectivite_idx", "collectivite_code", "year"),
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("request_id", Uuid, ForeignKey("routed_demandes.request_id"), nullable=False),
    Column("departement", String(3), nullable=False),
    Column("actor_id", String(80), ForeignKey("actors.id"), nullable=False),
    Column("requester_code", String(9), nullable=False),
    Column("needs", JSONB, nullable=False),
    Column("lead", Boolean, nullable=False),
    Column("round", Integer, nullable=False),
    # proposed, accepted, declined, expired, completed, cancelled
    Column("status", String(20), nullable=False),
    Column("criteria", JSONB, nullable=False),
    Column("reasons", Text, nullable=False),
    Column("proposed_at", DateTime(timezone=True), nullable=False),
    Column("respond_by", DateTime(timezone=True), nullable=False),
    Column("responded_at", DateTime(timezone=True), nullable=True),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("days_spent", Numeric(7, 2), nullable=True),
    Column("note", Text, nullable=True),
    Column("agent", String(200), nullable=True),
    Index("assignments_request_idx", "request_id"),
    # The load of an actor is the count of its open assignments.
    Index(
        "assignments_open_by_actor_idx",
        "actor_id",
        postgresql_where=text("status IN ('proposed', 'accepted')"),
    ),
    Index(
        "assignments_due_idx",
        "respond_by",
        postgresql_where=text("status = 'proposed'"),
    ),
    Index("assignments_actor_requester_idx", "actor_id", "requester_code"),
)

milestones = Table(
    "milestones",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("assignment_id", Uuid, ForeignKey("assignments.id"), nullable=False),
    Column("departement", String(3), nullable=False),
    Column("position", Integer, nullable=False),
    Column("title", String(200), nullable=False),
    Column("due_on", Date, nullable=False),
    # open, done
    Column("status", String(10), nullable=False),
    Column("done_at", DateTime(timezone=True), nullable=True),
    Column("done_by", String(200), nullable=True),
    Column("note", Text, nullable=True),
    Index("milestones_assignment_idx", "assignment_id", "position"),
)

deliverables = Table(
    "deliverables",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("assignment_id", Uuid, ForeignKey("assignments.id"), nullable=False),
    Column("milestone_id", Uuid, ForeignKey("milestones.id"), nullable=False),
    Column("departement", String(3), nullable=False),
    Column("name", String(200), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("added_by", String(200), nullable=False),
    Index("deliverables_assignment_idx", "assignment_id"),
)

# The bytes of the deliverables when PostgreSQL stores them (the default storage): the
# storage port's table, read only by its adapter.
deliverable_contents = Table(
    "deliverable_contents",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("content_type", String(100), nullable=False),
    Column("data", LargeBinary, nullable=False),
)

mission_handovers = Table(
    "mission_handovers",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("assignment_id", Uuid, ForeignKey("assignments.id"), nullable=False),
    Column("departement", String(3), nullable=False),
    Column("from_agent", String(200), nullable=True),
    Column("to_agent", String(200), nullable=False),
    Column("reason", Text, nullable=True),
    Column("by", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("mission_handovers_assignment_idx", "assignment_id"),
)


def needs_to_json(needs: tuple[Need, ...] | list[Need]) -> list[dict[str, str]]:
    """Needs as the JSON columns hold them."""
    return [{"theme": n.theme.value, "phase": n.phase.value} for n in needs]


def needs_from_json(raw: list[dict[str, str]]) -> tuple[Need, ...]:
    return tuple(Need(Theme(n["theme"]), Phase(n["phase"])) for n in raw)
