"""The parts of the AsyncAPI documents that describe Kafka headers: the CloudEvents
envelope every event carries (:mod:`shared.messaging.envelope`) and the ``dlq_*`` headers
of a dead letter (:mod:`shared.messaging.dead_letter`), plus ``components/schemas``, where
each name holds one schema only. The texts meant for the départements' integrators are in
French.
"""

from __future__ import annotations

import copy
from typing import Any

from shared.contracts.base import EventPayload
from shared.contracts.export import schema_of
from shared.contracts.vocabulary import DEPARTEMENT_CODE
from shared.messaging.dead_letter import MAX_ERROR_CHARS
from shared.messaging.envelope import (
    CONTENT_TYPE,
    H_CAUSATION_ID,
    H_CONTENT_TYPE,
    H_CORRELATION_ID,
    H_DEPARTEMENT,
    H_ID,
    H_SOURCE,
    H_SPECVERSION,
    H_TIME,
    H_TYPE,
    MAX_LENGTHS,
    REQUIRED_HEADERS,
    SPEC_VERSION,
)

JSON = dict[str, Any]

HEADER_DESCRIPTIONS = {
    H_SPECVERSION: "Version de CloudEvents.",
    H_ID: (
        "Identifiant unique de l'événement, créé une seule fois (avec la ligne d'outbox) : "
        "une nouvelle livraison du même événement porte le même `ce_id`. Gardez-le pour "
        "ignorer les doublons."
    ),
    H_SOURCE: "Le service ou le système qui a émis l'événement.",
    H_TYPE: "Le type de l'événement ; un consommateur ignore les types qu'il ne connaît pas.",
    H_TIME: "L'instant de l'événement, ISO 8601 en UTC (`2026-11-25T18:20:57.812Z`).",
    H_CONTENT_TYPE: "Le format du corps : toujours JSON.",
    H_CORRELATION_ID: (
        "Le `ce_id` du premier événement du parcours, ou le `X-Correlation-ID` de l'appel "
        "HTTP qui l'a commencé. À défaut, le `ce_id`."
    ),
    H_CAUSATION_ID: "Le `ce_id` de l'événement qui a causé celui-ci, quand il y en a un.",
    H_DEPARTEMENT: "Le code du département concerné (`49`, `2A`, `971`…), égal à la clé.",
}

DEAD_LETTER_HEADERS: dict[str, tuple[JSON, str]] = {
    "dlq_original_topic": ({"type": "string"}, "Le sujet d'où vient l'enregistrement."),
    "dlq_original_partition": (
        {"type": "string", "pattern": "^[0-9]+$"},
        "Sa partition d'origine.",
    ),
    "dlq_original_offset": ({"type": "string", "pattern": "^[0-9]+$"}, "Son offset d'origine."),
    "dlq_consumer": ({"type": "string"}, "Le service qui n'a pas pu le traiter."),
    "dlq_reason": (
        {"type": "string"},
        "La raison : `invalid_envelope`, `invalid_payload`, `handler_error`, ou une règle "
        "métier refusée.",
    ),
    "dlq_error": (
        {"type": "string", "maxLength": MAX_ERROR_CHARS},
        "Le détail de l'erreur, en ASCII.",
    ),
    "dlq_attempts": ({"type": "string", "pattern": "^[0-9]+$"}, "Le nombre de tentatives."),
    "dlq_failed_at": (
        {"type": "string", "format": "date-time"},
        "L'instant de la mise de côté, ISO 8601 en UTC.",
    ),
}


class SchemaNameClash(ValueError):
    """Two different schemas would share one name in ``components/schemas``."""


def pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        out = {key: _rewrite_refs(value) for key, value in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out["$ref"] = pointer("components", "schemas", ref.removeprefix("#/$defs/"))
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


class Schemas:
    """``components/schemas`` of one document: each name holds one schema only."""

    def __init__(self) -> None:
        self.by_name: JSON = {}

    def add(self, name: str, schema: JSON, owner: str) -> None:
        known = self.by_name.get(name)
        if known is not None and known != schema:
            raise SchemaNameClash(
                f"{owner}: a different schema named {name!r} is already in the document; "
                "rename one of the pydantic models"
            )
        self.by_name[name] = schema

    def payload(self, model: type[EventPayload]) -> JSON:
        """Registers the model's schema and its ``$defs``; returns a reference to it."""
        schema = copy.deepcopy(schema_of(model))
        definitions: JSON = schema.pop("$defs", {})
        # The checked-in JSON Schema's ``$id`` would change the base of every ``$ref``.
        schema.pop("$id", None)
        for name, definition in definitions.items():
            self.add(name, _rewrite_refs(definition), model.event_type)
        self.add(model.__name__, _rewrite_refs(schema), model.event_type)
        return {"$ref": pointer("components", "schemas", model.__name__)}


def departement_schema(description: str) -> JSON:
    return {
        "type": "string",
        "pattern": f"^(?:{DEPARTEMENT_CODE.pattern})$",
        "description": description,
    }


def _header(name: str, schema: JSON) -> JSON:
    return {**schema, "description": HEADER_DESCRIPTIONS[name]}


ENVELOPE_SCHEMA = "CloudEventsHeaders"
DEAD_LETTER_SCHEMA = "DeadLetterHeaders"


def envelope_headers() -> JSON:
    """The CloudEvents binary-mode headers that every event carries."""
    properties = {
        H_SPECVERSION: _header(H_SPECVERSION, {"type": "string", "const": SPEC_VERSION}),
        H_ID: _header(H_ID, {"type": "string", "minLength": 1, "maxLength": MAX_LENGTHS[H_ID]}),
        H_SOURCE: _header(
            H_SOURCE, {"type": "string", "minLength": 1, "maxLength": MAX_LENGTHS[H_SOURCE]}
        ),
        H_TYPE: _header(
            H_TYPE, {"type": "string", "minLength": 1, "maxLength": MAX_LENGTHS[H_TYPE]}
        ),
        H_TIME: _header(H_TIME, {"type": "string", "format": "date-time"}),
        H_CONTENT_TYPE: _header(
            H_CONTENT_TYPE, {"type": "string", "pattern": f"^{CONTENT_TYPE}( *;.*)?$"}
        ),
        H_CORRELATION_ID: _header(
            H_CORRELATION_ID, {"type": "string", "maxLength": MAX_LENGTHS[H_CORRELATION_ID]}
        ),
        H_CAUSATION_ID: _header(
            H_CAUSATION_ID, {"type": "string", "maxLength": MAX_LENGTHS[H_CAUSATION_ID]}
        ),
        H_DEPARTEMENT: departement_schema(HEADER_DESCRIPTIONS[H_DEPARTEMENT]),
    }
    return {
        "type": "object",
        "title": "En-têtes CloudEvents",
        "description": (
            "Enveloppe CloudEvents 1.0 en mode binaire Kafka : les attributs sont dans les "
            "en-têtes, en ASCII ; le corps est le JSON de l'événement seul."
        ),
        "required": list(REQUIRED_HEADERS),
        "properties": properties,
    }


def dead_letter_headers() -> JSON:
    """The ``dlq_*`` headers added to a dead-lettered record."""
    return {
        "type": "object",
        "title": "En-têtes d'une lettre morte",
        "description": (
            "Les en-têtes d'origine (CloudEvents, s'ils étaient lisibles), plus ceux-ci."
        ),
        "required": list(DEAD_LETTER_HEADERS),
        "properties": {
            name: {**schema, "description": text}
            for name, (schema, text) in DEAD_LETTER_HEADERS.items()
        },
    }
