"""Tables of the matching database (its own aggregates arrive with issue #3)."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
