"""Settings of the resources service's rules (``MG_RESOURCES_*``)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.production import secret_problems


class AlertSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MG_RESOURCES_", extra="ignore")

    # An actor whose share of proposals declined or expired over the last quarter reaches
    # this rate is signalled to its département's team (issue 17: 30 % by default)…
    alert_rate: Decimal = Field(default=Decimal("0.30"), gt=0, le=1)
    # … once it had this many proposals in the quarter: two proposals are no trend.
    alert_min_proposals: int = Field(default=5, ge=1)


class SurveySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MG_RESOURCES_", extra="ignore")

    # Signs the one-time survey links (ADR 0023): a key of its own, never a token's.
    link_secret: SecretStr = SecretStr("matiere-grise-local-survey-links-change-me")

    def production_problems(self) -> list[str]:
        """What ``MG_ENV=production`` refuses in these settings (ADR 0021)."""
        return secret_problems("MG_RESOURCES_LINK_SECRET", self.link_secret.get_secret_value())
