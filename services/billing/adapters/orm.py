"""Tables of the billing database: tariffs, adhésions, invoices and their numbering."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

MONEY = Numeric(14, 2)

# Versioned: a new version is added, a used one is never changed.
tariffs = Table(
    "tariffs",
    metadata,
    Column("departement", String(3), nullable=False),
    Column("year", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("document", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    PrimaryKeyConstraint("departement", "year", "version"),
)

adhesions = Table(
    "adhesions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("departement", String(3), nullable=False),
    Column("year", Integer, nullable=False),
    Column("collectivite_code", String(9), nullable=False),
    Column("collectivite_kind", String(10), nullable=False),
    Column("collectivite_name", String(200), nullable=False),
    Column("population", Integer, nullable=False),
    # active, ended
    Column("status", String(10), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    # One adhésion per collectivité and year: the business key of the cotisation.
    UniqueConstraint("year", "collectivite_code", name="adhesions_year_collectivite_key"),
    Index("adhesions_departement_year_idx", "departement", "year", "collectivite_code"),
)


def _counters(name: str) -> Table:
    """The last number given per département and year of one gapless series (invoices,
    conventions); its row lock serialises issuance (``adapters.numbering``)."""
    return Table(
        name,
        metadata,
        Column("departement", String(3), nullable=False),
        Column("year", Integer, nullable=False),
        Column("last_number", BigInteger, nullable=False),
        PrimaryKeyConstraint("departement", "year"),
    )


invoice_counters = _counters("invoice_counters")
convention_counters = _counters("convention_counters")

# Invoices and credit notes: written once, never updated nor deleted.
invoices = Table(
    "invoices",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("number", String(40), nullable=False, unique=True),
    Column("departement", String(3), nullable=False),
    Column("year", Integer, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    # invoice, credit_note
    Column("document_kind", String(12), nullable=False),
    # cotisation, mission
    Column("invoice_kind", String(12), nullable=False),
    Column("collectivite_code", String(9), nullable=False),
    Column("collectivite_kind", String(10), nullable=False),
    Column("collectivite_name", String(200), nullable=False),
    Column("tariff_version", Integer, nullable=False),
    Column("lines", JSONB, nullable=False),
    Column("total_excl_tax", MONEY, nullable=False),
    Column("total_vat", MONEY, nullable=False),
    Column("total_incl_tax", MONEY, nullable=False),
    Column("refers_to", Uuid, nullable=True),
    Column("reason", Text, nullable=True),
    # "cotisation:2027:49007", "mission:<assignment>", "credit:<invoice>": never twice.
    Column("source_key", String(120), nullable=False, unique=True),
    Column("request_id", Uuid, nullable=True),
    Column("assignment_id", Uuid, nullable=True),
    # The signed convention a mission invoice follows, as the invoice cites it.
    Column("convention_number", String(40), nullable=True),
    Column("engagement_number", String(50), nullable=True),
    Column("service_code", String(100), nullable=True),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("departement", "year", "sequence", name="invoices_sequence_key"),
    Index("invoices_collectivite_idx", "collectivite_code", "year"),
)

cotisation_runs = Table(
    "cotisation_runs",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("year", Integer, nullable=False),
    # Empty list: every département.
    Column("departements", JSONB, nullable=False),
    # running, finished, failed, interrupted
    Column("status", String(12), nullable=False),
    Column("members", Integer, nullable=False),
    Column("issued", Integer, nullable=False),
    Column("already_invoiced", Integer, nullable=False),
    Column("amount_incl_tax", MONEY, nullable=False),
    Column("error", Text, nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
)

# One row per version of a convention (0: the convention, n: its n-th avenant). The
# columns are what is searched and locked; ``document`` holds the rest of the model.
conventions = Table(
    "conventions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("base_id", Uuid, nullable=False),
    Column("number", String(40), nullable=False, unique=True),
    Column("departement", String(3), nullable=False),
    Column("year", Integer, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("demande_id", Uuid, nullable=False),
    Column("assignment_id", Uuid, nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("collectivite_code", String(9), nullable=False),
    # brouillon, envoyee, signee, refusee, expiree
    Column("status", String(10), nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=False),
    Column("total_incl_tax", MONEY, nullable=False),
    Column("document", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # One convention per demande, one version n per convention: the business keys.
    UniqueConstraint("demande_id", "version", name="conventions_demande_version_key"),
    UniqueConstraint("departement", "year", "sequence", "version", name="conventions_sequence_key"),
    Index("conventions_assignment_idx", "assignment_id"),
    Index("conventions_departement_status_idx", "departement", "status"),
    Index(
        "conventions_unsigned_idx",
        "valid_until",
        postgresql_where="status IN ('brouillon', 'envoyee')",
    ),
)

# Completed missions that no invoice follows (no signed convention): kept and shown, so
# that the team sees them, never invoiced without the collectivité's signature.
unbilled_completions = Table(
    "unbilled_completions",
    metadata,
    Column("assignment_id", Uuid, primary_key=True),
    Column("demande_id", Uuid, nullable=False),
    Column("departement", String(3), nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("collectivite_code", String(9), nullable=False),
    Column("reason", Text, nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=False),
    Index("unbilled_completions_departement_idx", "departement", "completed_at"),
)

# The buyer account of a collectivité in a département (ADR 0017): changed in place, each
# change published on ``billing.buyer.v1``. Searched by SIRET when the Chorus Pro
# directory is imported.
buyer_accounts = Table(
    "buyer_accounts",
    metadata,
    Column("departement", String(3), nullable=False),
    Column("collectivite_code", String(9), nullable=False),
    Column("collectivite_kind", String(10), nullable=False),
    Column("collectivite_name", String(200), nullable=False),
    Column("siret", String(14), nullable=False),
    Column("service_code", String(100), nullable=True),
    Column("service_code_required", Boolean, nullable=False),
    Column("engagement_required", Boolean, nullable=False),
    # The directory's "Gestion service ou engagement": one of the two, at least.
    Column("service_or_engagement_required", Boolean, nullable=False),
    # The service codes the directory lists for the SIRET ([]: not imported).
    Column("services", JSONB, nullable=False),
    # api, convention, directory: who changed it last.
    Column("source", String(12), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("departement", "collectivite_code"),
    Index("buyer_accounts_siret_idx", "siret"),
)
