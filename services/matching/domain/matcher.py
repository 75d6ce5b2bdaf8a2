"""Who should answer a demande: hard filters, a deterministic score, the smallest chain.

``propose`` is a pure function of its arguments. The order of ``actors`` never
matters: every choice ends on a total order (score, then actor id), so the
same offer always yields the same proposal, and a re-run after a decline
differs only by what the decline changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from services.matching.domain.model import (
    Actor,
    ActorState,
    Candidate,
    ChainLink,
    Criteria,
    Exclusion,
    Expertise,
    Locality,
    Need,
    Proposal,
    Requester,
    Weights,
)
from shared.contracts.vocabulary import PHASE_LABELS, THEME_LABELS, Phase, RequesterKind, Theme
from shared.french import number

_DECIMALS = 4
_UNITS_PER_POINT = 10_000  # 10 ** _DECIMALS

_THEME_RANK = {theme: rank for rank, theme in enumerate(Theme)}
_PHASE_RANK = {phase: rank for rank, phase in enumerate(Phase)}

_LOCALITY_VALUE: dict[Locality, float] = {"commune": 1.0, "epci": 0.75, "departement": 0.5}
_LOCALITY_TEXT: dict[Locality, str] = {
    "commune": "intervient sur la commune elle-même",
    "epci": "intervient sur le territoire de l'EPCI",
    "departement": "intervient sur tout le département",
}
_EXPERTISE_TEXT = {
    Expertise.NOTIONS: "de base",
    Expertise.CONFIRMED: "confirmée",
    Expertise.EXPERT: "experte",
}
_KIND_TEXT = {RequesterKind.COMMUNE: "les communes", RequesterKind.EPCI: "les EPCI"}


def need_sort_key(need: Need) -> tuple[int, int]:
    """Themes in the vocabulary's order, then phases in the order a project goes through."""
    return _THEME_RANK[need.theme], _PHASE_RANK[need.phase]


def covers(actor: Actor, need: Need) -> bool:
    return need.theme in actor.themes and need.phase in actor.phases


def propose(
    needs: Sequence[Need],
    requester: Requester,
    actors: Sequence[Actor],
    states: Mapping[str, ActorState],
    weights: Weights = Weights(),  # noqa: B008 - frozen, so sharing the default is safe
    excluded: frozenset[str] = frozenset(),
) -> Proposal:
    """The chain of actors to propose for ``needs``, what nobody can cover, and why.

    ``states`` gives each actor's current load and history (absent: idle, no
    history); ``excluded`` holds the actors that already declined or let a
    proposal for this demande expire.
    """
    wanted = _distinct_sorted(needs)
    candidates: list[Candidate] = []
    exclusions: list[Exclusion] = []
    for actor in _sorted_unique(actors):
        state = states.get(actor.id, ActorState())
        reason = _exclusion_reason(actor, requester, state, excluded, wanted)
        if reason is not None:
            exclusions.append(Exclusion(actor.id, reason))
            continue
        candidates.append(_candidate(actor, requester, state, wanted, weights))

    candidates.sort(key=_rank)
    coverable = {need for candidate in candidates for need in candidate.needs}
    uncovered = tuple(need for need in wanted if need not in coverable)
    chain = _smallest_chain(candidates, [need for need in wanted if need in coverable])
    links = _links(chain, wanted)
    return Proposal(
        links=links,
        uncovered=uncovered,
        exclusions=tuple(exclusions),
        summary=_summary(links, uncovered, wanted),
    )


def _distinct_sorted(needs: Iterable[Need]) -> tuple[Need, ...]:
    return tuple(sorted(set(needs), key=need_sort_key))


def _sorted_unique(actors: Sequence[Actor]) -> list[Actor]:
    by_id: dict[str, Actor] = {}
    for actor in actors:
        # Two actors under one id would make the result depend on their order.
        if actor.id in by_id:
            raise ValueError(f"duplicate actor id {actor.id!r}")
        by_id[actor.id] = actor
    return [by_id[actor_id] for actor_id in sorted(by_id)]


def _rank(candidate: Candidate) -> tuple[float, str]:
    return -candidate.criteria.score, candidate.actor.id


# --- hard filters -------------------------------------------------------------------------------


def _exclusion_reason(
    actor: Actor,
    requester: Requester,
    state: ActorState,
    excluded: frozenset[str],
    needs: Sequence[Need],
) -> str | None:
    """The first hard filter ``actor`` fails, in French, or None if it passes them all."""
    return next(_failed_filters(actor, requester, state, excluded, needs), None)


