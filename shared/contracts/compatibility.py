"""Backward-compatibility rules between two JSON Schemas of one event type.

A consumer written against the old schema must still read every payload valid
under the new one: no property removed, no type changed, no optional property
made required, no enum value removed.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def _resolve(node: Schema, root: Schema) -> Schema:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: Schema = root["$defs"][ref.removeprefix("#/$defs/")]
        return resolved
    return node


def _types(node: Schema, root: Schema) -> set[str]:
    node = _resolve(node, root)
    if "anyOf" in node:
        found: set[str] = set()
        for option in node["anyOf"]:
            found |= _types(option, root)
        return found
    if "enum" in node:
        return {"enum"}
    kind = node.get("type")
    if isinstance(kind, list):
        return set(kind)
    if kind is None:
        return {"object"} if "properties" in node else {"any"}
    return {str(kind)}


def _enum_values(node: Schema, root: Schema) -> set[Any]:
    node = _resolve(node, root)
    values: set[Any] = set(node.get("enum", []))
    for option in node.get("anyOf", []):
        values |= _enum_values(option, root)
    return values


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """What in ``new`` breaks consumers of ``old``; empty when compatible."""
    problems: list[str] = []
    _compare(old, new, old, new, "", problems)
    return problems


def _compare(
    old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str, problems: list[str]
) -> None:
    old = _resolve(old, old_root)
    new = _resolve(new, new_root)
    old_types, new_types = _types(old, old_root), _types(new, new_root)
    if "any" not in new_types and not new_types >= old_types - {"null"} | (old_types & {"null"}):
        problems.append(
            f"{path or '<root>'}: type changed from {sorted(old_types)} to {sorted(new_types)}"
        )
        return
    removed_values = _enum_values(old, old_root) - _enum_values(new, new_root)
    if removed_values and _enum_values(new, new_root):
        problems.append(
            f"{path or '<root>'}: enum values removed: {sorted(map(str, removed_values))}"
        )
    old_props: Schema = old.get("properties", {})
    new_props: Schema = new.get("properties", {})
    for name, old_prop in old_props.items():
        where = f"{path}.{name}" if path else name
        if name not in new_props:
            problems.append(f"{where}: property removed")
            continue
        _compare(old_prop, new_props[name], old_root, new_root, where, problems)
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required):
        where = f"{path}.{name}" if path else name
        problems.append(f"{where}: became required")
    old_items, new_items = old.get("items"), new.get("items")
    if isinstance(old_items, dict) and isinstance(new_items, dict):
        _compare(old_items, new_items, old_root, new_root, f"{path}[]", problems)
    for index, option in enumerate(old.get("anyOf", [])):
        resolved = _resolve(option, old_root)
        if "properties" in resolved:
            matching = [o for o in new.get("anyOf", []) if "properties" in _resolve(o, new_root)]
            if index < len(matching):
                _compare(resolved, matching[index], old_root, new_root, path, problems)
