"""Tables of the billing database (its own aggregates arrive with issue #4)."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
