"""The checked-in JSON Schemas are the public contract: the code must keep to them."""

from __future__ import annotations

import json
import re

import jsonschema

from shared.contracts import export
from shared.contracts.registry import EVENT_MODELS
from shared.contracts.topics import TOPICS


def test_checked_in_schemas_are_up_to_date_and_not_broken_by_the_code() -> None:
    assert export.problems() == []


def test_every_event_type_is_versioned_and_on_a_declared_topic() -> None:
    topics = {t.name: t for t in TOPICS}
    for model in EVENT_MODELS:
        assert re.fullmatch(r"[a-z_.-]+\.v[1-9][0-9]*", model.event_type), model.event_type
        assert model.topic in topics
        assert topics[model.topic].writer == model.producer
        assert model.event_type.isascii()


def test_every_checked_in_schema_is_valid_json_schema() -> None:
    for model in EVENT_MODELS:
        schema = json.loads(export.schema_path(model.event_type).read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)


def test_a_new_major_version_is_read_beside_the_old_one_on_the_same_topic() -> None:
    by_type = {m.event_type: m for m in EVENT_MODELS}
    for model in EVENT_MODELS:
        name, _, version = model.event_type.rpartition(".v")
        if int(version) > 1:
            older = by_type[f"{name}.v{int(version) - 1}"]
            assert older.topic == model.topic


def test_personal_data_travels_only_on_restricted_topics() -> None:
    topics = {t.name: t for t in TOPICS}
    for model in EVENT_MODELS:
        fields = set(model.model_json_schema()["properties"])
        if fields & {"email", "phone", "contact"}:
            assert model.personal_data, model.event_type
        if model.personal_data and model.event_type != "requests.request.submitted.v1":
            # v1 is kept only to read what was written before ADR 0020.
            assert topics[model.topic].restricted, model.event_type
