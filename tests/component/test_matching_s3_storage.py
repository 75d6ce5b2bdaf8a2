"""Deliverables in an S3-compatible object store: the S3 adapter against a real S3 server
on 127.0.0.1 (moto's server, a separate process speaking the S3 REST API), then the
matching service configured for it by its settings (``MG_MATCHING_STORAGE=s3``).

The server runs from ``MG_TEST_MOTO_PYTHON`` when set (a Python with ``moto[s3]`` and
Flask), else from this interpreter."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import boto3
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from services.matching.adapters.orm import deliverable_contents
from services.matching.adapters.storage import S3ContentStore
from services.matching.config import MissionSettings
from services.matching.domain.deliverables import PDF
from shared.settings import KafkaSettings
from tests.component.missions_setup import ANGERS, CAUE, OTHER_ACTOR, accepted_mission
from tests.support import sample_files
from tests.support.services import RunningService, running_service

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

KEYS = {"access_key": "mg-test", "secret_key": "mg-test-secret"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    python = os.environ.get("MG_TEST_MOTO_PYTHON", sys.executable)
    server = subprocess.Popen(
        [python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEYS["access_key"],
        aws_secret_access_key=KEYS["secret_key"],
        region_name="us-east-1",
    )


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name = f"livrables-{uuid.uuid4().hex[:10]}"
    client(s3_endpoint).create_bucket(Bucket=name)
    return name


async def test_the_s3_adapter_puts_and_gets_bytes_with_their_type(
    s3_endpoint: str, bucket: str
) -> None:
    store = S3ContentStore(endpoint_url=s3_endpoint, bucket=bucket, region="us-east-1", **KEYS)
    data = sample_files.pdf("Étude")
    await store.put("49/mission/livrable", data, PDF)
    assert await store.get("49/mission/livrable") == data
    assert await store.get("49/mission/absent") is None
    head = client(s3_endpoint).head_object(Bucket=bucket, Key="49/mission/livrable")
    assert (head["ContentType"], head["ContentLength"]) == (PDF, len(data))


@pytest.fixture
async def service(
    fresh_database: Callable[[str], Awaitable[str]],
    kafka_topics: KafkaSettings,
    s3_endpoint: str,
    bucket: str,
) -> AsyncIterator[RunningService]:
    settings = MissionSettings(
        storage="s3",
        s3_endpoint=s3_endpoint,
        s3_bucket=bucket,
        s3_access_key=SecretStr(KEYS["access_key"]),
        s3_secret_key=SecretStr(KEYS["secret_key"]),
    )
    async with running_service(
        "matching",
        fresh_database,
        kafka_topics,
        build_options={"mission_settings": settings},
    ) as running:
        yield running


async def test_the_service_keeps_deliverables_in_the_bucket_when_told_to(
    service: RunningService, s3_endpoint: str, bucket: str
) -> None:
    mission = await accepted_mission(service)
    timeline = await service.client.get(f"/v1/missions/{mission}/timeline", headers=CAUE)
    first = timeline.json()["milestones"][0]["id"]
    data = sample_files.docx()
    added = await service.client.post(
        f"/v1/missions/{mission}/milestones/{first}/deliverables?name=cr.docx",
        content=data,
        headers=CAUE,
    )
    assert added.status_code == 201, added.text
    deliverable = added.json()

    key = f"49/{mission}/{deliverable['id']}"
    stored = await asyncio.to_thread(client(s3_endpoint).get_object, Bucket=bucket, Key=key)
    assert stored["Body"].read() == data
    async with service.runtime.session_factory() as session:
        in_database = await session.scalar(select(func.count()).select_from(deliverable_contents))
    assert in_database == 0

    download = await service.client.get(
        f"/v1/missions/{mission}/deliverables/{deliverable['id']}", headers=ANGERS
    )
    assert download.status_code == 200
    assert download.content == data
    assert download.headers["content-type"] == deliverable["content_type"]
    refused = await service.client.get(
        f"/v1/missions/{mission}/deliverables/{deliverable['id']}", headers=OTHER_ACTOR
    )
    assert refused.status_code == 403
