"""Settings of the resources service's rules (``MG_RESOURCES_*``)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AlertSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MG_RESOURCES_", extra="ignore")

    # An actor whose share of proposals declined or expired over the last quarter reaches
    # this rate is signalled to its département's team (issue 17: 30 % by default)…
    alert_rate: Decimal = Field(default=Decimal("0.30"), gt=0, le=1)
    # … once it had this many proposals in the quarter: two proposals are no trend.
    alert_min_proposals: int = Field(default=5, ge=1)
