"""Bad deliverable uploads against the matching service as it runs in production (its
own process, uvicorn, a real socket): a body announced over 10 MB is refused with 413
before it is sent, let alone read; an unannounced one is cut at 10 MB; a type not in
the list is 415; someone else's mission is 403. Each in French, and nothing is written:
the rows of milestones, deliverables, their contents and the demande's outbox rows are
counted before and after."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from shared.auth.tokens import Role
from shared.contracts.requests import Contact, Requester, RequestSubmitted
from shared.contracts.vocabulary import Phase, RequesterKind, Theme
from shared.settings import KafkaSettings
from stack.harness.process import ServiceProcess, free_port
from tests.component.missions_setup import rows
from tests.component.notification_demandes import publish
from tests.support import sample_files
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

DEP = "976"  # in no shipped catalogue: no other run's matching routes these demandes
RUN = uuid.uuid4().hex[:8]
ACTOR = f"t976-up-{RUN}"
TEAM = bearer(Role.DEPARTEMENT, DEP)
AS_ACTOR = bearer(Role.ACTOR, DEP, ACTOR)
TOO_LARGE = "Fichier trop volumineux : 10 Mo au plus par livrable."


async def accepted_mission(client: httpx.AsyncClient, kafka: KafkaSettings) -> tuple[str, str]:
    """The mission and its demande, routed from Kafka by the process and accepted."""
    catalogue = {
        "departement": DEP,
        "actors": [
            {
                "id": ACTOR,
                "name": "Agence de test",
                "kind": "atd",
                "themes": {"numerique": 3},
                "phases": ["travaux"],
                "territory": {"communes": ["97602"]},
                "capacity": 5,
            }
        ],
    }
    (await client.put("/v1/actors", json=catalogue, headers=TEAM)).raise_for_status()
    demande = RequestSubmitted(
        request_id=uuid.uuid4(),
        departement=DEP,
        requester=Requester(
            kind=RequesterKind.COMMUNE, code="97602", name="Bandraboua", population=13000
        ),
        contact=Contact(name="Élue de Bandraboua", email=f"elue-{RUN}@example.fr"),
        title="Réfection de la voirie communale",
        description="Suivi des travaux de voirie.",
        themes=[Theme.NUMERIQUE],
        phase=Phase.TRAVAUX,
        channel="api",
        submitted_at=datetime.now(UTC),
    )
    await publish(kafka, demande)
    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        listed = (await client.get("/v1/assignments?status=proposed", headers=AS_ACTOR)).json()
        mine = [a["id"] for a in listed if a["request_id"] == str(demande.request_id)]
        if mine:
            accepted = await client.post(f"/v1/assignments/{mine[0]}/accept", headers=AS_ACTOR)
            accepted.raise_for_status()
            return str(mine[0]), str(demande.request_id)
        await asyncio.sleep(0.2)
    raise TimeoutError("matching made no proposal")


@pytest.fixture
async def matching(
    fresh_database: Callable[[str], Awaitable[str]], kafka_topics: KafkaSettings, tmp_path: Path
) -> AsyncIterator[tuple[ServiceProcess, str]]:
    port = free_port()
    database_url = await fresh_database("matching")
    process = ServiceProcess(
        "services.matching.entrypoints.main",
        env={
            "MG_MATCHING_DATABASE_URL": database_url,
            "MG_MATCHING_HTTP_PORT": str(port),
            "MG_MATCHING_CONSUMER_GROUP": f"matching-uploads-{RUN}",
            "MG_MATCHING_CONSUMER_OFFSET_RESET": "latest",
            "MG_MATCHING_LOG_LEVEL": "WARNING",
            "MG_KAFKA_BOOTSTRAP_SERVERS": kafka_topics.bootstrap_servers,
        },
        port=port,
        log_path=tmp_path / "matching.log",
    )
    await process.start()
    try:
        await process.wait_ready(timeout=60)
        yield process, database_url
    finally:
        await process.stop()


async def announced_only(port: int, path: str, headers: dict[str, str]) -> bytes:
    """Send the request line and headers of a 50 MB upload, and 1 KB of it; return what
    the server answers without waiting for the rest."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Length: 52428800"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + b"%PDF-" + b"0" * 1019)
    await writer.drain()
    try:
        return await asyncio.wait_for(_whole_answer(reader), timeout=10)
    finally:
        writer.close()


async def _whole_answer(reader: asyncio.StreamReader) -> bytes:
    """The status line, the headers and the body, which may come in separate segments."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"(?i)content-length: *(\d+)", head)
    body = await reader.readexactly(int(length.group(1))) if length else b""
    return head + body


async def test_bad_uploads_are_refused_over_a_real_socket_and_write_nothing(
    matching: tuple[ServiceProcess, str], kafka_topics: KafkaSettings
) -> None:
    process, database_url = matching
    async with httpx.AsyncClient(base_url=process.base_url, timeout=30) as client:
        mission, demande = await accepted_mission(client, kafka_topics)
        timeline = await client.get(f"/v1/missions/{mission}/timeline", headers=TEAM)
        first = timeline.json()["milestones"][0]
        assert first["title"] == "Ordre de service de démarrage"
        path = f"/v1/missions/{mission}/milestones/{first['id']}/deliverables?name=plan.pdf"
        before = await rows(database_url, [demande])

        answer = await announced_only(process.port, path, AS_ACTOR)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert TOO_LARGE.encode() in answer

        async def unannounced() -> AsyncIterator[bytes]:
            yield b"%PDF-1.4\n"
            for _ in range(11):
                yield b"0" * (1024 * 1024)

        cut = await client.post(path, content=unannounced(), headers=AS_ACTOR)
        assert (cut.status_code, cut.json()["detail"]) == (413, TOO_LARGE)

        exe = await client.post(
            path,
            content=b"MZ\x90\x00" + b"\x00" * 100,
            headers=AS_ACTOR | {"Content-Type": "application/pdf"},
        )
        assert exe.status_code == 415
        assert exe.json()["detail"] == (
            "Type de fichier non accepté ; types acceptés : PDF, DOCX, ODT, XLSX, PNG, JPEG."
        )

        other = bearer(Role.ACTOR, DEP, "t976-autre")
        forbidden = await client.post(path, content=sample_files.pdf(), headers=other)
        assert (forbidden.status_code, forbidden.json()["detail"]) == (
            403,
            "Cette mission est confiée à un autre acteur.",
        )
        assert await rows(database_url, [demande]) == before

        accepted = await client.post(path, content=sample_files.pdf(), headers=AS_ACTOR)
        assert accepted.status_code == 201, accepted.text
        after = await rows(database_url, [demande])
        assert after["deliverables"] == before["deliverables"] + 1
        assert after["outbox"] == before["outbox"] + 1
