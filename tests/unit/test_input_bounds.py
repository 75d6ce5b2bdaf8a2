"""Every text a caller sends is bounded (ADR 0021): each string of every request body, query
parameter and path segment of the four OpenAPI documents has a maximum length, or a form
that bounds it (enumeration, UUID, date, a pattern without repetition, a decimal)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.billing.entrypoints.http import RunIn
from services.matching.domain.catalogue import CatalogueError, actors_from_document
from tests.support.openapi_documents import SERVICES, openapi_document

BOUNDED_FORMATS = {"uuid", "date", "date-time", "binary", "email"}


def unbounded(schema: dict[str, Any], components: dict[str, Any], where: str) -> list[str]:
    if "$ref" in schema:
        return unbounded(components[schema["$ref"].rsplit("/", 1)[-1]], components, where)
    found = []
    alternatives = schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", [])
    # A decimal is "number or string": its digits are bounded by its number constraints.
    decimal = any(a.get("type") == "number" for a in alternatives)
    for alternative in alternatives:
        if not (decimal and alternative.get("type") == "string"):
            found += unbounded(alternative, components, where)
    if schema.get("type") == "string":
        pattern = str(schema.get("pattern", ""))
        bounded_pattern = bool(pattern) and not any(c in pattern for c in "+*")
        if not (
            "maxLength" in schema
            or "enum" in schema
            or "const" in schema
            or schema.get("format") in BOUNDED_FORMATS
            or bounded_pattern
        ):
            found.append(where)
    for key, child in schema.get("properties", {}).items():
        found += unbounded(child, components, f"{where}.{key}")
    if isinstance(schema.get("items"), dict):
        found += unbounded(schema["items"], components, f"{where}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        found += unbounded(schema["additionalProperties"], components, f"{where}.*")
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_string_input_of_the_api_is_bounded(service: str) -> None:
    document = openapi_document(service)
    components = document.get("components", {}).get("schemas", {})
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            at = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                where = f"{at} {parameter['in']}:{parameter['name']}"
                found += unbounded(parameter.get("schema", {}), components, where)
            for content in operation.get("requestBody", {}).get("content", {}).values():
                found += unbounded(content.get("schema", {}), components, f"{at} body")
    assert found == []


@pytest.mark.parametrize("name", ["x" * 201, "CAUE\x00", "CAUE\nde Maine-et-Loire"])
def test_a_catalogue_name_is_one_bounded_line(name: str) -> None:
    actor = {
        "id": "caue49",
        "name": name,
        "kind": "caue",
        "themes": {"urbanisme": 2},
        "phases": ["idee"],
        "territory": {"departements": ["49"]},
        "capacity": 3,
    }
    with pytest.raises(CatalogueError, match="200 caractères au plus"):
        actors_from_document({"departement": "49", "actors": [actor]})


@pytest.mark.parametrize("code", ["\x00w\xb3", "000", "2a", "49 "])
def test_a_cotisation_run_names_official_departement_codes_only(code: str) -> None:
    """A NUL byte here reached PostgreSQL: 500 (the OpenAPI fuzz test, 100 examples)."""
    with pytest.raises(ValidationError):
        RunIn.model_validate({"year": 2026, "departements": ["49", code]})
    assert RunIn.model_validate({"year": 2026, "departements": ["49", "2A"]}).departements
