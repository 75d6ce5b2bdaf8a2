"""One AsyncAPI 3.0 document per service, built from the code.

The channels come from :mod:`shared.contracts.topics` (a service sends to the topics it
writes and to its dead-letter topics, and receives from the topics it consumes), the
messages from :mod:`shared.contracts.registry` (one per ``ce_type``, payload = the JSON
Schema of the pydantic model), the headers from :mod:`shared.asyncapi.headers`, the
consumer groups from :func:`shared.contracts.topics.consumer_group`. The texts meant for
the départements' integrators are in French.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.asyncapi.headers import (
    DEAD_LETTER_SCHEMA,
    ENVELOPE_SCHEMA,
    JSON,
    Schemas,
    dead_letter_headers,
    departement_schema,
    envelope_headers,
    pointer,
)
from shared.contracts.base import EventPayload
from shared.contracts.registry import EVENT_MODELS
from shared.contracts.topics import (
    PROJECTED_TOPICS,
    REQUESTS_COMMAND,
    TOPICS,
    Topic,
    consumer_group,
    dead_letter_topic,
    departement_of_commands,
)
from shared.messaging.admin import DLQ_PARTITIONS
from shared.messaging.envelope import CONTENT_TYPE, H_CORRELATION_ID, H_SOURCE, H_TYPE
from shared.settings import DEFAULT_HTTP_PORTS, KafkaSettings

ASYNCAPI_VERSION = "3.0.0"
# The version of the event API: every event type is a ``.v1``; a ``.v2`` type bumps it.
API_VERSION = "1.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
SERVER = "kafka"

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
    "resources": (
        "Plateforme de ressources et d'échanges : fiches documentaires des départements et "
        "nationales, sessions de formation avec liste d'attente, retours d'expérience des "
        "missions achevées ; il écoute les achèvements de missions et publie fiches, "
        "formations, inscriptions et retours d'expérience."
    ),
}


def sends(service: str) -> list[Topic]:
    return [t for t in TOPICS if t.writer == service]


def receives(service: str) -> list[Topic]:
    return [t for t in TOPICS if service in t.consumers]


def models_of(topic: Topic) -> list[type[EventPayload]]:
    """The events on ``topic``; a département's integration topics carry the commands and
    the shared events without personal data (ADR 0020)."""
    if departement_of_commands(topic.name) is not None:
        return [m for m in EVENT_MODELS if m.topic == REQUESTS_COMMAND.name]
    if topic.name.startswith("dept.") and topic.name.endswith(".events.v1"):
        projected = {t.name for t in PROJECTED_TOPICS}
        return [m for m in EVENT_MODELS if m.topic in projected and not m.personal_data]
    return [m for m in EVENT_MODELS if m.topic == topic.name]


def message_headers(model: type[EventPayload], schemas: Schemas) -> JSON:
    """The envelope, with the ``ce_type`` (and the ``ce_source`` of a service) fixed."""
    schemas.add(ENVELOPE_SCHEMA, envelope_headers(), model.event_type)
    fixed: JSON = {H_TYPE: {"const": model.event_type}}
    if model.producer in SERVICES:
        fixed[H_SOURCE] = {"const": model.producer}
    return {
        "type": "object",
        "allOf": [
            {"$ref": pointer("components", "schemas", ENVELOPE_SCHEMA)},
            {"type": "object", "properties": fixed},
        ],
    }


def _key_binding() -> JSON:
    return {
        "key": departement_schema(
            "Le code du département : les événements d'un département restent sur une "
            "partition, dans l'ordre."
        ),
        "bindingVersion": KAFKA_BINDING_VERSION,
    }


def event_message(model: type[EventPayload], schemas: Schemas) -> JSON:
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


def dead_letter_message(topic: Topic, service: str, schemas: Schemas) -> JSON:
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
                {"$ref": pointer("components", "schemas", DEAD_LETTER_SCHEMA)},
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
        "messages": {m: {"$ref": pointer("components", "messages", m)} for m in messages},
        "servers": [{"$ref": pointer("servers", SERVER)}],
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
        "channel": {"$ref": pointer("channels", channel)},
        "summary": summary,
        "messages": [{"$ref": pointer("channels", channel, "messages", m)} for m in messages],
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
    schemas = Schemas()
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
