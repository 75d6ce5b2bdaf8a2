"""The published export of Chorus Pro's directory of public structures ("Annuaire des
structures publiques"), read into what billing needs of it (ADR 0017): per SIRET,
whether the buyer requires a service code, an engagement number, or one of the two, and
the codes of its active services.

Two files, as the AIFE publishes them: the structures (one row per structure) and their
services (one row per service). CSV separated by ``;`` (``,`` is accepted), UTF-8 with
or without BOM; headers are matched without regard to case, accents or apostrophes,
so "Type d'identifiant" and "TYPE D’IDENTIFIANT" are the same column; unknown
columns are ignored. Yes/no cells read ``Oui``/``Non`` (``true``/``false``, ``1``/``0``
too). Only structures identified by a SIRET and active are kept: the others cannot be
the invoicing establishment of a commune or an EPCI.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from services.billing.domain.identities import compact, siret_valid

# Structures: the columns read (others, such as "Emetteur EDI", "Récepteur EDI",
# "Gestion du statut de mise en paiement", "Est MOA", "Est MOA uniquement", are ignored).
IDENTIFIER = "Identifiant"
IDENTIFIER_TYPE = "Type d'identifiant"
LEGAL_NAME = "Raison sociale"
ENGAGEMENT = "Gestion engagement"
SERVICE = "Gestion service"
SERVICE_OR_ENGAGEMENT = "Gestion service ou engagement"
ACTIVE = "Structure active"
# Services.
SERVICE_STRUCTURE = "Identifiant structure"
SERVICE_CODE = "Code service"
SERVICE_NAME = "Nom service"
SERVICE_ACTIVE = "Service actif"

_YES = {"oui", "o", "true", "vrai", "1", "y", "yes"}
_NO = {"non", "n", "false", "faux", "0", "no", ""}


class DirectoryFormatError(ValueError):
    """The file is not the directory's export: the message says where, in French."""


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """One structure of the directory: its SIRET, what it requires, its active services."""

    siret: str
    name: str
    service_code_required: bool
    engagement_required: bool
    service_or_engagement_required: bool = False
    services: tuple[str, ...] = ()


@dataclass(slots=True)
class ReadCounts:
    rows: int = 0
    not_siret: int = 0
    inactive: int = 0
    invalid: int = 0
    services: int = 0
    kept: int = 0


def _key(header: str) -> str:
    decomposed = unicodedata.normalize("NFKD", header.replace("\ufeff", ""))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.replace("’", "'").casefold().split())


def _rows(
    lines: Iterable[str], required: tuple[str, ...], what: str, optional: tuple[str, ...] = ()
) -> Iterator[dict[str, str]]:
    """Rows by canonical column name (the optional columns too, when present); the line
    number under ``"#"``."""
    iterator = iter(lines)
    header_line = next(iterator, "")
    delimiter = ";" if ";" in header_line else ","
    header = next(csv.reader([header_line], delimiter=delimiter), [])
    keys = [_key(h) for h in header]
    wanted = {_key(name): name for name in required}
    missing = [name for key, name in wanted.items() if key not in keys]
    wanted |= {_key(name): name for name in optional}
    if missing:
        raise DirectoryFormatError(
            f"Le fichier des {what} de l'annuaire Chorus Pro n'a pas les colonnes : "
            + ", ".join(f"« {m} »" for m in missing)
        )
    for number, cells in enumerate(csv.reader(iterator, delimiter=delimiter), start=2):
        if not any(c.strip() for c in cells):
            continue
        row = {wanted.get(k, k): c.strip() for k, c in zip(keys, cells, strict=False)}
        row["#"] = str(number)
        yield row


def _flag(row: dict[str, str], column: str) -> bool:
    value = _key(row.get(column, ""))
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise DirectoryFormatError(
        f"Ligne {row['#']}, colonne « {column} » : « {row.get(column)} » n'est ni Oui ni Non."
    )


def read_services(lines: Iterable[str], counts: ReadCounts) -> dict[str, tuple[str, ...]]:
    """The active services' codes, by the SIRET of their structure."""
    found: dict[str, list[str]] = {}
    required = (SERVICE_STRUCTURE, SERVICE_CODE, SERVICE_NAME)
    for row in _rows(lines, required, "services", optional=(SERVICE_ACTIVE,)):
        active = SERVICE_ACTIVE not in row or _flag(row, SERVICE_ACTIVE)
        if active and row[SERVICE_CODE]:
            found.setdefault(compact(row[SERVICE_STRUCTURE]), []).append(row[SERVICE_CODE])
            counts.services += 1
    return {siret: tuple(sorted(set(codes))) for siret, codes in found.items()}


def read_structures(
    lines: Iterable[str],
    services: dict[str, tuple[str, ...]],
    counts: ReadCounts,
) -> Iterator[DirectoryEntry]:
    """The active structures identified by a valid SIRET, with their services."""
    required = (
        IDENTIFIER,
        IDENTIFIER_TYPE,
        LEGAL_NAME,
        ENGAGEMENT,
        SERVICE,
        SERVICE_OR_ENGAGEMENT,
        ACTIVE,
    )
    for row in _rows(lines, required, "structures"):
        counts.rows += 1
        if _key(row[IDENTIFIER_TYPE]) != "siret":
            counts.not_siret += 1
            continue
        if not _flag(row, ACTIVE):
            counts.inactive += 1
            continue
        siret = compact(row[IDENTIFIER])
        if not siret_valid(siret):
            counts.invalid += 1
            continue
        counts.kept += 1
        yield DirectoryEntry(
            siret=siret,
            name=row[LEGAL_NAME],
            service_code_required=_flag(row, SERVICE),
            engagement_required=_flag(row, ENGAGEMENT),
            service_or_engagement_required=_flag(row, SERVICE_OR_ENGAGEMENT),
            services=services.get(siret, ()),
        )
