"""The AsyncAPI documents in docs/asyncapi/ say what the code does, and the official
parser accepts them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from shared.asyncapi import cli
from shared.asyncapi.document import SERVICES, models_of
from shared.asyncapi.headers import DEAD_LETTER_SCHEMA, SchemaNameClash, Schemas
from shared.contracts.export import schema_of
from shared.contracts.registry import EVENT_MODELS
from shared.contracts.topics import TOPICS, dead_letter_topic
from shared.messaging.consumer import subscribe
from shared.messaging.dead_letter import DeadLetters, FailedRecord
from shared.messaging.envelope import REQUIRED_HEADERS, Envelope
from shared.messaging.offsets import OffsetCommits

REPO = Path(__file__).resolve().parents[2]
VALIDATE = REPO / "infra" / "asyncapi" / "validate.sh"


def checked_in(service: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(cli.document_path(service).read_text(encoding="utf-8"))
    return doc


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in refs(item)]
    return []


def test_checked_in_documents_are_up_to_date() -> None:
    assert cli.problems() == []


def test_the_check_command_fails_on_a_stale_document(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    runner = CliRunner()
    assert runner.invoke(cli.app, ["write", "--dir", str(tmp_path)]).exit_code == 0
    assert runner.invoke(cli.app, ["check", "--dir", str(tmp_path)]).exit_code == 0
    path = cli.document_path("billing", tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("billing", "facturation"))
    result = runner.invoke(cli.app, ["check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "billing.json: stale" in result.output


def test_two_different_schemas_never_share_a_name() -> None:
    schemas = Schemas()
    schemas.add("Contact", {"type": "object"}, "a.v1")
    schemas.add("Contact", {"type": "object"}, "b.v1")
    with pytest.raises(SchemaNameClash, match="Contact"):
        schemas.add("Contact", {"type": "string"}, "c.v1")


@pytest.mark.parametrize("service", SERVICES)
def test_channels_and_operations_follow_the_declared_topics(service: str) -> None:
    doc = checked_in(service)
    assert doc["asyncapi"] == "3.0.0"
    written = {t.name for t in TOPICS if t.writer == service}
    read = {t.name for t in TOPICS if service in t.consumers}
    letters = {dead_letter_topic(name, service) for name in read}
    sent = {
        resolve(doc, op["channel"]["$ref"])["address"]
        for op in doc["operations"].values()
        if op["action"] == "send"
    }
    received = {
        resolve(doc, op["channel"]["$ref"])["address"]
        for op in doc["operations"].values()
        if op["action"] == "receive"
    }
    assert sent == written | letters
    assert received == read
    for channel in doc["channels"].values():
        binding = channel["bindings"]["kafka"]
        assert binding["topic"] == channel["address"]
        declared = next((t for t in TOPICS if t.name == channel["address"]), None)
        if declared is not None:
            assert binding["partitions"] == declared.partitions


@pytest.mark.parametrize("service", SERVICES)
def test_every_reference_resolves(service: str) -> None:
    doc = checked_in(service)
    for ref in refs(doc):
        resolve(doc, ref)


@pytest.mark.parametrize("service", SERVICES)
def test_one_message_per_event_type_with_its_json_schema(service: str) -> None:
    doc = checked_in(service)
    topics = {ch["address"] for ch in doc["channels"].values()}
    # A département's integration topics carry events of other topics (ADR 0020).
    expected = {m.event_type for t in TOPICS if t.name in topics for m in models_of(t)}
    messages = doc["components"]["messages"]
    events = {name: m for name, m in messages.items() if not name.endswith(".dlq.record")}
    assert set(events) == expected
    schemas = doc["components"]["schemas"]
    for model in EVENT_MODELS:
        if model.event_type not in events:
            continue
        message = events[model.event_type]
        assert message["name"] == model.event_type
        assert message["contentType"] == "application/json"
        if model.topic in doc["channels"]:
            assert model.event_type in doc["channels"][model.topic]["messages"]
        # The payload is the checked-in JSON Schema, its $defs moved to components/schemas.
        original = schema_of(model)
        definitions = original.pop("$defs", {})
        original.pop("$id")
        back = json.loads(
            json.dumps(resolve(doc, message["payload"]["$ref"])).replace(
                "#/components/schemas/", "#/$defs/"
            )
        )
        assert back == original
        for name, definition in definitions.items():
            assert (
                json.loads(json.dumps(schemas[name]).replace("#/components/schemas/", "#/$defs/"))
                == definition
            )
        # The headers are the CloudEvents envelope, with this ce_type.
        envelope, fixed = message["headers"]["allOf"]
        headers = resolve(doc, envelope["$ref"])
        assert set(REQUIRED_HEADERS) <= set(headers["required"])
        sample = Envelope(type=model.event_type, source=model.producer, departement="49")
        assert set(sample.to_headers()) | {"causation_id"} == set(headers["properties"])
        assert fixed["properties"]["ce_type"]["const"] == model.event_type
        assert message["bindings"]["kafka"]["key"]["type"] == "string"


@pytest.mark.parametrize("service", SERVICES)
def test_consumer_groups_are_those_that_subscribe_joins(service: str) -> None:
    joined: list[tuple[str, str]] = []

    class Broker:
        def subscriber(self, topic: str, **options: Any) -> Any:
            joined.append((topic, options["group_id"]))
            return lambda handler: handler

    doc = checked_in(service)
    for op in doc["operations"].values():
        if op["action"] != "receive":
            continue
        topic = resolve(doc, op["channel"]["$ref"])["address"]
        subscribe(
            Broker(),  # type: ignore[arg-type]
            topic,
            group_id=service,
            consumer=None,  # type: ignore[arg-type]
            offsets=OffsetCommits(service),
        )
        assert joined[-1] == (topic, op["bindings"]["kafka"]["groupId"]["const"])


async def test_dead_letter_headers_are_those_that_dead_letters_write() -> None:
    published: list[dict[str, Any]] = []

    class Broker:
        async def publish(self, body: bytes, **options: Any) -> None:
            published.append(options)

    record = FailedRecord("billing.invoice.v1", 3, 42, b"49", b"{}", (("ce_id", b"x"),))
    letters = DeadLetters(Broker(), consumer="notifications")  # type: ignore[arg-type]
    await letters.send(record, reason="invalid_payload", error="boom", attempts=1)
    doc = checked_in("notifications")
    headers = doc["components"]["schemas"][DEAD_LETTER_SCHEMA]
    written = {name for name in published[0]["headers"] if name.startswith("dlq_")}
    assert written == set(headers["properties"]) == set(headers["required"])
    assert published[0]["topic"] in {ch["address"] for ch in doc["channels"].values()}


def test_the_official_asyncapi_parser_accepts_every_document() -> None:
    # Not skipped without Node.js: validate.sh then exits 127 and this test fails.
    result = subprocess.run(
        ["bash", str(VALIDATE)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"{len(SERVICES)} valid, 0 invalid" in result.stdout, output
