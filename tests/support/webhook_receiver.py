"""A real HTTP receiver of webhooks, as a subscriber would write it: a small ASGI app
served by uvicorn on 127.0.0.1 and a free port.

It verifies ``X-MG-Signature`` with each endpoint's secret, refuses altered bodies
(401), old timestamps (400) and an event id it has already processed (409). Each
endpoint can be told to answer 500 (``fail``, or ``fail_first`` for N requests) or to
hang (``hang``) until the receiver stops. Every attempt is logged with its time.
``fail_first`` fails the first N requests of each event, so that events of other runs on
the shared broker cannot use up the failures meant for a test's own.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal, Self

import uvicorn

Mode = Literal["ok", "fail", "fail_first", "hang"]
ASGIMessage = MutableMapping[str, Any]

TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class Attempt:
    at: float
    status: int
    event_id: str | None
    delivery_id: str | None
    attempt: str | None


@dataclass
class Endpoint:
    name: str
    secret: str
    mode: Mode = "ok"
    failures: int = 0
    attempts: list[Attempt] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)
    raw: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)

    def attempts_for(self, event_id: str) -> list[Attempt]:
        return [a for a in self.attempts if a.event_id == event_id]


def verify(secret: str, body: bytes, header: str, now: float) -> int | None:
    """The subscriber's check; None when the request is genuine and fresh."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return 400
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest(), given):
        return 401
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        return 400
    return None


class WebhookReceiver:
    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        self._release = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.base_url = ""

    def endpoint(self, name: str, secret: str, mode: Mode = "ok", failures: int = 0) -> str:
        self.endpoints[name] = Endpoint(name, secret, mode, failures)
        return f"{self.base_url}/hooks/{name}"

    async def __aenter__(self) -> Self:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            self, lifespan="off", log_level="warning", access_log=False, timeout_keep_alive=30
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("the webhook receiver did not start")
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._release.set()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, timeout=10)

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[ASGIMessage]],
        send: Callable[[ASGIMessage], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status = await self._answer(scope["path"].rsplit("/", 1)[-1], body, headers)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def _answer(self, name: str, body: bytes, headers: dict[str, str]) -> int:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            return 404
        try:
            event_id = str(json.loads(body)["id"])
        except (ValueError, KeyError, TypeError):
            event_id = None
        endpoint.raw.append((body, headers))

        def log(status: int) -> int:
            endpoint.attempts.append(
                Attempt(
                    time.monotonic(),
                    status,
                    event_id,
                    headers.get("x-mg-delivery"),
                    headers.get("x-mg-attempt"),
                )
            )
            return status

        refused = verify(endpoint.secret, body, headers.get("x-mg-signature", ""), time.time())
        if refused is not None:
            return log(refused)
        if endpoint.mode == "hang":
            log(0)
            await self._release.wait()
            return 503
        failing_first = endpoint.mode == "fail_first" and (
            len(endpoint.attempts_for(event_id)) < endpoint.failures
        )
        if endpoint.mode == "fail" or failing_first:
            return log(500)
        if event_id is None or event_id in endpoint.seen_ids:
            return log(409)
        endpoint.seen_ids.add(event_id)
        endpoint.accepted.append(json.loads(body))
        return log(204)
