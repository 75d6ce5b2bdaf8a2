"""Small, readable offers of Maine-et-Loire, with Angers asking: the actors, requesters and
readers of a proposal that the matcher's tests share."""

from __future__ import annotations

from services.matching.domain.model import (
    Actor,
    ActorKind,
    Eligibility,
    Expertise,
    Need,
    Proposal,
    Requester,
    Territory,
)
from shared.contracts.vocabulary import Phase, RequesterKind, Theme

ANGERS = "49007"
ANGERS_LOIRE_METROPOLE = "244900015"
SAUMUR_VAL_DE_LOIRE = "200071876"
AVRILLE = "49015"  # another commune of Angers Loire Métropole

ANGERS_COMMUNE = Requester(
    kind=RequesterKind.COMMUNE,
    code=ANGERS,
    departement="49",
    population=152_960,
    commune_codes=frozenset({ANGERS}),
    epci_codes=frozenset({ANGERS_LOIRE_METROPOLE}),
    departement_codes=frozenset({"49"}),
)
ALM_EPCI = Requester(
    kind=RequesterKind.EPCI,
    code=ANGERS_LOIRE_METROPOLE,
    departement="49",
    population=296_390,
    commune_codes=frozenset(),
    epci_codes=frozenset({ANGERS_LOIRE_METROPOLE}),
    departement_codes=frozenset({"49"}),
)
MAINE_ET_LOIRE = Territory(departements=frozenset({"49"}))


def actor(
    actor_id: str,
    themes: dict[Theme, Expertise],
    phases: frozenset[Phase] = frozenset(Phase),
    *,
    name: str | None = None,
    kind: ActorKind = ActorKind.AUTRE,
    territory: Territory = MAINE_ET_LOIRE,
    capacity: int = 10,
    eligibility: Eligibility = Eligibility(),  # noqa: B008
    departement: str = "49",
    active: bool = True,
) -> Actor:
    return Actor(
        id=actor_id,
        departement=departement,
        name=name or actor_id,
        kind=kind,
        themes=themes,
        phases=phases,
        territory=territory,
        capacity=capacity,
        eligibility=eligibility,
        active=active,
    )


CAUE = actor(
    "caue49",
    {
        Theme.ARCHITECTURE_PAYSAGE: Expertise.EXPERT,
        Theme.URBANISME: Expertise.CONFIRMED,
        Theme.BATIMENTS_PUBLICS: Expertise.CONFIRMED,
    },
    frozenset({Phase.IDEE, Phase.FAISABILITE, Phase.CONCEPTION}),
    name="CAUE de Maine-et-Loire",
    kind=ActorKind.CAUE,
)
SIEML = actor(
    "sieml",
    {Theme.ENERGIE: Expertise.EXPERT, Theme.VOIRIE_RESEAUX: Expertise.NOTIONS},
    name="SIEML",
    kind=ActorKind.SYNDICAT_ENERGIE,
    capacity=4,
)
AURA = actor(
    "aura-angers",
    {Theme.URBANISME: Expertise.EXPERT, Theme.MOBILITE: Expertise.EXPERT},
    frozenset({Phase.IDEE, Phase.FAISABILITE, Phase.CONCEPTION}),
    name="Agence d'urbanisme de la région angevine",
    kind=ActorKind.AGENCE_URBANISME,
    territory=Territory(epcis=frozenset({ANGERS_LOIRE_METROPOLE})),
)
NUMERIQUE = actor(
    "anjou-numerique",
    {Theme.NUMERIQUE: Expertise.EXPERT},
    frozenset({Phase.IDEE, Phase.FAISABILITE, Phase.CONCEPTION}),
    name="Anjou Numérique",
)
OFFER = (CAUE, SIEML, AURA, NUMERIQUE)


def needs(*themes: Theme, phase: Phase = Phase.CONCEPTION) -> list[Need]:
    return [Need(theme, phase) for theme in themes]


def chain_ids(proposal: Proposal) -> list[str]:
    return [link.candidate.actor.id for link in proposal.links]


def reason_for(proposal: Proposal, actor_id: str) -> str:
    (reason,) = [e.reason for e in proposal.exclusions if e.actor_id == actor_id]
    return reason
