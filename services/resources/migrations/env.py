"""Alembic environment of the resources database."""

from services.resources.adapters.orm import metadata
from shared.db.migrations import run_env
from shared.messaging.tables import MESSAGING_METADATA

run_env([metadata, MESSAGING_METADATA])
