"""A file of a service handed to the browser as a download, never shown inline: a
deliverable or an HTML invoice from a service must not run in the portal's origin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Response

from services.portal.bootstrap import ServicesApi


async def forward(
    api: ServicesApi,
    service: str,
    path: str,
    token: str,
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> Response:
    found = await api.download(service, path, token, params)
    disposition = found.disposition or f'attachment; filename="{name or "document"}"'
    if name and not found.disposition:
        disposition = f'attachment; filename="{name}"'
    if not disposition.startswith("attachment"):
        disposition = f'attachment; filename="{name or "document"}"'
    return Response(
        found.content,
        media_type=found.media_type,
        headers={
            "Content-Disposition": disposition,
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
