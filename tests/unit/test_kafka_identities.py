"""The ACLs derived from the topic catalogue, and how a client finds its principal
(ADR 0019). The broker's own answers are tests/integration/test_kafka_acls.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from shared.contracts.topics import (
    INTEGRATION_PROJECTION,
    PROJECTED_TOPICS,
    SERVED_DEPARTEMENTS,
    TOPICS,
    all_topic_names,
)
from shared.messaging.acls import (
    ADMIN,
    Operation,
    PatternType,
    ResourceType,
    acls,
    departement_principal,
    principals,
)
from shared.messaging.broker import client_options
from shared.settings import KafkaSettings


def test_every_topic_has_exactly_its_one_writer() -> None:
    writers: dict[str, set[str]] = {}
    for acl in acls():
        if acl.operation is Operation.WRITE and acl.resource_type is ResourceType.TOPIC:
            writers.setdefault(acl.name, set()).add(acl.principal)
    for topic in TOPICS:
        assert writers[topic.name] == {topic.writer}
    # A dead-letter topic is written by the one service that consumes the topic; the
    # projection's (ADR 0020) by notifications, where it runs.
    for name in all_topic_names():
        if name.endswith(".dlq"):
            consumer = name.rsplit(".", 2)[-2]
            expected = "notifications" if consumer == INTEGRATION_PROJECTION else consumer
            assert writers[name] == {expected}


def test_nobody_but_the_declared_consumers_reads_a_topic() -> None:
    for topic in TOPICS:
        readers = {
            a.principal
            for a in acls()
            if a.operation is Operation.READ and a.resource_type is ResourceType.TOPIC
            if a.name == topic.name
        }
        # The projection to the integration topics reads every shared topic.
        projector = {"notifications"} if topic in PROJECTED_TOPICS else set()
        # A département's system reads its own integration topic, which nobody consumes.
        system = {topic.name.replace(".events.v1", "").replace("dept.", "dept-")}
        own = system if topic.name.startswith("dept.") and ".events." in topic.name else set()
        assert readers == set(topic.consumers) | projector | own


def test_a_departement_reads_and_writes_its_own_integration_topics_only() -> None:
    for code in SERVED_DEPARTEMENTS:
        granted = {
            (a.operation, a.resource_type, a.name, a.pattern)
            for a in acls()
            if a.principal == departement_principal(code)
        }
        assert granted == {
            (Operation.READ, ResourceType.TOPIC, f"dept.{code}.events.v1", PatternType.LITERAL),
            (Operation.WRITE, ResourceType.TOPIC, f"dept.{code}.commands.v1", PatternType.LITERAL),
            (Operation.READ, ResourceType.GROUP, f"dept-{code}", PatternType.PREFIXED),
        }


def test_admin_needs_no_acl_being_a_super_user() -> None:
    assert ADMIN in principals()
    assert not [a for a in acls() if a.principal == ADMIN]


def test_a_client_names_its_principal_unless_the_environment_does(tmp_path: Path) -> None:
    (tmp_path / "billing.password").write_text("s3cret\n")
    kafka = KafkaSettings(security_protocol="SASL_PLAINTEXT", credentials_dir=str(tmp_path))
    billing = kafka.principal("billing")
    assert billing.sasl_username == "billing"
    assert billing.password() == "s3cret"
    options = client_options(billing)
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("billing", "s3cret")
    # One pod, one principal: the environment's name and password win.
    pinned = KafkaSettings(sasl_username="matching", sasl_password=SecretStr("x"))
    assert pinned.principal("billing").sasl_username == "matching"


def test_sasl_without_a_principal_is_refused() -> None:
    with pytest.raises(ValueError, match="SASL needs a principal"):
        client_options(KafkaSettings(security_protocol="SASL_PLAINTEXT"))


def test_a_child_process_gets_the_connection_but_chooses_its_principal() -> None:
    kafka = KafkaSettings(
        bootstrap_servers="127.0.0.1:1",
        security_protocol="SASL_SSL",
        ssl_cafile="/ca.crt",
        credentials_dir="/credentials",
    ).principal(ADMIN)
    env = kafka.environment()
    assert env["MG_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["MG_KAFKA_CREDENTIALS_DIR"] == "/credentials"
    assert "MG_KAFKA_SASL_USERNAME" not in env
