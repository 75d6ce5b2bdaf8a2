"""Webhooks: the signed POST of a CloudEvent to a subscriber's endpoint."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from services.notifications.domain.delivery import DeliveryFailed, http_failure
from services.notifications.domain.model import Delivery
from services.notifications.domain.webhook import (
    ATTEMPT_HEADER,
    CONTENT_TYPE,
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    body_of,
    signature,
)
from shared.http.ssrf import TargetGuard, UnsafeTarget, pinned_request
from shared.secret_box import SecretBox, SecretBoxError


class WebhookSender:
    def __init__(
        self,
        timeout_seconds: float,
        guard: TargetGuard,
        secret_box: SecretBox,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._timeout = timeout_seconds
        self._guard = guard
        self._box = secret_box
        self._clock = clock
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout),
                # A redirect could lead a signed event anywhere: it counts as a refusal.
                follow_redirects=False,
                limits=httpx.Limits(max_connections=500, max_keepalive_connections=50),
                headers={"User-Agent": "MatiereGrise-Webhooks/1.0"},
            )
        return self._client

    async def send(self, delivery: Delivery) -> None:
        if not delivery.url or not delivery.secret:
            raise DeliveryFailed("subscription_removed", permanent=True)
        try:
            # Checked again now, after resolution: the name may point elsewhere since the
            # subscription (DNS rebinding); the request goes to the address checked.
            target = await self._guard.check(delivery.url)
        except UnsafeTarget as exc:
            raise DeliveryFailed("unsafe_target", str(exc), permanent=True) from exc
        url, host, extensions = pinned_request(target)
        body = body_of(delivery.payload)
        headers = {
            **host,
            "Content-Type": CONTENT_TYPE,
            # Signed at each attempt: the timestamp is the attempt's, so that receivers can
            # refuse old requests without refusing our retries.
            SIGNATURE_HEADER: signature(self._secret(delivery.secret), body, int(self._clock())),
            DELIVERY_HEADER: str(delivery.id),
            ATTEMPT_HEADER: str(delivery.attempts + 1),
        }
        try:
            # httpx's timeouts bound each read; this bounds the whole exchange, so an
            # endpoint that trickles bytes cannot hold a slot longer either.
            async with (
                asyncio.timeout(self._timeout),
                self._http().stream(
                    "POST", url, content=body, headers=headers, extensions=extensions
                ) as answer,
            ):
                status = answer.status_code
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise DeliveryFailed("timeout", f"no answer within {self._timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed("connection_error", type(exc).__name__) from exc
        failure = http_failure(status)
        if failure is not None:
            raise failure

    def _secret(self, stored: str) -> str:
        try:
            return self._box.open(stored)
        except SecretBoxError as exc:
            # Sealed with a key no longer configured: no retry can sign it.
            raise DeliveryFailed("secret_unreadable", str(exc), permanent=True) from exc

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
