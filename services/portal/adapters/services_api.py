"""The four services' HTTP APIs, called with the signed-in person's bearer token.

The portal owns no data: every page is made of these answers. A refusal keeps the
service's status and its French messages (``{"detail", "errors": [{"field", "message"}]}``)
so that a page can show them next to the fields."""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpx

SERVICES = ("requests", "matching", "billing", "notifications")

# Seconds a page waited for the services (calls made together overlap, so this may exceed
# the page's time): set to a fresh list per page by the portal's middleware.
SERVICE_SECONDS: ContextVar[list[float] | None] = ContextVar("service_seconds", default=None)


@dataclass
class ApiError(Exception):
    status: int
    detail: str
    errors: list[dict[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Download:
    content: bytes
    media_type: str
    disposition: str | None


def _error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        return ApiError(response.status_code, response.text[:500] or response.reason_phrase)
    if not isinstance(body, dict):
        return ApiError(response.status_code, str(body)[:500])
    detail = body.get("detail")
    if isinstance(detail, list):
        # FastAPI's own validation shape, should a route not use the kernel's mapping.
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", [])[1:]), "message": e.get("msg", "")}
            for e in detail
        ]
        return ApiError(response.status_code, "La demande contient des erreurs.", errors)
    return ApiError(response.status_code, str(detail), list(body.get("errors") or []))


class ServicesApi:
    """One pooled client per service, shared by every request of the portal."""

    def __init__(self, urls: Mapping[str, str], timeout: float) -> None:
        self._clients = {
            name: httpx.AsyncClient(
                base_url=urls[name],
                timeout=timeout,
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
            )
            for name in SERVICES
        }

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def ready(self) -> dict[str, bool]:
        out = {}
        for name, client in self._clients.items():
            try:
                out[name] = (await client.get("/health/live")).status_code == 200
            except httpx.HTTPError:
                out[name] = False
        return out

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        token: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> Any:
        response = await self._send(service, method, path, token, params, json, content)
        if response.status_code >= 400:
            raise _error(response)
        if not response.content:
            return None
        return response.json()

    async def download(
        self, service: str, path: str, token: str, params: Mapping[str, Any] | None = None
    ) -> Download:
        response = await self._send(service, "GET", path, token, params, None, None)
        if response.status_code >= 400:
            raise _error(response)
        return Download(
            response.content,
            response.headers.get("content-type", "application/octet-stream"),
            response.headers.get("content-disposition"),
        )

    async def _send(
        self,
        service: str,
        method: str,
        path: str,
        token: str,
        params: Mapping[str, Any] | None,
        json: Any,
        content: bytes | None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        if content is not None:
            headers["Content-Type"] = "application/octet-stream"
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        started = time.perf_counter()
        try:
            return await self._clients[service].request(
                method, path, params=clean, json=json, content=content, headers=headers
            )
        except httpx.HTTPError as exc:
            raise ApiError(
                503, "Service momentanément indisponible ; réessayez dans quelques secondes."
            ) from exc
        finally:
            waited = SERVICE_SECONDS.get()
            if waited is not None:
                waited.append(time.perf_counter() - started)