def _failed_filters(
    actor: Actor,
    requester: Requester,
    state: ActorState,
    excluded: frozenset[str],
    needs: Sequence[Need],
) -> Iterator[str]:
    # A generator so that the caller stops at the first failure, which is the
    # one worth telling: the filters go from the most to the least structural.
    if not actor.active:
        yield "Acteur désactivé dans le catalogue."
    if actor.departement != requester.departement:
        yield f"Appartient à l'offre d'un autre département ({actor.departement})."
    if actor.territory.contains(requester) is None:
        yield "N'intervient pas sur le territoire de la collectivité."
    ineligible = _ineligibility(actor, requester)
    if ineligible is not None:
        yield ineligible
    if state.load >= actor.capacity:
        yield (
            f"Capacité atteinte : {state.load} mission(s) ou proposition(s) en cours "
            f"pour une capacité de {actor.capacity}."
        )
    if actor.id in excluded:
        yield "A déjà décliné ou laissé expirer une proposition pour cette demande."
    if not any(covers(actor, need) for need in needs):
        yield _no_need_reason(actor, needs)


def _ineligibility(actor: Actor, requester: Requester) -> str | None:
    rules = actor.eligibility
    if rules.min_population is not None and requester.population < rules.min_population:
        return (
            f"Réservé aux collectivités d'au moins {number(rules.min_population)} habitants "
            f"(celle-ci en compte {number(requester.population)})."
        )
    if rules.max_population is not None and requester.population > rules.max_population:
        return (
            f"Réservé aux collectivités de {number(rules.max_population)} habitants au plus "
            f"(celle-ci en compte {number(requester.population)})."
        )
    if rules.members_only and not requester.is_member:
        return "Réservé aux collectivités adhérentes de l'offre départementale."
    if requester.kind not in rules.requester_kinds:
        return f"N'accompagne pas {_KIND_TEXT.get(requester.kind, requester.kind)}."
    return None


def _no_need_reason(actor: Actor, needs: Sequence[Need]) -> str:
    shared_themes = [need.theme for need in needs if need.theme in actor.themes]
    if not shared_themes:
        return "Ne traite aucun des thèmes de la demande."
    phases = _distinct_phases(needs)
    return (
        f"Traite {_join(_theme_text(theme) for theme in dict.fromkeys(shared_themes))} "
        f"mais pas en phase {_join(_phase_text(phase) for phase in phases)}."
    )


# --- score --------------------------------------------------------------------------------------


def _candidate(
    actor: Actor,
    requester: Requester,
    state: ActorState,
    needs: Sequence[Need],
    weights: Weights,
) -> Candidate:
    covered = tuple(need for need in needs if covers(actor, need))
    themes = list(dict.fromkeys(need.theme for need in covered))
    levels = [actor.themes[theme] for theme in themes]
    locality = actor.territory.contains(requester)
    # The hard filters let no candidate through without a territory match.
    assert locality is not None
    continued = requester.code in state.collectivites

    coverage = _round(len(covered) / len(needs))
    expertise = _round(sum(level / Expertise.EXPERT for level in levels) / len(levels))
    load = _round(min(1.0, max(0.0, 1 - state.load / actor.capacity)))
    continuity = 1.0 if continued else 0.0
    closeness = _LOCALITY_VALUE[locality]
    # From the rounded criteria, so anyone can recompute the score from what is shown.
    score = _round(
        weights.coverage * coverage
        + weights.expertise * expertise
        + weights.load * load
        + weights.continuity * continuity
        + weights.locality * closeness
    )

    several_phases = len(_distinct_phases(needs)) > 1
    lowest, highest = min(levels), max(levels)
    expertise_text = _EXPERTISE_TEXT[Expertise(lowest)]
    if highest != lowest:
        expertise_text += f" à {_EXPERTISE_TEXT[Expertise(highest)]}"
    parts = [
        f"couvre {_count(len(covered), 'besoin', 'besoins')} sur {len(needs)} "
        f"({_join(_need_text(need, with_phase=several_phases) for need in covered)})",
        f"expertise {expertise_text}",
        f"charge {state.load}/{actor.capacity}",
        "a déjà accompagné cette collectivité"
        if continued
        else "n'a pas encore accompagné cette collectivité",
        _LOCALITY_TEXT[locality],
    ]
    return Candidate(
        actor=actor,
        criteria=Criteria(
            coverage=coverage,
            expertise=expertise,
            load=load,
            continuity=continuity,
            locality=closeness,
            score=score,
        ),
        needs=covered,
        reasons=_sentence(" ; ".join(parts)),
    )


def _round(value: float) -> float:
    return round(value, _DECIMALS)


