"""Settings of the matching service's rules (``MG_MATCHING_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.matching.domain.model import Weights
from services.matching.domain.routing import Policy


class MatchingRules(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MG_MATCHING_", extra="ignore")

    weight_coverage: float = Field(default=0.4, ge=0)
    weight_expertise: float = Field(default=0.25, ge=0)
    weight_load: float = Field(default=0.15, ge=0)
    weight_continuity: float = Field(default=0.1, ge=0)
    weight_locality: float = Field(default=0.1, ge=0)
    response_working_days: int = Field(default=5, ge=0, le=60)
    # Demonstrations and drills only: a response deadline in seconds.
    response_seconds: float | None = Field(default=None, gt=0)
    expiry_scan_seconds: float = Field(default=30.0, gt=0)
    # Per-département policy: the départements (JSON list, e.g. '["24"]') where an EPCI's
    # adhésion makes its member communes members too. Default: none.
    epci_adhesion_covers_communes: frozenset[str] = frozenset()

    def policy(self) -> Policy:
        return Policy(
            weights=Weights(
                coverage=self.weight_coverage,
                expertise=self.weight_expertise,
                load=self.weight_load,
                continuity=self.weight_continuity,
                locality=self.weight_locality,
            ),
            response_working_days=self.response_working_days,
            response_seconds=self.response_seconds,
            epci_adhesion_covers_communes=self.epci_adhesion_covers_communes,
        )


class MissionSettings(BaseSettings):
    """Where deliverables are kept and how events point at them (``MG_MATCHING_*``)."""

    model_config = SettingsConfigDict(env_prefix="MG_MATCHING_", extra="ignore")

    # postgres (default) or s3
    storage: Literal["postgres", "s3"] = "postgres"
    s3_endpoint: str = "http://127.0.0.1:9000"
    s3_bucket: str = "matiere-grise-livrables"
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_region: str = "us-east-1"
    # The base of the download URLs that events carry.
    public_url: str = "http://127.0.0.1:8002"
