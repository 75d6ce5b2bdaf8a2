"""Every Kafka topic of the product, declared once.

A topic belongs to the aggregate of the one service that writes it; the key of
every record is the département code (the restricted contact topic's is the contact id).
Dead-letter topics are named ``<topic>.<consumer-service>.dlq``.

Shared topics carry no personal data; ``restricted`` topics do and are read only by
the services that need them. Each département served has its own integration topics,
``dept.<code>.events.v1`` (a projection of the shared events) and
``dept.<code>.commands.v1`` (its system's commands), which only its principal may read
or write (ADR 0020).
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
    # Carries personal data: read only by the services that need it, never projected to a
    # département's integration topic, left out of the "no email on shared topics" check.
    restricted: bool = False
    # Keeps the newest record of each key (compaction): a tombstone erases a key for good.
    compacted: bool = False

    def configs(self) -> dict[str, str]:
        """The topic-level settings it is created with (and kept at by ``mg-topics``)."""
        if self.compacted:
            return {"cleanup.policy": "compact"}
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
REQUESTS_CONTACT = Topic(
    "requests.contact.v1",
    writer="requests",
    consumers=("notifications",),
    description=(
        "Restricted: the contact (name, email, phone) of each demande, keyed by contact id, "
        "for the services that write to them."
    ),
    restricted=True,
    compacted=True,
)
REQUESTS_COMMAND = Topic(
    "requests.command.v1",
    writer="departement-systems",
    consumers=("requests",),
    description=(
        "Deprecated for département systems (their own dept.<code>.commands.v1, ADR 0020): "
        "internal commands whose département is the header's: submit a demande, open a "
        "project's next phase."
    ),
    # A submit-request command carries the contact.
    restricted=True,
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
BILLING_BUYER = Topic(
    "billing.buyer.v1",
    writer="billing",
    consumers=(),
    description="Buyer accounts of the collectivités (Chorus Pro invoicing establishment, "
    "service code, what the buyer requires), as the département, a signature or the "
    "Chorus Pro directory set them.",
)

NOTIFICATIONS_DELIVERY = Topic(
    "notifications.delivery.v1",
    writer="notifications",
    consumers=(),
    description="Outcome of every email and webhook delivery: sent, or dead-lettered.",
)

# The départements whose systems are connected by default: the demo's.
SERVED_DEPARTEMENTS: tuple[str, ...] = ("49", "35", "24", "78")
# The consumer name of the projection to the integration topics (its dead letters).
INTEGRATION_PROJECTION = "integration"


def departement_events(code: str) -> Topic:
    return Topic(
        f"dept.{code}.events.v1",
        writer="notifications",
        description=f"The shared events of département {code}, for its own systems only.",
    )


def departement_commands(code: str) -> Topic:
    return Topic(
        f"dept.{code}.commands.v1",
        writer=f"dept-{code}",
        consumers=("requests",),
        description=(f"Commands of département {code}'s system; their département is the topic's."),
        # A submit-request command carries the contact.
        restricted=True,
    )


def integration_topics(departements: tuple[str, ...] = SERVED_DEPARTEMENTS) -> tuple[Topic, ...]:
    return tuple(
        topic
        for code in departements
        for topic in (departement_events(code), departement_commands(code))
    )


def departement_of_commands(topic: str) -> str | None:
    """The département whose commands topic this is: ``dept.35.commands.v1`` → ``35``."""
    parts = topic.split(".")
    if len(parts) == 4 and parts[0] == "dept" and parts[2:] == ["commands", "v1"]:
        return parts[1]
    return None


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
    # A due survey carries its signed one-time link: a bearer capability, not projected.
    restricted=True,
    description="Satisfaction surveys of closed missions: due (with the signed link to send), "
    "reminded, answered.",
)

PRODUCT_TOPICS: tuple[Topic, ...] = (
    REQUESTS_REQUEST,
    REQUESTS_PROJECT,
    REQUESTS_CONTACT,
    REQUESTS_COMMAND,
    MATCHING_ACTOR,
    MATCHING_ASSIGNMENT,
    MATCHING_MISSION,
    BILLING_ADHESION,
    BILLING_INVOICE,
    BILLING_CONVENTION,
    BILLING_BUYER,
    NOTIFICATIONS_DELIVERY,
    RESOURCES_SHEET,
    RESOURCES_TRAINING,
    RESOURCES_EXPERIENCE,
    RESOURCES_SURVEY,
)

# The shared topics whose events go to each département's integration topic.
PROJECTED_TOPICS: tuple[Topic, ...] = tuple(t for t in PRODUCT_TOPICS if not t.restricted)

TOPICS: tuple[Topic, ...] = PRODUCT_TOPICS + integration_topics()


def consumer_group(service_group: str, topic: str) -> str:
    """The consumer group of one service's subscription to one topic.

    One group per topic lets a service's subscriptions rebalance independently.
    """
    return f"{service_group}.{topic}"


def dead_letter_topic(topic: str, consumer: str) -> str:
    return f"{topic}.{consumer}.dlq"


def declared_topics(served: tuple[str, ...] = SERVED_DEPARTEMENTS) -> tuple[Topic, ...]:
    """The product's topics and the integration topics of the départements ``served``."""
    return PRODUCT_TOPICS + integration_topics(served)


def all_topic_names(served: tuple[str, ...] = SERVED_DEPARTEMENTS) -> list[str]:
    """Every topic to create for the départements ``served``, dead-letter topics included."""
    declared = declared_topics(served)
    names = [t.name for t in declared]
    names += [dead_letter_topic(t.name, c) for t in declared for c in t.consumers]
    names += [dead_letter_topic(t.name, INTEGRATION_PROJECTION) for t in PROJECTED_TOPICS]
    return names
