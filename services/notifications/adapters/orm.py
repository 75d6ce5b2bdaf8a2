"""Tables of the notifications database (its own aggregates arrive with issue #5)."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
