"""The broker's identities and ACLs (ADR 0019), against the real broker of the suite:
every principal writes only what it owns and reads only what it subscribes to; a
département's system sees its own integration topics and nothing else; a client without
credentials, or with a wrong password, does not get in."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)

from shared.contracts.topics import (
    INTEGRATION_PROJECTION,
    PROJECTED_TOPICS,
    TOPICS,
    dead_letter_topic,
    departement_commands,
    departement_events,
)
from shared.messaging.acls import ADMIN, catalogue_principals, departement_principal
from shared.messaging.broker import client_options
from shared.settings import KafkaSettings
from tests.support.kcat import kcat, kcat_config

pytestmark = [pytest.mark.kafka]

TOPIC_AUTHORIZATION_FAILED = 29


@pytest.fixture(scope="module")
def secured(kafka_topics: KafkaSettings) -> KafkaSettings:
    assert kafka_topics.security_protocol == "SASL_SSL", (
        "the suite runs against the secured broker (infra/env.sh, MG_KAFKA_SECURITY=sasl_ssl)"
    )
    return kafka_topics


@pytest.fixture(scope="module")
def departement_topics(secured: KafkaSettings) -> Iterator[KafkaSettings]:
    """The integration topics of 49 and 35, created as the admin if missing."""

    async def create() -> None:
        admin = AIOKafkaAdminClient(**client_options(secured.principal(ADMIN)))
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            wanted = [
                name
                for code in ("49", "35")
                for name in (_events(code), _commands(code))
                if name not in existing
            ]
            # Another run may make them first: that is what we wanted.
            if wanted:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics([NewTopic(n, 3, 1) for n in wanted])
        finally:
            await admin.close()

    asyncio.run(create())
    yield secured


def _events(code: str) -> str:
    return departement_events(code).name


def _commands(code: str) -> str:
    return departement_commands(code).name


# The projection to the integration topics reads every shared topic (ADR 0020).
PROJECTOR = "notifications"
PROJECTION_DLQS = {dead_letter_topic(t.name, INTEGRATION_PROJECTION) for t in PROJECTED_TOPICS}


async def _send(kafka: KafkaSettings, principal: str, topic: str, value: bytes) -> Any:
    producer = AIOKafkaProducer(
        **client_options(kafka.principal(principal)), acks="all", request_timeout_ms=10_000
    )
    await producer.start()
    try:
        return await producer.send_and_wait(topic, value, key=b"49")
    finally:
        await producer.stop()


async def _described(kafka: KafkaSettings, principal: str, topics: list[str]) -> dict[str, int]:
    """Each topic's error code as ``principal`` sees it: reading needs DESCRIBE, which READ
    (and WRITE) grant; 29 means the topic is not authorised for this principal."""
    admin = AIOKafkaAdminClient(**client_options(kafka.principal(principal)))
    await admin.start()
    try:
        return {d["topic"]: d["error_code"] for d in await admin.describe_topics(topics)}
    finally:
        await admin.close()


def _owned(principal: str) -> set[str]:
    owned = {t.name for t in TOPICS if t.writer == principal}
    owned |= {dead_letter_topic(t.name, principal) for t in TOPICS if principal in t.consumers}
    return owned | (PROJECTION_DLQS if principal == PROJECTOR else set())


def _read(principal: str) -> set[str]:
    read = {t.name for t in TOPICS if principal in t.consumers}
    read |= {dead_letter_topic(t.name, principal) for t in TOPICS if principal in t.consumers}
    if principal == PROJECTOR:
        read |= {t.name for t in PROJECTED_TOPICS} | PROJECTION_DLQS
    if principal.startswith("dept-"):
        read.add(_events(principal.removeprefix("dept-")))
    return read


@pytest.mark.parametrize("principal", catalogue_principals())
async def test_a_principal_writes_only_the_topics_it_owns(
    secured: KafkaSettings, principal: str
) -> None:
    foreign = sorted({t.name for t in TOPICS} - _owned(principal))
    assert foreign
    for topic in foreign:
        with pytest.raises(TopicAuthorizationFailedError):
            await _send(secured, principal, topic, b'{"acl-test": true}')


@pytest.mark.parametrize("principal", catalogue_principals())
async def test_a_principal_sees_only_the_topics_it_reads_or_writes(
    secured: KafkaSettings, principal: str
) -> None:
    every = sorted({t.name for t in TOPICS})
    seen = await _described(secured, principal, every)
    visible = {topic for topic, code in seen.items() if code == 0}
    assert visible == (_owned(principal) | _read(principal)) & set(every)
    assert all(code in (0, TOPIC_AUTHORIZATION_FAILED) for code in seen.values())


async def test_the_personal_data_of_demandes_is_out_of_billings_reach(
    secured: KafkaSettings,
) -> None:
    seen = await _described(secured, "billing", ["requests.request.v1"])
    assert seen == {"requests.request.v1": TOPIC_AUTHORIZATION_FAILED}


async def test_a_service_writes_the_dead_letters_of_its_subscriptions(
    secured: KafkaSettings,
) -> None:
    dlq = dead_letter_topic("matching.assignment.v1", "billing")
    metadata = await _send(secured, "billing", dlq, b'{"acl-test": true}')
    assert metadata.topic == dlq


async def test_a_departement_sees_its_own_integration_topics_only(
    departement_topics: KafkaSettings,
) -> None:
    kafka, dept35 = departement_topics, departement_principal("35")
    with pytest.raises(TopicAuthorizationFailedError):
        await _send(kafka, dept35, _commands("49"), b"{}")
    seen = await _described(kafka, dept35, [_events("49"), _events("35")])
    assert seen == {
        _events("49"): TOPIC_AUTHORIZATION_FAILED,
        _events("35"): 0,
    }
    # Its own command topic it may write; none of the shared ones.
    metadata = await _send(kafka, dept35, _commands("35"), b"{}")
    assert metadata.topic == _commands("35")
    for topic in ("requests.command.v1", "requests.request.v1"):
        with pytest.raises(TopicAuthorizationFailedError):
            await _send(kafka, dept35, topic, b"{}")


async def _refused(options: dict[str, Any]) -> None:
    admin = AIOKafkaAdminClient(**options, request_timeout_ms=5_000)
    try:
        with pytest.raises(KafkaConnectionError):
            await admin.start()
    finally:
        await admin.close()


async def test_a_client_without_credentials_does_not_get_in(secured: KafkaSettings) -> None:
    # Plaintext on the SASL_SSL listener: the TLS handshake never comes, the broker hangs up.
    await _refused({"bootstrap_servers": secured.bootstrap_servers})
    # TLS without SASL: no principal, no session.
    context = ssl.create_default_context(cafile=secured.ssl_cafile)
    await _refused(
        {
            "bootstrap_servers": secured.bootstrap_servers,
            "security_protocol": "SSL",
            "ssl_context": context,
        }
    )


async def test_a_wrong_password_does_not_get_in(secured: KafkaSettings) -> None:
    options = client_options(secured.principal("requests"))
    await _refused(options | {"sasl_plain_password": "not-the-password"})


# --- kcat, as a département's system would connect ----------------------------------------


async def test_kcat_reads_a_departements_integration_topic_with_its_principal(
    departement_topics: KafkaSettings, tmp_path: Path
) -> None:
    kafka = departement_topics
    marker = uuid.uuid4().hex
    value = f'{{"departement": "49", "marker": "{marker}"}}'.encode()
    metadata = await _send(kafka, ADMIN, _events("49"), value)

    config = kcat_config(kafka, departement_principal("49"), tmp_path)
    code, out, err = await kcat(
        kafka,
        config,
        "-C",
        "-t",
        _events("49"),
        "-p",
        str(metadata.partition),
        "-o",
        str(metadata.offset),
        "-c",
        "1",
        "-e",
        "-f",
        "%k %s\n",
    )
    assert code == 0, err
    assert out.decode().strip() == f"49 {value.decode()}"

    # Another département's principal is refused the same topic.
    other = kcat_config(kafka, departement_principal("35"), tmp_path)
    code, out, err = await kcat(
        kafka, other, "-C", "-t", _events("49"), "-o", "beginning", "-c", "1", "-e"
    )
    assert code != 0
    assert "authoriz" in err.lower(), err
    assert marker not in out.decode()
