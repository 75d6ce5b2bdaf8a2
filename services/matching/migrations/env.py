"""Alembic environment of the matching database."""

from services.matching.adapters.orm import metadata
from shared.db.migrations import run_env
from shared.messaging.tables import MESSAGING_METADATA

run_env([metadata, MESSAGING_METADATA])
