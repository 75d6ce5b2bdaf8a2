"""The client of the ANCT "Les Communs" API: ``POST /projets``, the idempotent upsert
keyed on our service (its API key) and our project id (``externalId``)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from services.notifications.domain.delivery import DeliveryFailed, http_failure


class LesCommunsClient:
    def __init__(self, base_url: str, api_key: str, timeout_seconds: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout_seconds
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._base_url,
                timeout=httpx.Timeout(self._timeout),
                follow_redirects=False,
                headers={
                    "Authorization": f"Bearer {self._api_key}",
                    "User-Agent": "MatiereGrise-LesCommuns/1.0",
                },
            )
        return self._client

    async def upsert(self, body: dict[str, Any]) -> str:
        """The project's id at Les Communs; raises DeliveryFailed (permanent for a 4xx)."""
        try:
            async with asyncio.timeout(self._timeout):
                answer = await self._http().post("/projets", json=body)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise DeliveryFailed("timeout", f"no answer within {self._timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed("connection_error", type(exc).__name__) from exc
        failure = http_failure(answer.status_code)
        if failure is not None:
            raise DeliveryFailed(
                failure.reason, answer.text[:300], permanent=failure.permanent
            ) from None
        try:
            return str(answer.json()["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DeliveryFailed("bad_answer", answer.text[:300]) from exc

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
