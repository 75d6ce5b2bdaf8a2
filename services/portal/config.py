"""Settings of the portal (prefix ``MG_PORTAL_``): where the four services answer, how the
session cookie is signed and sent, and how people sign in."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import service_settings


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MG_PORTAL_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8005, ge=1, le=65535)
    log_level: str = "INFO"
    # Empty means the service on this machine, on its own MG_<SERVICE>_HTTP_PORT.
    requests_url: str = ""
    matching_url: str = ""
    billing_url: str = ""
    notifications_url: str = ""
    # Signs the session cookie (itsdangerous); production sets its own.
    session_secret: SecretStr = SecretStr("matiere-grise-portal-local-session-secret-change-me")
    session_hours: int = Field(default=10, ge=1, le=24)
    # "local": the dev sign-in page mints the services' HS256 token (MG_JWT_SECRET) for the
    # role and scope one picks. "oidc": sign-in through the identity provider (not built yet).
    sign_in: Literal["local", "oidc"] = "local"
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    # The cookie is always Secure; Chromium and Firefox keep Secure cookies from
    # http://127.0.0.1 and http://localhost (potentially trustworthy origins), so the local
    # portal over plain HTTP needs no exception.
    cookie_secure: bool = True
    # The DSFR's dist/ folder; empty means services/portal/node_modules/@gouvfr/dsfr/dist,
    # where `npm ci --ignore-scripts` puts it (infra/setup.sh); the image sets its own.
    dsfr_dir: str = ""
    # Page size of every list.
    page_size: int = Field(default=20, ge=5, le=200)
    timeout_seconds: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _local_services(self) -> PortalSettings:
        for name in ("requests", "matching", "billing", "notifications"):
            if not getattr(self, f"{name}_url"):
                port = service_settings(name).http_port
                setattr(self, f"{name}_url", f"http://127.0.0.1:{port}")
        return self
