"""What every service's HTTP stack lets in (ADR 0021): bodies only from authenticated
callers and within bounds, refused before they are read; requests per principal;
/metrics behind its token; /docs off in production."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

import pytest
from fastapi import APIRouter
from pydantic import BaseModel, SecretStr

from shared.auth.tokens import Role, mint
from shared.http.security import CurrentPrincipal
from shared.settings import AuthSettings, DeploymentSettings, HttpSettings
from tests.support.bare_service import bare_app, bare_client

AUTH = AuthSettings()
router = APIRouter()


class Note(BaseModel):
    text: str


@router.put("/v1/notes")
async def put_note(note: Note, principal: CurrentPrincipal) -> dict[str, str]:
    return {"text": note.text, "by": principal.subject}


@router.get("/v1/notes")
async def list_notes(principal: CurrentPrincipal) -> dict[str, str]:
    return {"by": principal.subject}


def bearer(subject: str = "agent", role: Role = Role.DEPARTEMENT) -> dict[str, str]:
    token = mint(AUTH, role=role, subject=subject, departement="49")
    return {"Authorization": f"Bearer {token}"}


async def call_raw(
    headers: list[tuple[bytes, bytes]], chunks: list[bytes], **settings: Any
) -> tuple[int, int]:
    """PUT /v1/notes straight through ASGI: the status, and how many body chunks the
    application read."""
    app, runtime = bare_app([router], **settings)
    read = 0
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        if read <= len(chunks):
            return {
                "type": "http.request",
                "body": chunks[read - 1],
                "more_body": read < len(chunks),
            }
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": "/v1/notes",
        "raw_path": b"/v1/notes",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("svc", 80),
    }
    await app(scope, receive, send)
    await runtime.engine.dispose()
    return next(m["status"] for m in sent if m["type"] == "http.response.start"), read


async def test_an_anonymous_20_mb_body_is_refused_before_a_byte_is_read() -> None:
    status, read = await call_raw([(b"content-length", b"20000000")], [b"x" * 1024] * 3)
    assert (status, read) == (401, 0)


async def test_an_announced_oversized_body_is_refused_before_it_is_read() -> None:
    token = bearer()["Authorization"].encode()
    headers = [(b"authorization", token), (b"content-length", b"2000000")]
    status, read = await call_raw(headers, [b"x" * 1024])
    assert (status, read) == (413, 0)


async def test_a_chunked_body_is_cut_at_the_bound() -> None:
    token = bearer()["Authorization"].encode()
    headers = [(b"authorization", token), (b"transfer-encoding", b"chunked")]
    chunk = b" " * 64 * 1024
    status, read = await call_raw(headers, [chunk] * 40)
    # 1 MiB is 16 chunks of 64 KiB: the 17th is one too many, the rest never read.
    assert (status, read) == (413, 17)


async def test_a_bounded_authenticated_body_goes_through() -> None:
    async with bare_client([router]) as client:
        answer = await client.put("/v1/notes", json={"text": "bonjour"}, headers=bearer())
        anonymous = await client.put("/v1/notes", json={"text": "bonjour"})
        forged = await client.put(
            "/v1/notes", content=json.dumps({"text": "x"}), headers={"Authorization": "Bearer x"}
        )
    assert answer.status_code == 200 and answer.json()["text"] == "bonjour"
    assert anonymous.status_code == 401
    assert "Authentification requise" in anonymous.json()["detail"]
    assert forged.status_code == 401


async def test_each_principal_has_its_own_rate_limit() -> None:
    http = HttpSettings(rate_limit_per_second=0.5, rate_limit_burst=3)
    async with bare_client([router], http=http) as client:
        first = [await client.get("/v1/notes", headers=bearer("a")) for _ in range(3)]
        over = await client.get("/v1/notes", headers=bearer("a"))
        other = await client.get("/v1/notes", headers=bearer("b"))
    assert [a.status_code for a in first] == [200, 200, 200]
    assert over.status_code == 429
    assert over.headers["Retry-After"] == "2"
    assert "Trop de requêtes" in over.json()["detail"]
    assert other.status_code == 200


async def test_metrics_answer_only_the_scrape_token() -> None:
    token = "k8Jq2Lw9Xz4Rt7Yp1Vn6Bc3Md0Fs5Gh8Ja2Lk4Qe"
    async with bare_client([router], http=HttpSettings(metrics_token=SecretStr(token))) as client:
        anonymous = await client.get("/metrics/")
        wrong = await client.get("/metrics/", headers={"Authorization": "Bearer nope"})
        scraped = await client.get("/metrics/", headers={"Authorization": f"Bearer {token}"})
    assert (anonymous.status_code, wrong.status_code, scraped.status_code) == (401, 401, 200)
    assert "mg_http_requests" in scraped.text or "python_info" in scraped.text


@pytest.mark.parametrize(
    ("settings", "served"),
    [
        ({}, True),
        ({"deployment": DeploymentSettings(env="production")}, False),
        ({"http": HttpSettings(docs=False)}, False),
    ],
)
async def test_docs_and_the_openapi_document_can_be_switched_off(
    settings: dict[str, Any], served: bool
) -> None:
    async with bare_client([router], **settings) as client:
        paths = ["/docs", "/openapi.json", "/asyncapi.json"]
        statuses = {(await client.get(p)).status_code for p in paths}
    assert statuses == ({200} if served else {404})
