"""Bodies are bounded, and only an authenticated caller's is read (ADR 0021).

FastAPI reads and parses a route's body before it resolves the route's dependencies,
the bearer token among them: an anonymous 20 MB PUT used to be read and parsed before its
401. This middleware runs first: a request that announces a body must carry a valid token
(401, nothing read) and a ``Content-Length`` within bounds (413, nothing read); a body
sent without a length (chunked) is counted as it streams and cut at the bound (413).
JSON bodies get ``max_body_bytes``; the routes that take a raw file (their OpenAPI request
body is ``application/octet-stream``), which set their own, tighter limit, get
``max_upload_bytes`` (as a backstop: they refuse an announced size themselves, in words
of their own).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth.authenticator import Authenticator
from shared.auth.tokens import InvalidToken
from shared.http.errors import error_body
from shared.settings import HttpSettings

TOO_LARGE = "Corps de requête trop volumineux : au plus {limit} octets."
UNAUTHENTICATED = "Authentification requise avant l'envoi d'un corps de requête."


class BodyGuard:
    def __init__(self, app: ASGIApp, settings: HttpSettings) -> None:
        self.app = app
        self.settings = settings
        self._uploads: list[tuple[re.Pattern[str], set[str]]] | None = None
        self._public: list[tuple[re.Pattern[str], set[str]]] | None = None

    def takes_a_file(self, scope: Scope) -> bool:
        if self._uploads is None:
            self._uploads = _file_routes(scope["app"].openapi())
        for pattern, methods in self._uploads:
            if scope["method"] in methods and pattern.match(scope["path"]):
                return True
        return False

    def is_public(self, scope: Scope) -> bool:
        """An operation that asks no token (a survey answered through its signed link)."""
        if self._public is None:
            self._public = _public_routes(scope["app"].openapi())
        return any(
            scope["method"] in methods and pattern.match(scope["path"])
            for pattern, methods in self._public
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        chunked = "transfer-encoding" in headers
        if not chunked and (length is None or length.strip() == "0"):
            await self.app(scope, receive, send)
            return
        if not self.is_public(scope):
            authenticator: Authenticator = scope["app"].state.authenticator
            scheme, _, token = headers.get("authorization", "").partition(" ")
            try:
                if scheme.lower() != "bearer" or not token:
                    raise InvalidToken("no bearer token")
                principal = await authenticator.principal(token.strip())
            except InvalidToken:
                await self._refuse(scope, receive, send, 401, UNAUTHENTICATED)
                return
            scope.setdefault("state", {})["principal"] = principal
        judged_by_route = self.takes_a_file(scope)
        limit = self.settings.max_upload_bytes if judged_by_route else self.settings.max_body_bytes
        # A file route refuses an announced size itself, with its own bound and words; the
        # streamed count below stays its backstop.
        if (
            length is not None
            and not judged_by_route
            and (not length.strip().isdigit() or int(length) > limit)
        ):
            await self._refuse(scope, receive, send, 413, TOO_LARGE.format(limit=limit))
            return
        await self.app(scope, _counted(receive, limit), send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
        headers = {"Connection": "close"}
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        answer = JSONResponse(error_body(detail), status_code=status, headers=headers)
        await answer(scope, receive, send)


def _file_routes(document: dict[str, Any]) -> list[tuple[re.Pattern[str], set[str]]]:
    """The operations of the app's OpenAPI document whose body is a raw file."""
    found = []
    for path, operations in document.get("paths", {}).items():
        methods = {
            method.upper()
            for method, operation in operations.items()
            if "application/octet-stream" in operation.get("requestBody", {}).get("content", {})
        }
        if methods:
            found.append((compile_path(path)[0], methods))
    return found


def _public_routes(document: dict[str, Any]) -> list[tuple[re.Pattern[str], set[str]]]:
    """The operations of the app's OpenAPI document that declare no security requirement:
    their own signed link is the credential (their body is still bounded)."""
    found = []
    for path, operations in document.get("paths", {}).items():
        methods = {
            method.upper()
            for method, operation in operations.items()
            if isinstance(operation, dict) and "requestBody" in operation
            if not operation.get("security")
        }
        if methods:
            found.append((compile_path(path)[0], methods))
    return found


def _counted(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                # Raised inside the route's body read, which lets an HTTPException through
                # (any other error there becomes FastAPI's 400).
                raise HTTPException(
                    413, TOO_LARGE.format(limit=limit), headers={"Connection": "close"}
                )
        return message

    return counted
