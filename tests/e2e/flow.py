"""What the end-to-end tests do to a demande through the services' HTTP APIs: submit it,
wait for what the events make of it, complete its mission."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.submissions import demande_body


async def submit(requests: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> str:
    """The id of the demande the requests service accepted."""
    created = await requests.post(
        "/v1/requests",
        json=demande_body(**({"themes": ["architecture_paysage"]} | overrides)),
        headers=headers,
    )
    assert created.status_code == 201, created.text
    request_id: str = created.json()["id"]
    return request_id


async def eventually(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], check: Callable[[Any], bool]
) -> Any:
    """The first 200 answer of ``GET path`` that passes ``check``, within 30 s."""
    deadline = time.monotonic() + 30
    while True:
        response = await client.get(path, headers=headers)
        body = response.json()
        if response.status_code == 200 and check(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: condition not met; last answer {body}")
        await asyncio.sleep(0.2)


async def until_status(
    requests: httpx.AsyncClient, request_id: str, headers: dict[str, str], status: str
) -> Any:
    """The demande once the requests service shows it in ``status``."""
    return await eventually(
        requests, f"/v1/requests/{request_id}", headers, lambda b: b["status"] == status
    )


async def complete(
    matching: httpx.AsyncClient, assignment_id: str, days: str, headers: dict[str, str]
) -> None:
    completed = await matching.post(
        f"/v1/assignments/{assignment_id}/complete",
        json={"days_spent": days, "report": "Esquisse remise au conseil municipal."},
        headers=headers,
    )
    assert completed.status_code == 200, completed.text
