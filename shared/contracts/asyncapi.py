"""Generates one AsyncAPI 3.0 document per service into ``docs/asyncapi/``.

Everything in the documents comes from the code: the channels from
:mod:`shared.contracts.topics` (a service sends to the topics it writes and to
its dead-letter topics, and receives from the topics it consumes), the messages
from :mod:`shared.contracts.registry` (one per ``ce_type``, payload = the JSON
Schema of the pydantic model), the headers from the CloudEvents envelope
(:mod:`shared.messaging.envelope`), the consumer groups from the naming of
:func:`shared.messaging.consumer.subscribe`. The texts meant for the
départements' integrators are in French.

``mg-asyncapi write`` rewrites the files; ``mg-asyncapi check`` fails when a
checked-in document differs from the code. ``infra/asyncapi/validate.sh`` runs
the official AsyncAPI parser over them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from shared.contracts.base import EventPayload
from shared.contracts.export import schema_of
from shared.contracts.registry import EVENT_MODELS
from shared.contracts.topics import TOPICS, Topic, consumer_group, dead_letter_topic
from shared.messaging.admin import DLQ_PARTITIONS
from shared.messaging.dead_letter import MAX_ERROR_CHARS
from shared.messaging.envelope import (
    CONTENT_TYPE,
    DEPARTEMENT_CODE,
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
from shared.settings import DEFAULT_HTTP_PORTS, KafkaSettings

JSON = dict[str, Any]

ASYNCAPI_VERSION = "3.0.0"
# The version of the event API: every event type is a ``.v1``; a ``.v2`` type bumps it.
API_VERSION = "1.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
SERVER = "kafka"

DOC_DIR = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"

SERVICES: tuple[str, ...] = tuple(DEFAULT_HTTP_PORTS)

PURPOSE = {
    "requests": (
        "Dépôt et suivi des demandes d'accompagnement des communes et des EPCI : il publie "
        "le cycle de vie de chaque demande, reçoit les demandes déposées par événement par "
        "les systèmes des départements, et suit l'avancement des missions."
    ),
    "matching": (
        "Orientation des demandes vers les acteurs publics compétents (thèmes, phases, "
        "territoire, capacité) : il publie le catalogue des acteurs, les propositions, "
        "acceptations, refus, expirations et achèvements de missions, et les demandes "
        "restées sans acteur."
    ),
    "billing": (
        "Cotisations, frais de mission, factures et avoirs numérotés sans trou par "
        "département et par année : il publie les adhésions et les pièces comptables."
    ),
    "notifications": (
        "Courriels et webhooks signés (HMAC-SHA256), sans perte ni doublon : il écoute "
        "les demandes, les missions et les factures, et publie l'issue de chaque envoi."
    ),
}

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

app = typer.Typer(help="AsyncAPI documents of the services' events.", no_args_is_help=True)


class SchemaNameClash(ValueError):
    """Two different schemas would share one name in ``components/schemas``."""


def sends(service: str) -> list[Topic]:
    return [t for t in TOPICS if t.writer == service]


def receives(service: str) -> list[Topic]:
    return [t for t in TOPICS if service in t.consumers]


def models_of(topic: Topic) -> list[type[EventPayload]]:
    return [m for m in EVENT_MODELS if m.topic == topic.name]


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        out = {key: _rewrite_refs(value) for key, value in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out["$ref"] = _pointer("components", "schemas", ref.removeprefix("#/$defs/"))
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


class _Schemas:
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
        return {"$ref": _pointer("components", "schemas", model.__name__)}


def _departement_schema(description: str) -> JSON:
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
        H_DEPARTEMENT: _departement_schema(HEADER_DESCRIPTIONS[H_DEPARTEMENT]),
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


def message_headers(model: type[EventPayload], schemas: _Schemas) -> JSON:
    """The envelope, with the ``ce_type`` (and the ``ce_source`` of a service) fixed."""
    schemas.add(ENVELOPE_SCHEMA, envelope_headers(), model.event_type)
    fixed: JSON = {H_TYPE: {"const": model.event_type}}
    if model.producer in SERVICES:
        fixed[H_SOURCE] = {"const": model.producer}
    return {
        "type": "object",
        "allOf": [
            {"$ref": _pointer("components", "schemas", ENVELOPE_SCHEMA)},
            {"type": "object", "properties": fixed},
        ],
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


def _key_binding() -> JSON:
    return {
        "key": _departement_schema(
            "Le code du département : les événements d'un département restent sur une "
            "partition, dans l'ordre."
        ),
        "bindingVersion": KAFKA_BINDING_VERSION,
    }


def event_message(model: type[EventPayload], schemas: _Schemas) -> JSON:
    message: JSON = {
        "name": model.event_type,
        "title": model.__name__,
    }
    if model.summary:
        message["summary"] = model.summary
    message |= {
        "contentType": CONTENT_TYPE,
        "headers": message_headers(model, schemas),
        "payload": schemas.payload(model),
        "correlationId": {
            "description": "Le parcours auquel l'événement appartient.",
            "location": f"$message.header#/{H_CORRELATION_ID}",
        },
        "bindings": {"kafka": _key_binding()},
    }
    return message


def dead_letter_message(topic: Topic, service: str, schemas: _Schemas) -> JSON:
    schemas.add(DEAD_LETTER_SCHEMA, dead_letter_headers(), dead_letter_topic(topic.name, service))
    return {
        "name": f"{dead_letter_topic(topic.name, service)}.record",
        "title": "Lettre morte",
        "summary": f"Un enregistrement de `{topic.name}` que `{service}` n'a pas pu traiter.",
        "description": (
            "L'enregistrement d'origine, tel quel (clé, corps, en-têtes CloudEvents), mis de "
            "côté après au plus le nombre de tentatives permis, avec les en-têtes `dlq_*` "
            "qui disent d'où il vient et pourquoi. Une fois corrigé, il peut être rejoué "
            "sur son sujet."
        ),
        "headers": {
            "type": "object",
            "allOf": [
                {"$ref": _pointer("components", "schemas", DEAD_LETTER_SCHEMA)},
                {
                    "type": "object",
                    "properties": {
                        "dlq_original_topic": {"const": topic.name},
                        "dlq_consumer": {"const": service},
                    },
                },
            ],
        },
        "payload": {
            "description": (
                "Le corps d'origine, octet pour octet : en général le JSON de l'événement, "
                "parfois illisible (c'est peut-être la raison du rejet)."
            )
        },
        "bindings": {"kafka": _key_binding()},
    }


def _channel(topic: Topic, name: str, description: str, messages: Iterable[str]) -> JSON:
    return {
        "address": name,
        "title": name,
        "description": description,
        "messages": {m: {"$ref": _pointer("components", "messages", m)} for m in messages},
        "servers": [{"$ref": _pointer("servers", SERVER)}],
        "bindings": {
            "kafka": {
                "topic": name,
                "partitions": topic.partitions if name == topic.name else DLQ_PARTITIONS,
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _operation(action: str, channel: str, messages: Iterable[str], summary: str) -> JSON:
    return {
        "action": action,
        "channel": {"$ref": _pointer("channels", channel)},
        "summary": summary,
        "messages": [{"$ref": _pointer("channels", channel, "messages", m)} for m in messages],
    }


def _info(service: str) -> JSON:
    written = ", ".join(f"`{t.name}`" for t in sends(service)) or "aucun"
    read = ", ".join(f"`{t.name}`" for t in receives(service)) or "aucun"
    return {
        "title": f"Matière Grise — service `{service}` : événements Kafka",
        "version": API_VERSION,
        "description": "\n".join(
            [
                PURPOSE[service],
                "",
                f"Sujets écrits : {written}. Sujets lus : {read}.",
                "",
                "- **Enveloppe** : CloudEvents 1.0 en mode binaire ; les en-têtes portent "
                "`ce_specversion`, `ce_id`, `ce_source`, `ce_type`, `ce_time`, "
                "`content-type`, `correlation_id`, `causation_id` et `departement`, en ASCII. "
                "Le corps est le JSON de l'événement.",
                "- **Clé** : le code du département ; les événements d'un département "
                "restent dans l'ordre sur une partition.",
                "- **Livraison au moins une fois** : gardez le `ce_id` de ce que vous avez "
                "traité et ignorez-le s'il revient.",
                "- **Types inconnus** : ignorez un `ce_type` que vous ne connaissez pas ; "
                "de nouveaux types peuvent apparaître sur un sujet.",
                "- **Évolution** : dans un type `.v1`, on n'ajoute que des champs "
                "facultatifs et des valeurs d'énumération ; un changement incompatible "
                "est un nouveau type `.v2`, publié à côté de l'ancien.",
                "- **Lettres mortes** : ce qu'un service ne peut pas traiter va sur "
                "`<sujet>.<service>.dlq`, avec des en-têtes `dlq_*`.",
                "",
                "Document généré depuis le code (`mg-asyncapi write`) ; le catalogue des "
                "événements est dans `docs/events.md`.",
            ]
        ),
        "license": {
            "name": "EUPL-1.2",
            "url": "https://interoperable-europe.ec.europa.eu/collection/eupl/eupl-text-eupl-12",
        },
        "tags": [{"name": service}],
    }


def _server() -> JSON:
    bootstrap = KafkaSettings.model_fields["bootstrap_servers"].default
    return {
        "host": "{bootstrap}",
        "protocol": "kafka",
        "description": (
            "Le cluster Kafka (4.x, KRaft). En local : PLAINTEXT sur la boucle locale ; "
            "en production : SASL/SCRAM et TLS (`MG_KAFKA_SECURITY_PROTOCOL`, "
            "`MG_KAFKA_SASL_*`, `MG_KAFKA_SSL_CAFILE`)."
        ),
        "variables": {
            "bootstrap": {
                "default": bootstrap,
                "description": "Les serveurs d'amorçage (`MG_KAFKA_BOOTSTRAP_SERVERS`).",
            }
        },
    }


def document(service: str) -> JSON:
    """The AsyncAPI document of ``service``."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    schemas = _Schemas()
    messages: JSON = {}
    channels: JSON = {}
    operations: JSON = {}

    def event_channel(topic: Topic) -> list[str]:
        ids = []
        for model in models_of(topic):
            messages[model.event_type] = event_message(model, schemas)
            ids.append(model.event_type)
        channels[topic.name] = _channel(topic, topic.name, topic.description, ids)
        return ids

    for topic in sends(service):
        ids = event_channel(topic)
        operations[f"send.{topic.name}"] = _operation(
            "send", topic.name, ids, f"`{service}` publie sur `{topic.name}`."
        )
    for topic in receives(service):
        ids = event_channel(topic)
        group = consumer_group(service, topic.name)
        operation = _operation(
            "receive", topic.name, ids, f"`{service}` lit `{topic.name}` (groupe `{group}`)."
        )
        operation["bindings"] = {
            "kafka": {
                "groupId": {
                    "type": "string",
                    "const": group,
                    "description": (
                        f"`MG_{service.upper()}_CONSUMER_GROUP` (par défaut `{service}`), "
                        "suivi du sujet : un groupe par service et par sujet."
                    ),
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        }
        operations[f"receive.{topic.name}"] = operation
    for topic in receives(service):
        dlq = dead_letter_topic(topic.name, service)
        letter = dead_letter_message(topic, service, schemas)
        messages[letter["name"]] = letter
        channels[dlq] = _channel(
            topic,
            dlq,
            f"Les lettres mortes de `{service}` sur `{topic.name}`.",
            [letter["name"]],
        )
        operations[f"send.{dlq}"] = _operation(
            "send",
            dlq,
            [letter["name"]],
            f"`{service}` met de côté ce qu'il ne peut pas traiter de `{topic.name}`.",
        )

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": f"urn:matiere-grise:{service}",
        "info": _info(service),
        "servers": {SERVER: _server()},
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": dict(sorted(schemas.by_name.items())),
        },
    }


