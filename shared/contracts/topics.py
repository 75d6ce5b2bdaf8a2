"""Every Kafka topic of the product, declared once.

A topic belongs to the aggregate of the one service that writes it; the key of
every record is the département code. Dead-letter topics are named
``<topic>.<consumer-service>.dlq``.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PARTITIONS = 12


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    writer: str
    consumers: tuple[str, ...] = ()
    partitions: int = DEFAULT_PARTITIONS
    description: str = ""
    # Its events rebuild a projection from offset 0 (a consumer's own copy of another
    # service's state): the broker keeps them without time limit (retention.ms=-1).
    keep_forever: bool = False

    def configs(self) -> dict[str, str]:
        """The topic-level settings it is created with (and kept at by ``mg-topics``)."""
        return {"retention.ms": "-1"} if self.keep_forever else {}


REQUESTS_REQUEST = Topic(
    "requests.request.v1",
    writer="requests",
    consumers=("matching", "notifications", "resources"),
    description="Lifecycle of a demande: submitted, withdrawn, status changes.",
    # The activity reports of the resources service are rebuilt from offset 0 of it.
    keep_forever=True,
)
REQUESTS_PROJECT = Topic(
    "requests.project.v1",
    writer="requests",
    consumers=("notifications",),
    description=(
        "Projects across their phases: a phase opened or closed, with its Les Communs phase "
        "and status; a demande that looks like an open one of the same collectivité."
    ),
)
REQUESTS_COMMAND = Topic(
    "requests.command.v1",
    writer="departement-systems",
    consumers=("requests",),
    description=(
        "Commands from département systems: submit a demande, open a project's next phase."
    ),
)

MATCHING_ACTOR = Topic(
    "matching.actor.v1",
    writer="matching",
    consumers=(),
    description="The actor catalogue of each département: registrations and changes.",
)
MATCHING_ASSIGNMENT = Topic(
    "matching.assignment.v1",
    writer="matching",
    consumers=("requests", "billing", "notifications", "resources"),
    description="Proposals, acceptances, declines, expiries, completions; unmatched demandes.",
    # The activity reports of the resources service are rebuilt from offset 0 of it.
    keep_forever=True,
)

MATCHING_MISSION = Topic(
    "matching.mission.v1",
    writer="matching",
    # billing (the balance at the last milestone) joins when it subscribes: the stack
    # waits for every declared reader's group.
    consumers=("requests", "notifications"),
    description="The course of accepted missions: milestones done, deliverables, hand-overs.",
)

BILLING_ADHESION = Topic(
    "billing.adhesion.v1",
    writer="billing",
    consumers=("matching", "notifications", "resources"),
    description="Adhésions of collectivités to their département's offer, per year; "
    "membership offers to non-members.",
    # Matching's projection of the members is rebuilt from it (mg-matching rebuild-memberships).
    keep_forever=True,
)
BILLING_INVOICE = Topic(
    "billing.invoice.v1",
    writer="billing",
    consumers=("notifications", "resources"),
    description="Invoices and credit notes, numbered without gaps per département and year.",
    # The activity reports of the resources service are rebuilt from offset 0 of it.
    keep_forever=True,
)
BILLING_CONVENTION = Topic(
    "billing.convention.v1",
    writer="billing",
    # The contract also names "requests": add it with the requests service's subscriber
    # (a declared consumer that does not subscribe stalls the stack's group checks).
    consumers=("matching", "notifications"),
    description="Conventions (devis) of the missions: prepared, sent, signed, refused, expired, "
    "amended.",
)

NOTIFICATIONS_DELIVERY = Topic(
    "notifications.delivery.v1",
    writer="notifications",
    consumers=(),
    description="Outcome of every email and webhook delivery: sent, or dead-lettered.",
)

RESOURCES_SHEET = Topic(
    "resources.sheet.v1",
    writer="resources",
    consumers=(),
    description="Documentation sheets of a département or national: published, revised.",
)
RESOURCES_TRAINING = Topic(
    "resources.training.v1",
    writer="resources",
    consumers=("resources",),
    description="Training sessions offered by actors and the registrations of collectivités: "
    "registered, waiting, promoted from the waiting list, cancelled.",
    # The activity reports of the resources service are rebuilt from offset 0 of it.
    keep_forever=True,
)
RESOURCES_EXPERIENCE = Topic(
    "resources.experience.v1",
    writer="resources",
    consumers=(),
    description="Retours d'expérience of closed missions: drafted by the actor, published once "
    "the collectivité consents.",
)

RESOURCES_SURVEY = Topic(
    "resources.survey.v1",
    writer="resources",
    consumers=(),
    description="Satisfaction surveys of closed missions: due (with the signed link to send), "
    "reminded, answered.",
)

TOPICS: tuple[Topic, ...] = (
    REQUESTS_REQUEST,
    REQUESTS_PROJECT,
    REQUESTS_COMMAND,
    MATCHING_ACTOR,
    MATCHING_ASSIGNMENT,
    MATCHING_MISSION,
    BILLING_ADHESION,
    BILLING_INVOICE,
    BILLING_CONVENTION,
    NOTIFICATIONS_DELIVERY,
    RESOURCES_SHEET,
    RESOURCES_TRAINING,
    RESOURCES_EXPERIENCE,
    RESOURCES_SURVEY,
)


def consumer_group(service_group: str, topic: str) -> str:
    """The consumer group of one service's subscription to one topic.

    One group per topic lets a service's subscriptions rebalance independently.
    """
    return f"{service_group}.{topic}"


def dead_letter_topic(topic: str, consumer: str) -> str:
    return f"{topic}.{consumer}.dlq"


def all_topic_names() -> list[str]:
    """Every topic to create, dead-letter topics included."""
    names = [t.name for t in TOPICS]
    names += [dead_letter_topic(t.name, c) for t in TOPICS for c in t.consumers]
    return names
