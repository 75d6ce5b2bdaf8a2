"""Actors of the offer, the needs of a demande, proposals and missions.

Pure data and rules: no I/O. The matcher (``matcher.py``) decides; the service
layer stores and publishes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Literal

from shared.contracts.vocabulary import Phase, RequesterKind, Theme

Locality = Literal["commune", "epci", "departement"]


class ActorKind(StrEnum):
    DEPARTEMENT = "departement"  # the conseil départemental's own service or its ATD
    ATD = "atd"
    CAUE = "caue"
    SPL = "spl"
    DDT = "ddt"
    SYNDICAT_ENERGIE = "syndicat_energie"
    CNFPT = "cnfpt"
    ASSOCIATION_MAIRES = "association_maires"
    COMITE_EXPANSION = "comite_expansion"
    AGENCE_URBANISME = "agence_urbanisme"
    EPF = "epf"
    AUTRE = "autre"


class Expertise(IntEnum):
    """How well an actor masters a theme."""

    NOTIONS = 1
    CONFIRMED = 2
    EXPERT = 3


@dataclass(frozen=True, slots=True)
class Territory:
    """Where an actor intervenes: whole départements, EPCIs, or single communes."""

    departements: frozenset[str] = frozenset()
    epcis: frozenset[str] = frozenset()
    communes: frozenset[str] = frozenset()

    def contains(self, requester: Requester) -> Locality | None:
        """The narrowest level at which the territory reaches ``requester``, if it does.

        The narrowest wins because it says the most about the actor's local
        knowledge, which the matcher's locality criterion rewards.
        """
        # Only a commune lies inside a commune: an actor listed for one of an
        # EPCI's communes does not serve the whole EPCI.
        if requester.kind == RequesterKind.COMMUNE and (
            requester.code in self.communes or not self.communes.isdisjoint(requester.commune_codes)
        ):
            return "commune"
        if not self.epcis.isdisjoint(requester.epci_codes):
            return "epci"
        if requester.departement in self.departements:
            return "departement"
        return None


@dataclass(frozen=True, slots=True)
class Eligibility:
    min_population: int | None = None
    max_population: int | None = None
    members_only: bool = False
    requester_kinds: frozenset[RequesterKind] = frozenset(RequesterKind)


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    departement: str  # the département whose offer the actor belongs to
    name: str
    kind: ActorKind
    themes: dict[Theme, Expertise]
    phases: frozenset[Phase]
    territory: Territory
    capacity: int  # concurrent missions, open proposals included
    eligibility: Eligibility = field(default_factory=Eligibility)
    active: bool = True


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks, as matching needs to know it (from the demande and the reference data)."""

    kind: RequesterKind
    code: str
    departement: str
    population: int
    # The communes and EPCI that contain the requester: its own code, its EPCI, ...
    commune_codes: frozenset[str]
    epci_codes: frozenset[str]
    departement_codes: frozenset[str]
    is_member: bool = False


@dataclass(frozen=True, slots=True)
class Need:
    theme: Theme
    phase: Phase

    def __str__(self) -> str:
        return f"{self.theme.value}/{self.phase.value}"


@dataclass(frozen=True, slots=True)
class Weights:
    """Weights of the score's criteria (settings ``MG_MATCHING_WEIGHT_*``)."""

    coverage: float = 0.4
    expertise: float = 0.25
    load: float = 0.15
    continuity: float = 0.1
    locality: float = 0.1


@dataclass(frozen=True, slots=True)
class ActorState:
    """What changes while the offer runs: the load and the history of an actor."""

    load: int = 0  # accepted missions in progress + open proposals
    collectivites: frozenset[str] = frozenset()  # requesters it has worked with


@dataclass(frozen=True, slots=True)
class Criteria:
    """Each criterion's value in [0, 1], and the weighted score."""

    coverage: float
    expertise: float
    load: float
    continuity: float
    locality: float
    score: float


@dataclass(frozen=True, slots=True)
class Candidate:
    actor: Actor
    criteria: Criteria
    needs: tuple[Need, ...]  # the needs of the demande this actor can serve
    reasons: str  # French, for a département agent


@dataclass(frozen=True, slots=True)
class Exclusion:
    actor_id: str
    reason: str  # French


@dataclass(frozen=True, slots=True)
class ChainLink:
    candidate: Candidate
    needs: tuple[Need, ...]  # the needs assigned to this actor in the chain, disjoint
    lead: bool


@dataclass(frozen=True, slots=True)
class Proposal:
    """The matcher's answer for a demande: a chain of actors, and what nobody covers."""

    links: tuple[ChainLink, ...]
    uncovered: tuple[Need, ...]
    exclusions: tuple[Exclusion, ...]
    summary: str  # French
