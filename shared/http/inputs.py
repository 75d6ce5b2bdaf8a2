"""Query parameters and path segments with control characters are refused, before any
route reads them.

Bodies refuse them through their contracts (``shared.contracts.base.Text`` and ``Line``);
a query parameter or a path segment reached PostgreSQL as it was, and a NUL byte there
made the database answer an error and the API a 500 (found by the OpenAPI fuzz test:
``GET /v1/requests?commune=PIx%C2%BE%00…``). One check for every route of every service.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.contracts.base import CONTROL_CHARACTERS
from shared.errors import FieldError
from shared.http.errors import error_body

MESSAGE = "Caractères de contrôle interdits."


def control_character_errors(path: str, query_string: bytes) -> list[FieldError]:
    """The fields (``chemin`` or the query parameter's name) that hold a control character."""
    errors = [FieldError("chemin", MESSAGE)] if CONTROL_CHARACTERS.search(path) else []
    query = query_string.decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        if CONTROL_CHARACTERS.search(name) or CONTROL_CHARACTERS.search(value):
            field = CONTROL_CHARACTERS.sub("?", name) or "requête"
            errors.append(FieldError(field, MESSAGE))
    return errors


class RefuseControlCharacters:
    """ASGI middleware: 422 in French for a control character in the path or the query."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            errors = control_character_errors(scope["path"], scope.get("query_string", b""))
            if errors:
                body = error_body("La demande contient des erreurs.", errors)
                await JSONResponse(body, status_code=422)(scope, receive, send)
                return
        await self.app(scope, receive, send)