def render(doc: JSON) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def document_path(service: str, directory: Path = DOC_DIR) -> Path:
    return directory / f"{service}.json"


def problems(directory: Path = DOC_DIR) -> list[str]:
    found: list[str] = []
    for service in SERVICES:
        path = document_path(service, directory)
        if not path.exists():
            found.append(f"{path.name}: missing (run `mg-asyncapi write`)")
        elif path.read_text(encoding="utf-8") != render(document(service)):
            found.append(f"{path.name}: stale (run `mg-asyncapi write`)")
    expected = {document_path(s, directory).name for s in SERVICES}
    if directory.is_dir():
        found += [
            f"{path.name}: no such service (delete it)"
            for path in sorted(directory.glob("*.json"))
            if path.name not in expected
        ]
    return found


@app.command()
def write(
    directory: Annotated[Path, typer.Option("--dir", help="Where to write them")] = DOC_DIR,
) -> None:
    """Rewrite the AsyncAPI document of every service from the code."""
    directory.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        path = document_path(service, directory)
        path.write_text(render(document(service)), encoding="utf-8")
        typer.echo(f"wrote {path}")


@app.command()
def check(
    directory: Annotated[Path, typer.Option("--dir", help="Where they are")] = DOC_DIR,
) -> None:
    """Fail when a document is missing or differs from the code."""
    found = problems(directory)
    for problem in found:
        typer.echo(problem, err=True)
    if found:
        raise typer.Exit(1)
    typer.echo(f"{len(SERVICES)} AsyncAPI documents up to date")


if __name__ == "__main__":
    app()