# --- chain --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Partial:
    """A set of candidates reaching some needs, with what orders it against rivals."""

    members: tuple[Candidate, ...]
    total: int  # sum of scores in 1/_UNITS_PER_POINT: exact, unlike a float sum
    ids: tuple[str, ...]  # sorted

    def beats(self, other: _Partial) -> bool:
        return (-self.total, self.ids) < (-other.total, other.ids)

    def plus(self, candidate: Candidate) -> _Partial:
        return _Partial(
            members=(*self.members, candidate),
            total=self.total + _units(candidate),
            ids=tuple(sorted((*self.ids, candidate.actor.id))),
        )


def _units(candidate: Candidate) -> int:
    return round(candidate.criteria.score * _UNITS_PER_POINT)


def _smallest_chain(candidates: Sequence[Candidate], needs: Sequence[Need]) -> list[Candidate]:
    """The fewest candidates covering all of ``needs``; ties: highest total score, then ids.

    Exact, by levels over bitmasks of needs: level k keeps, for each set of
    needs, the best k candidates covering exactly that set. This is sound
    because in a smallest chain every member brings a need no other member
    covers, so dropping a member leaves the best chain of one fewer for the
    remaining needs. ``candidates`` must be in ``_rank`` order.
    """
    if not needs:
        return []
    bit = {need: 1 << index for index, need in enumerate(needs)}
    full = (1 << len(needs)) - 1
    # Of candidates covering the same needs, only the best can be in the best
    # chain: swapping it in keeps the coverage and does not worsen the tie-break.
    options: dict[int, Candidate] = {}
    for candidate in candidates:
        mask = sum(bit[need] for need in candidate.needs if need in bit)
        options.setdefault(mask, candidate)

    level = {0: _Partial(members=(), total=0, ids=())}
    while full not in level:
        following: dict[int, _Partial] = {}
        for reached, partial in level.items():
            for mask, candidate in options.items():
                if mask | reached == reached:
                    continue
                grown = partial.plus(candidate)
                best = following.get(mask | reached)
                if best is None or grown.beats(best):
                    following[mask | reached] = grown
        level = following
    return list(level[full].members)


def _links(chain: Sequence[Candidate], needs: Sequence[Need]) -> tuple[ChainLink, ...]:
    """Give each need to one chain member, the most expert on it; name the lead."""
    assigned: dict[str, list[Need]] = {candidate.actor.id: [] for candidate in chain}
    for need in needs:
        holders = [candidate for candidate in chain if need in candidate.needs]
        if not holders:
            continue
        best = min(
            holders,
            key=lambda c: (-c.actor.themes[need.theme], -c.criteria.score, c.actor.id),
        )
        assigned[best.actor.id].append(need)

    kept = sorted((c for c in chain if assigned[c.actor.id]), key=_rank)
    if not kept:
        return ()
    lead = min(kept, key=lambda c: (-len(assigned[c.actor.id]), -c.criteria.score, c.actor.id))
    ordered = [lead, *(c for c in kept if c is not lead)]
    return tuple(
        ChainLink(candidate=c, needs=tuple(assigned[c.actor.id]), lead=c is lead) for c in ordered
    )


# --- French texts -------------------------------------------------------------------------------


def _summary(links: Sequence[ChainLink], uncovered: Sequence[Need], needs: Sequence[Need]) -> str:
    if not needs:
        return "Aucun besoin exprimé : aucun acteur à proposer."
    several_phases = len(_distinct_phases(needs)) > 1
    missing = _join(_need_text(need, with_phase=True) for need in uncovered)
    missing_label = _count(len(uncovered), "besoin non couvert", "besoins non couverts")
    if not links:
        return f"Aucun acteur disponible ; {missing_label} : {missing}."

    described = []
    for link in links:
        role = " (pilote)" if link.lead else ""
        served = _join(_need_text(need, with_phase=several_phases) for need in link.needs)
        described.append(f"{link.candidate.actor.name}{role} pour {served}")
    head = "Un acteur" if len(links) == 1 else f"Chaîne de {len(links)} acteurs"
    text = f"{head} : {' ; '.join(described)}"
    if uncovered:
        text += f" ; {missing_label} : {missing}"
    return f"{text}."


def _distinct_phases(needs: Iterable[Need]) -> list[Phase]:
    return sorted({need.phase for need in needs}, key=_PHASE_RANK.__getitem__)


def _need_text(need: Need, *, with_phase: bool) -> str:
    if with_phase:
        return f"{_theme_text(need.theme)} ({_phase_text(need.phase)})"
    return _theme_text(need.theme)


def _theme_text(theme: Theme) -> str:
    return _lower_first(THEME_LABELS[theme])


def _phase_text(phase: Phase) -> str:
    return _lower_first(PHASE_LABELS[phase])


def _lower_first(label: str) -> str:
    # Not str.lower(): labels keep their acronyms ("PLU/PLUi").
    return label[:1].lower() + label[1:]


def _sentence(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}."


def _join(parts: Iterable[str]) -> str:
    return ", ".join(parts)


def _count(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"
