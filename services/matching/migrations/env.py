"""Alembic environment of the matching database."""

from services.matching.adapters.orm import metadata
from shared.db.messaging_tables import MESSAGING_METADATA
from shared.db.migrations import run_env

run_env([metadata, MESSAGING_METADATA])
