"""Vendored French reference data (INSEE COG and populations légales 2025)."""

from shared.refdata.territories import (
    Commune,
    Departement,
    Epci,
    RequesterKind,
    Territories,
    get_territories,
    requester_kind,
)

__all__ = [
    "Commune",
    "Departement",
    "Epci",
    "RequesterKind",
    "Territories",
    "get_territories",
    "requester_kind",
]
