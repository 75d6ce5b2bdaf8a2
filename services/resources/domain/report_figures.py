"""The figures of an activity report, computed from the projection's facts alone.

The same facts give the same figures whatever the order they arrived in: every table is
sorted, every count is over a set of ids. Periods are calendar months or years in Paris
time; delays are in hours, percentiles by the product's one formula (nearest rank).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from services.resources.domain.report_facts import Fact, FactKind
from services.resources.domain.sheets import CommuneSize, commune_size
from shared.contracts.vocabulary import PHASE_LABELS, THEME_LABELS, Theme
from shared.french import PARIS
from shared.refdata import Territories
from shared.statistics import percentile

Cell = str | int | Decimal | None
SIZE_LABELS = {
    CommuneSize.UNDER_500: "Moins de 500 habitants",
    CommuneSize.UNDER_2000: "500 à 1 999 habitants",
    CommuneSize.UNDER_10000: "2 000 à 9 999 habitants",
    CommuneSize.OVER_10000: "10 000 habitants et plus",
}
EPCI_LABEL = "EPCI"
MONTH_NAMES = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]


@dataclass(frozen=True, slots=True)
class Period:
    departement: str
    year: int
    month: int | None = None

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month or 1, 1, tzinfo=PARIS)

    @property
    def end(self) -> datetime:
        if self.month is None or self.month == 12:
            return datetime(self.year + 1, 1, 1, tzinfo=PARIS)
        return datetime(self.year, self.month + 1, 1, tzinfo=PARIS)

    @property
    def label(self) -> str:
        if self.month is None:
            return f"année {self.year}"
        return f"{MONTH_NAMES[self.month - 1]} {self.year}"

    def previous(self) -> Period:
        if self.month is None:
            return Period(self.departement, self.year - 1)
        if self.month == 1:
            return Period(self.departement, self.year - 1, 12)
        return Period(self.departement, self.year, self.month - 1)

    def year_before(self) -> Period:
        return Period(self.departement, self.year - 1, self.month)

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True, slots=True)
class ReportTable:
    key: str
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    # Index of the column drawn as bars, or None for no chart.
    chart: int | None = 1
    note: str = ""


@dataclass(frozen=True, slots=True)
class ActivityReport:
    period: Period
    tables: list[ReportTable] = field(default_factory=list)

    def table(self, key: str) -> ReportTable:
        return next(t for t in self.tables if t.key == key)


def _rate(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _hours(seconds: float | None) -> Decimal | None:
    if seconds is None:
        return None
    return (Decimal(str(seconds)) / 3600).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _counted(counter: Counter[str], labels: dict[str, str] | None = None) -> list[list[Cell]]:
    ordered = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return [[(labels or {}).get(k, k), n] for k, n in ordered]


class _Facts:
    def __init__(self, facts: Iterable[Fact]) -> None:
        self.by_kind: dict[FactKind, list[Fact]] = defaultdict(list)
        for fact in sorted(facts, key=lambda f: (f.occurred_at, f.event_id)):
            self.by_kind[fact.kind].append(fact)

    def of(self, kind: FactKind, period: Period) -> list[Fact]:
        return [
            f
            for f in self.by_kind[kind]
            if f.departement == period.departement and period.holds(f.occurred_at)
        ]


def compute(facts: Iterable[Fact], period: Period, territories: Territories) -> ActivityReport:
    known = _Facts(facts)
    demandes = known.of(FactKind.DEMANDE, period)
    themes = {t.value: label for t, label in THEME_LABELS.items()}
    report = ActivityReport(period)
    report.tables.extend(
        [
            ReportTable(
                "comparaison",
                "Comparaison avec la période précédente et l'année précédente",
                ["Indicateur", period.label, period.previous().label, period.year_before().label],
                _comparison(known, period),
                chart=None,
            ),
            ReportTable(
                "demandes_par_theme",
                "Demandes par thème",
                ["Thème", "Demandes"],
                _counted(Counter(t for d in demandes for t in d.data["themes"]), themes),
                note="Une demande à plusieurs thèmes compte pour chacun.",
            ),
            ReportTable(
                "demandes_par_phase",
                "Demandes par phase",
                ["Phase", "Demandes"],
                _counted(
                    Counter(d.data["phase"] for d in demandes),
                    {p.value: label for p, label in PHASE_LABELS.items()},
                ),
            ),
            ReportTable(
                "demandes_par_taille",
                "Demandes par taille de collectivité",
                ["Taille", "Demandes"],
                _counted(Counter(_size(d) for d in demandes)),
            ),
            ReportTable(
                "demandes_par_epci",
                "Demandes par EPCI",
                ["EPCI", "Demandes"],
                _counted(Counter(_epci_name(d, territories) for d in demandes)),
            ),
            _delays(known, period, demandes),
            _actors(known, period),
            ReportTable(
                "missions_closes",
                "Missions achevées, par thème",
                ["Thème", "Missions"],
                _counted(
                    Counter(
                        t for m in known.of(FactKind.COMPLETED, period) for t in m.data["themes"]
                    ),
                    themes,
                ),
            ),
            _invoiced(known, period),
            _members(known, period, demandes),
            _uncovered(known, period, territories),
            _trainings(known, period),
        ]
    )
    return report


def _size(demande: Fact) -> str:
    if demande.data["kind"] == "epci":
        return EPCI_LABEL
    return SIZE_LABELS[commune_size(int(demande.data["population"]))]


def _epci_name(demande: Fact, territories: Territories) -> str:
    epci = territories.epci(demande.data["epci"]) if demande.data["epci"] else None
    return epci.nom if epci is not None else "Sans EPCI"


def _headline(known: _Facts, period: Period) -> tuple[int, int, Decimal]:
    euros = sum((f.amount for f in known.of(FactKind.INVOICED, period)), Decimal(0))
    return (
        len({d.subject for d in known.of(FactKind.DEMANDE, period)}),
        len({m.subject for m in known.of(FactKind.COMPLETED, period)}),
        euros,
    )


def _comparison(known: _Facts, period: Period) -> list[list[Cell]]:
    now, before, last_year = (
        _headline(known, p) for p in (period, period.previous(), period.year_before())
    )
    names = ("Demandes reçues", "Missions achevées", "Montant facturé net (€ TTC)")
    return [[name, now[i], before[i], last_year[i]] for i, name in enumerate(names)]


def _delays(known: _Facts, period: Period, demandes: list[Fact]) -> ReportTable:
    """From a demande's submission to its first proposal, or to the verdict that nobody
    can take it."""
    first: dict[str, datetime] = {}
    for kind in (FactKind.PROPOSED, FactKind.UNMATCHED):
        for fact in known.by_kind[kind]:
            request = fact.data.get("request_id", fact.subject)
            if request not in first or fact.occurred_at < first[request]:
                first[request] = fact.occurred_at
    delays = [
        (first[d.subject] - d.occurred_at).total_seconds() for d in demandes if d.subject in first
    ]
    return ReportTable(
        "delais_orientation",
        "Délais d'orientation (heures, de la demande à la première proposition)",
        ["Mesure", "Valeur"],
        [
            ["Demandes orientées", len(delays)],
            ["Médiane (h)", _hours(percentile(delays, 0.5))],
            ["9e décile (h)", _hours(percentile(delays, 0.9))],
        ],
        chart=None,
    )


def _actors(known: _Facts, period: Period) -> ReportTable:
    proposed = known.of(FactKind.PROPOSED, period)
    outcome: dict[str, FactKind] = {}
    for kind in (FactKind.ACCEPTED, FactKind.DECLINED, FactKind.EXPIRED):
        for fact in known.by_kind[kind]:
            outcome[fact.subject] = kind
    per_actor: dict[str, Counter[FactKind]] = defaultdict(Counter)
    names: dict[str, str] = {}
    for proposal in proposed:
        names[proposal.party] = proposal.data["actor_name"]
        per_actor[proposal.party][FactKind.PROPOSED] += 1
        if proposal.subject in outcome:
            per_actor[proposal.party][outcome[proposal.subject]] += 1
    rows: list[list[Cell]] = []
    for actor in sorted(per_actor, key=lambda a: (names[a], a)):
        c = per_actor[actor]
        total = c[FactKind.PROPOSED]
        rows.append(
            [
                names[actor],
                total,
                c[FactKind.ACCEPTED],
                c[FactKind.DECLINED],
                c[FactKind.EXPIRED],
                _rate(c[FactKind.ACCEPTED], total),
                _rate(c[FactKind.DECLINED], total),
                _rate(c[FactKind.EXPIRED], total),
            ]
        )
    return ReportTable(
        "acteurs",
        "Propositions par acteur : acceptations, refus, expirations",
        [
            "Acteur",
            "Propositions",
            "Acceptées",
            "Refusées",
            "Expirées",
            "Taux d'acceptation",
            "Taux de refus",
            "Taux d'expiration",
        ],
        rows,
    )


def _invoiced(known: _Facts, period: Period) -> ReportTable:
    counts: Counter[str] = Counter()
    euros: dict[str, Decimal] = defaultdict(Decimal)
    for fact in known.of(FactKind.INVOICED, period):
        counts[fact.data["kind"]] += 1
        euros[fact.data["kind"]] += fact.amount
    labels = {"cotisation": "Cotisations", "mission": "Missions", "avoir": "Avoirs"}
    rows: list[list[Cell]] = [
        [labels.get(kind, kind), counts[kind], euros[kind]] for kind in sorted(counts)
    ]
    rows.append(["Total net", sum(counts.values()), sum(euros.values(), Decimal(0))])
    return ReportTable(
        "facturation",
        "Montants facturés par nature (€ TTC)",
        ["Nature", "Pièces", "Euros"],
        rows,
        2,
    )


def _members(known: _Facts, period: Period, demandes: list[Fact]) -> ReportTable:
    ended = {f.subject: f.occurred_at for f in known.by_kind[FactKind.ADHESION_ENDED]}
    adhesions: dict[tuple[str, int], list[Fact]] = defaultdict(list)
    for fact in known.by_kind[FactKind.ADHESION]:
        adhesions[(fact.party, int(fact.data["year"]))].append(fact)

    def member(demande: Fact) -> bool:
        year = demande.occurred_at.astimezone(PARIS).year
        return any(
            a.occurred_at <= demande.occurred_at
            and (a.subject not in ended or ended[a.subject] > demande.occurred_at)
            for a in adhesions[(demande.party, year)]
        )

    counts = Counter("Adhérentes" if member(d) else "Non adhérentes" for d in demandes)
    return ReportTable(
        "adherents",
        "Demandes des collectivités adhérentes et non adhérentes",
        ["Collectivités", "Demandes"],
        [["Adhérentes", counts["Adhérentes"]], ["Non adhérentes", counts["Non adhérentes"]]],
    )


def _uncovered(known: _Facts, period: Period, territories: Territories) -> ReportTable:
    counts: Counter[tuple[str, str]] = Counter()
    for fact in known.of(FactKind.UNMATCHED, period):
        place = territories.requester(fact.party)
        name = place.nom if place is not None else fact.party
        for theme in fact.data["themes"]:
            counts[(THEME_LABELS[Theme(theme)], f"{name} ({fact.party})")] += 1
    rows: list[list[Cell]] = [
        [theme, place, n]
        for (theme, place), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return ReportTable(
        "besoins_non_couverts",
        "Besoins que personne ne couvre (thème × collectivité)",
        ["Thème", "Collectivité", "Demandes sans acteur"],
        rows,
        chart=2,
    )


def _trainings(known: _Facts, period: Period) -> ReportTable:
    sessions = known.of(FactKind.SESSION, period)
    held = {s.subject for s in sessions}
    taken: Counter[str] = Counter()
    for fact in known.by_kind[FactKind.SEATS]:
        if fact.subject in held:
            taken[fact.subject] += int(fact.amount)
    seats = sum(int(s.data["seats"]) for s in sessions)
    participants = sum(taken.values())
    # The last attendance recorded for each registration counts.
    present: dict[str, int] = {}
    for fact in known.by_kind[FactKind.PRESENT]:
        if fact.data["session_id"] in held:
            present[fact.subject] = int(fact.amount)
    return ReportTable(
        "formations",
        "Formations tenues et participation",
        ["Mesure", "Valeur"],
        [
            ["Sessions", len(held)],
            ["Places offertes", seats],
            ["Participants inscrits", participants],
            ["Taux de remplissage", _rate(participants, seats)],
            ["Participants présents", sum(present.values())],
        ],
        chart=None,
    )
