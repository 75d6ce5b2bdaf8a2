"""``/metrics`` behind a scrape token (ADR 0021): the series name routes, départements
and volumes, which are nobody's business but the operators'.

Unset (local use), the endpoint is open; production refuses to start without a token
(:mod:`shared.production`). Prometheus sends it as ``authorization.credentials``.
"""

from __future__ import annotations

import hmac

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.http.errors import error_body


class ScrapeToken:
    """Wraps the metrics ASGI app: 401 unless ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.expected is not None and scope["type"] == "http":
            offered = dict(scope.get("headers", ())).get(b"authorization", b"")
            if not hmac.compare_digest(offered, self.expected):
                answer = JSONResponse(
                    error_body("Jeton de collecte des métriques requis."),
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)
