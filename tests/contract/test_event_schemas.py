"""The checked-in JSON Schemas are the public contract: the code must keep to them."""

from __future__ import annotations

import json

import jsonschema

from shared.contracts import export
from shared.contracts.registry import EVENT_MODELS
from shared.contracts.topics import TOPICS


def test_checked_in_schemas_are_up_to_date_and_not_broken_by_the_code() -> None:
    assert export.problems() == []


def test_every_event_type_is_versioned_and_on_a_declared_topic() -> None:
    topics = {t.name: t for t in TOPICS}
    for model in EVENT_MODELS:
        assert model.event_type.endswith(".v1"), model.event_type
        assert model.topic in topics
        assert topics[model.topic].writer == model.producer
        assert model.event_type.isascii()


def test_every_checked_in_schema_is_valid_json_schema() -> None:
    for model in EVENT_MODELS:
        schema = json.loads(export.schema_path(model.event_type).read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
