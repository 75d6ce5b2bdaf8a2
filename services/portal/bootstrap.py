"""The one place that wires the portal: its settings, the services' clients, the JWT
settings the local sign-in mints with, the reference data of the territories."""

from __future__ import annotations

from dataclasses import dataclass

from services.portal.adapters.services_api import SERVICE_SECONDS, ApiError, ServicesApi
from services.portal.config import PortalSettings
from shared.refdata import Territories, get_territories
from shared.settings import AuthSettings


@dataclass
class Portal:
    settings: PortalSettings
    auth: AuthSettings
    api: ServicesApi
    territories: Territories


def build_portal(settings: PortalSettings | None = None) -> Portal:
    settings = settings or PortalSettings()
    urls = {
        "requests": settings.requests_url,
        "matching": settings.matching_url,
        "billing": settings.billing_url,
        "notifications": settings.notifications_url,
    }
    return Portal(
        settings=settings,
        auth=AuthSettings(),
        api=ServicesApi(urls, settings.timeout_seconds),
        territories=get_territories(),
    )


__all__ = ["SERVICE_SECONDS", "ApiError", "Portal", "ServicesApi", "build_portal"]
