"""Who may do what on the broker, derived from the topic catalogue (ADR 0019).

One principal per name the catalogue knows (each topic's writer and consumers), one per
département that reads its integration topic, and ``admin`` (a super user of the broker:
``mg-topics``, the test harness). A service writes the topics it owns and the dead-letter
topics of its subscriptions, reads what it subscribes to (and its own dead letters), and
uses consumer groups whose names start with its own. A département's principal reads
``dept.<code>.events.v1`` and writes ``dept.<code>.commands.v1``, nothing else.

``mg-topics create`` applies them; creating an ACL that exists already changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest_v1
from aiokafka.protocol.api import Request

from shared.contracts.topics import (
    INTEGRATION_PROJECTION,
    PROJECTED_TOPICS,
    SERVED_DEPARTEMENTS,
    dead_letter_topic,
    declared_topics,
    departement_commands,
    departement_events,
)

ADMIN = "admin"
# The broker's own principal (inter-broker SASL, and the CN of its certificate on the
# controller listener): a super user, never a client's.
BROKER = "broker"


class ResourceType(IntEnum):
    TOPIC = 2
    GROUP = 3


class PatternType(IntEnum):
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    READ = 3
    WRITE = 4


ALLOW = 3


@dataclass(frozen=True, order=True)
class Acl:
    principal: str
    operation: Operation
    resource_type: ResourceType
    name: str
    pattern: PatternType = PatternType.LITERAL

    def creation(self) -> tuple[int, str, int, str, str, int, int]:
        return (
            self.resource_type,
            self.name,
            self.pattern,
            f"User:{self.principal}",
            "*",
            self.operation,
            ALLOW,
        )


def departement_principal(code: str) -> str:
    """The principal of a département's system: the writer of its commands topic."""
    return departement_commands(code).writer


def catalogue_principals(served: tuple[str, ...] = SERVED_DEPARTEMENTS) -> list[str]:
    """Every writer and reader the topic catalogue names (the départements' systems, as
    writers of their commands topics, included)."""
    topics = declared_topics(served)
    names = {t.writer for t in topics} | {c for t in topics for c in t.consumers}
    return sorted(names)


def principals(served: tuple[str, ...] = SERVED_DEPARTEMENTS) -> list[str]:
    """Every client principal of the broker: the catalogue's and admin."""
    return [*catalogue_principals(served), ADMIN]


def acls(served: tuple[str, ...] = SERVED_DEPARTEMENTS) -> list[Acl]:
    """Every ACL of the product, sorted."""
    found: set[Acl] = set()
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    read, write = Operation.READ, Operation.WRITE
    for t in declared_topics(served):
        found.add(Acl(t.writer, write, topic, t.name))
        for consumer in t.consumers:
            found.add(Acl(consumer, read, topic, t.name))
            dlq = dead_letter_topic(t.name, consumer)
            found |= {Acl(consumer, write, topic, dlq), Acl(consumer, read, topic, dlq)}
    # The projection to the integration topics (ADR 0020) is notifications' consumer of
    # every shared topic, with dead letters of its own.
    projector = departement_events(SERVED_DEPARTEMENTS[0]).writer
    for t in PROJECTED_TOPICS:
        dlq = dead_letter_topic(t.name, INTEGRATION_PROJECTION)
        found |= {
            Acl(projector, read, topic, t.name),
            Acl(projector, write, topic, dlq),
            Acl(projector, read, topic, dlq),
        }
    for name in catalogue_principals(served):
        found.add(Acl(name, read, group, name, PatternType.PREFIXED))
    for code in served:
        # A département's system reads its own events, nothing else.
        found.add(Acl(departement_principal(code), read, topic, departement_events(code).name))
    return sorted(found)


class _CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]
    """CreateAcls with many creations at once (aiokafka's own request carries one)."""

    API_KEY = 30

    def __init__(self, creations: list[tuple[int, str, int, str, str, int, int]]) -> None:
        self._creations = creations

    def build(self, request_struct_class: type[Any]) -> Any:
        return request_struct_class(self._creations)


class AclRefused(RuntimeError):
    """The broker refused to create some ACLs."""


async def apply_acls(admin: AIOKafkaAdminClient, wanted: list[Acl]) -> None:
    """Create ``wanted`` on the broker (existing ones are left as they are)."""
    node = admin._client.get_random_node()
    response = await admin._client.send(node, _CreateAcls([a.creation() for a in wanted]))
    errors = [
        f"{acl}: {message or code}"
        for acl, (code, message) in zip(wanted, response.creation_responses, strict=True)
        if code
    ]
    if errors:
        raise AclRefused("; ".join(errors))
