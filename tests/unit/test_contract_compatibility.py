"""The compatibility rules themselves, on schemas made for the purpose."""

from __future__ import annotations

import copy
from typing import Any

from shared.contracts.compatibility import breaking_changes
from shared.contracts.export import schema_of
from shared.contracts.requests import RequestSubmitted

BASE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "amount": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "kind": {"$ref": "#/$defs/Kind"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["id"],
    "$defs": {"Kind": {"enum": ["a", "b"], "type": "string"}},
}


def changed(edit: Any) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    edit(schema)
    return schema


def test_identical_and_additive_changes_are_compatible() -> None:
    assert breaking_changes(BASE, BASE) == []
    added_optional = changed(lambda s: s["properties"].update(note={"type": "string"}))
    assert breaking_changes(BASE, added_optional) == []
    added_enum_value = changed(lambda s: s["$defs"]["Kind"]["enum"].append("c"))
    assert breaking_changes(BASE, added_enum_value) == []


def test_removing_a_field_breaks() -> None:
    removed = changed(lambda s: s["properties"].pop("amount"))
    assert breaking_changes(BASE, removed) == ["amount: property removed"]


def test_retyping_a_field_breaks() -> None:
    retyped = changed(lambda s: s["properties"].update(id={"type": "integer"}))
    assert breaking_changes(BASE, retyped) == ["id: type changed from ['string'] to ['integer']"]
    items = changed(lambda s: s["properties"]["tags"].update(items={"type": "integer"}))
    assert breaking_changes(BASE, items) == ["tags[]: type changed from ['string'] to ['integer']"]


def test_making_an_optional_field_required_breaks() -> None:
    required = changed(lambda s: s["required"].append("amount"))
    assert breaking_changes(BASE, required) == ["amount: became required"]


def test_dropping_null_from_an_optional_field_breaks() -> None:
    not_null = changed(lambda s: s["properties"].update(amount={"type": "string"}))
    assert breaking_changes(BASE, not_null) != []


def test_removing_an_enum_value_breaks() -> None:
    fewer = changed(lambda s: s["$defs"]["Kind"].update(enum=["a"]))
    assert breaking_changes(BASE, fewer) == ["kind: enum values removed: ['b']"]


def test_a_real_event_schema_detects_a_removed_field() -> None:
    real = schema_of(RequestSubmitted)
    broken = copy.deepcopy(real)
    broken["properties"].pop("phase")
    broken["required"].remove("phase")
    assert "phase: property removed" in breaking_changes(real, broken)
