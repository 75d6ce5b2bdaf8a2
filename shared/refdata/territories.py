"""French territories (départements, communes, EPCI) from the vendored INSEE data.

All codes are strings: INSEE codes keep their leading zeros and Corsica uses
``2A``/``2B``, so they must never go through ``int``.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Literal, TypeVar

RequesterKind = Literal["commune", "epci"]

_V = TypeVar("_V")

# [0-9] rather than \d: \d also matches non-ASCII digits such as "٤".
_INSEE_CODE = re.compile(r"(?:[0-9]{2}|2[AB])[0-9]{3}")
_SIREN = re.compile(r"[0-9]{9}")

_DEPARTEMENTS_FILE = "departements.csv.gz"
_COMMUNES_FILE = "communes.csv.gz"
_EPCI_FILE = "epci.csv.gz"
_DEPARTEMENTS_HEADER = ("code", "nom", "region_code", "region_nom")
_COMMUNES_HEADER = ("code_insee", "nom", "departement_code", "epci_siren", "population_municipale")
_EPCI_HEADER = ("siren", "nom", "type")


@dataclass(frozen=True, slots=True)
class Departement:
    code: str
    nom: str
    region_code: str
    region_nom: str


@dataclass(frozen=True, slots=True)
class Commune:
    code_insee: str
    nom: str
    departement_code: str
    epci_siren: str | None
    # Population municipale. 0 also stands for "not published" (Mayotte, communes
    # created in the data's year), which keeps sums plain ints but cannot be told
    # apart from a real 0 (the Meuse villages destroyed in 1916).
    population: int


@dataclass(frozen=True, slots=True)
class Epci:
    siren: str
    nom: str
    type: str
    population: int
    departement_codes: frozenset[str]
    commune_codes: tuple[str, ...]


def requester_kind(code: str) -> RequesterKind | None:
    """Which kind of requester ``code`` would designate, judging by its format only.

    A commune is designated by its 5-character INSEE code, an EPCI by its
    9-digit SIREN. Whether the code exists is not checked.
    """
    if _INSEE_CODE.fullmatch(code):
        return "commune"
    if _SIREN.fullmatch(code):
        return "epci"
    return None


class Territories:
    """Read-only index of départements, communes and EPCI.

    Build it once (see ``get_territories``): look-ups are dictionary reads and
    the per-département tuples are precomputed.
    """

    __slots__ = (
        "_communes",
        "_communes_by_departement",
        "_departements",
        "_epcis",
        "_epcis_by_departement",
    )

    def __init__(
        self,
        departements: Iterable[Departement],
        communes: Iterable[Commune],
        epcis: Iterable[tuple[str, str, str]],
    ) -> None:
        """Index the data; ``epcis`` are ``(siren, nom, type)`` rows.

        The EPCI population and member sets are derived from ``communes``
        rather than taken as input, so they cannot disagree with them.
        """
        self._departements: dict[str, Departement] = {}
        for departement in departements:
            _add_unique(self._departements, departement.code, departement, "département")

        epci_rows: dict[str, tuple[str, str]] = {}
        for siren, nom, epci_type in epcis:
            _add_unique(epci_rows, siren, (nom, epci_type), "EPCI")

        self._communes: dict[str, Commune] = {}
        communes_by_departement: dict[str, list[Commune]] = {
            code: [] for code in self._departements
        }
        members: dict[str, list[Commune]] = {siren: [] for siren in epci_rows}
        for commune in communes:
            _add_unique(self._communes, commune.code_insee, commune, "commune")
            # A dangling reference would silently drop the commune from every
            # per-département or per-EPCI view, so refuse the data instead.
            if commune.departement_code not in communes_by_departement:
                raise ValueError(
                    f"commune {commune.code_insee}: unknown département "
                    f"{commune.departement_code!r}"
                )
            communes_by_departement[commune.departement_code].append(commune)
            if commune.epci_siren is not None:
                if commune.epci_siren not in members:
                    raise ValueError(
                        f"commune {commune.code_insee}: unknown EPCI {commune.epci_siren!r}"
                    )
                members[commune.epci_siren].append(commune)

        self._communes_by_departement: dict[str, tuple[Commune, ...]] = {
            code: tuple(listed) for code, listed in communes_by_departement.items()
        }

        self._epcis: dict[str, Epci] = {}
        epcis_by_departement: dict[str, list[Epci]] = {code: [] for code in self._departements}
        for siren, (nom, epci_type) in epci_rows.items():
            epci = Epci(
                siren=siren,
                nom=nom,
                type=epci_type,
                population=sum(commune.population for commune in members[siren]),
                departement_codes=frozenset(c.departement_code for c in members[siren]),
                commune_codes=tuple(commune.code_insee for commune in members[siren]),
            )
            self._epcis[siren] = epci
            for code in epci.departement_codes:
                epcis_by_departement[code].append(epci)
        self._epcis_by_departement: dict[str, tuple[Epci, ...]] = {
            code: tuple(listed) for code, listed in epcis_by_departement.items()
        }

    @classmethod
    def from_directory(cls, directory: Traversable) -> Territories:
        """Load the three gzip-compressed CSV files found in ``directory``."""
        departements = (
            Departement(code=code, nom=nom, region_code=region_code, region_nom=region_nom)
            for code, nom, region_code, region_nom in _read_rows(
                directory, _DEPARTEMENTS_FILE, _DEPARTEMENTS_HEADER
            )
        )
        communes = (
            Commune(
                code_insee=code_insee,
                nom=nom,
                departement_code=departement_code,
                epci_siren=epci_siren or None,
                population=int(population) if population else 0,
            )
            for code_insee, nom, departement_code, epci_siren, population in _read_rows(
                directory, _COMMUNES_FILE, _COMMUNES_HEADER
            )
        )
        epcis = (
            (siren, nom, epci_type)
            for siren, nom, epci_type in _read_rows(directory, _EPCI_FILE, _EPCI_HEADER)
        )
        return cls(departements, communes, epcis)

    def departement(self, code: str) -> Departement | None:
        return self._departements.get(code)

    def commune(self, code_insee: str) -> Commune | None:
        return self._communes.get(code_insee)

    def epci(self, siren: str) -> Epci | None:
        return self._epcis.get(siren)

    def departements(self) -> tuple[Departement, ...]:
        """All départements, by code as strings sort (..., 29, 2A, 2B, 30, ..., 976)."""
        return tuple(self._departements.values())

    def communes(self) -> tuple[Commune, ...]:
        return tuple(self._communes.values())

    def epcis(self) -> tuple[Epci, ...]:
        return tuple(self._epcis.values())

    def communes_of(self, departement_code: str) -> tuple[Commune, ...]:
        return self._communes_by_departement.get(departement_code, ())

    def epcis_of(self, departement_code: str) -> tuple[Epci, ...]:
        """EPCI with at least one commune in the département, by SIREN."""
        return self._epcis_by_departement.get(departement_code, ())

    @staticmethod
    def requester_kind(code: str) -> RequesterKind | None:
        return requester_kind(code)

    def requester(self, code: str) -> Commune | Epci | None:
        """The commune (5-character INSEE code) or EPCI (9-digit SIREN) designated by ``code``."""
        match requester_kind(code):
            case "commune":
                return self.commune(code)
            case "epci":
                return self.epci(code)
            case None:
                return None

    def belongs_to(self, code: str, departement_code: str) -> bool:
        """Whether the commune or EPCI ``code`` lies (at least partly) in the département.

        An EPCI may span several départements and belongs to each of them.
        Unknown codes belong nowhere.
        """
        match self.requester(code):
            case Commune() as commune:
                return commune.departement_code == departement_code
            case Epci() as epci:
                return departement_code in epci.departement_codes
            case None:
                return False

    def home_departement(self, code: str) -> str | None:
        """The one département a requester belongs to when one must be chosen.

        A commune's own; for an EPCI over several départements, the one holding most of
        its population (ties: the smallest code), which is where its seat usually is.
        """
        match self.requester(code):
            case Commune() as commune:
                return commune.departement_code
            case Epci() as epci:
                weight: dict[str, int] = {}
                for member in epci.commune_codes:
                    found = self.commune(member)
                    if found is not None:
                        weight[found.departement_code] = (
                            weight.get(found.departement_code, 0) + found.population
                        )
                if not weight:
                    return None
                return min(weight, key=lambda d: (-weight[d], d))
            case None:
                return None


@functools.cache
def get_territories() -> Territories:
    """The territories of the vendored data, loaded on first call and shared afterwards."""
    # importlib.resources rather than a path next to __file__: it also finds the
    # files when the package is installed as a zip or wheel.
    package = __name__.rpartition(".")[0]
    return Territories.from_directory(resources.files(package).joinpath("data"))


def _read_rows(directory: Traversable, name: str, header: tuple[str, ...]) -> list[list[str]]:
    with (
        directory.joinpath(name).open("rb") as compressed,
        gzip.open(compressed, "rb") as raw,
        io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
    ):
        reader = csv.reader(text)
        found = tuple(next(reader, ()))
        # Fail loudly if a data refresh changes the columns instead of
        # shifting values into the wrong fields.
        if found != header:
            raise ValueError(f"{name}: expected columns {header}, found {found}")
        rows = list(reader)
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ValueError(f"{name}, line {line}: expected {len(header)} fields, got {row}")
    return rows


def _add_unique(index: dict[str, _V], code: str, value: _V, what: str) -> None:
    if code in index:
        raise ValueError(f"duplicate {what} code {code!r}")
    index[code] = value
