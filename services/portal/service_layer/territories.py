"""The commune and EPCI search of the demande form, on the INSEE reference data."""

from __future__ import annotations

import unicodedata

from shared.refdata import Territories


def _folded(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain.lower().replace("-", " ").replace("'", " ")


def search(
    territories: Territories, query: str, departement: str | None, limit: int = 10
) -> list[dict[str, str]]:
    """Communes and EPCI whose name starts with (then contains) ``query``, or whose code does."""
    wanted = _folded(query.strip())
    if len(wanted) < 2:
        return []
    communes = territories.communes_of(departement) if departement else territories.communes()
    epcis = territories.epcis_of(departement) if departement else territories.epcis()
    rows = [(c.nom, c.code_insee, "commune", c.population) for c in communes]
    rows += [(e.nom, e.siren, "EPCI", e.population) for e in epcis]
    starts, contains = [], []
    for name, code, kind, population in rows:
        folded = _folded(name)
        if folded.startswith(wanted) or code.startswith(wanted):
            starts.append((name, code, kind, population))
        elif wanted in folded:
            contains.append((name, code, kind, population))
    found = sorted(starts, key=lambda r: -r[3]) + sorted(contains, key=lambda r: -r[3])
    return [
        {"code": code, "label": f"{name} ({kind}, {code})"} for name, code, kind, _ in found[:limit]
    ]
