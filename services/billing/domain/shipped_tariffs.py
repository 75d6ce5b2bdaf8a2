"""The tariffs shipped with the service, and the national reference for the others."""

from __future__ import annotations

import dataclasses
import functools
import re
from importlib import resources

from services.billing.domain.tariff import (
    DEPARTEMENT_CODE,
    MAX_YEAR,
    MIN_YEAR,
    REFERENCE_DEPARTEMENT,
    Tariff,
    TariffError,
)
from services.billing.domain.tariff_parsing import parse_tariff_json

_SHIPPED_PACKAGE = "services.billing.tariffs"
_REFERENCE_FILE = "reference.json"
_FILE_NAME = re.compile(r"(?P<departement>[0-9AB]{2,3})-(?P<year>[0-9]{4})\.json")


def load_shipped(departement: str, year: int) -> Tariff | None:
    """The tariff shipped for ``departement`` and ``year``, or None if there is none."""
    return _shipped_index().get((departement, year))


def shipped() -> tuple[Tariff, ...]:
    """Every département tariff shipped with the service (not the national reference)."""
    return tuple(tariff for _, tariff in sorted(_shipped_index().items()))


def reference_tariff(departement: str, year: int) -> Tariff:
    """The national reference tariff, re-labelled for a département without its own."""
    if not DEPARTEMENT_CODE.fullmatch(departement):
        raise TariffError(f"Code de département inconnu {departement!r}.")
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise TariffError(f"Année {year} hors de {MIN_YEAR} à {MAX_YEAR}.")
    reference = _reference()
    return dataclasses.replace(
        reference,
        departement=departement,
        year=year,
        label=f"{reference.label} — appliqué au département {departement} en {year}",
    )


def tariff_for(departement: str, year: int) -> Tariff:
    """The département's own shipped tariff of ``year``, else the national reference."""
    return load_shipped(departement, year) or reference_tariff(departement, year)


@functools.cache
def _shipped_index() -> dict[tuple[str, int], Tariff]:
    index: dict[tuple[str, int], Tariff] = {}
    for entry in resources.files(_SHIPPED_PACKAGE).iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if not entry.is_file() or match is None:
            continue
        tariff = parse_tariff_json(entry.read_bytes(), departement=match["departement"])
        # The name is how the tariff is found; a file named 49-2027 holding 2028 would
        # silently price 2027 with the wrong year's figures.
        if tariff.year != int(match["year"]):
            raise TariffError(
                f"Tarif livré {entry.name} invalide : il porte sur l'année {tariff.year}."
            )
        index[(tariff.departement, tariff.year)] = tariff
    return index


@functools.cache
def _reference() -> Tariff:
    source = resources.files(_SHIPPED_PACKAGE).joinpath(_REFERENCE_FILE)
    return parse_tariff_json(source.read_bytes(), departement=REFERENCE_DEPARTEMENT)
