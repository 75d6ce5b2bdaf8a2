"""The Chorus Pro directory's export, read: the committed fixture in its published format
(BOM, ``;``, French headers), headers matched whatever their case and accents, what is
skipped (not a SIRET, inactive, a wrong key), and a file that is not the export refused in
French."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.billing.domain.chorus_directory import (
    DirectoryEntry,
    DirectoryFormatError,
    ReadCounts,
    read_services,
    read_structures,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chorus_pro"


def _read(name: str) -> list[str]:
    return (FIXTURES / name).read_text(encoding="utf-8-sig").splitlines()


def test_the_fixture_reads_into_requirements_and_active_services_by_siret() -> None:
    counts = ReadCounts()
    services = read_services(_read("services.csv"), counts)
    entries = list(read_structures(_read("structures.csv"), services, counts))
    assert (counts.rows, counts.kept, counts.not_siret, counts.inactive, counts.invalid) == (
        8,
        5,
        1,
        1,
        1,
    )
    by_siret = {e.siret: e for e in entries}
    assert by_siret["21490007800012"] == DirectoryEntry(
        "21490007800012", "COMMUNE D'ANGERS", False, True, False, ("SERV-TECH",)
    )
    # The inactive service "OLD" is not a service one may invoice.
    assert by_siret["24490001500011"].services == ("FIN", "URBA")
    assert by_siret["24490001500011"].service_code_required
    assert by_siret["21490990500017"].service_or_engagement_required


def test_headers_are_matched_without_case_or_accents_and_a_bad_cell_is_refused() -> None:
    header = (
        "IDENTIFIANT,TYPE D’IDENTIFIANT,RAISON SOCIALE,GESTION ENGAGEMENT,GESTION SERVICE,"
        "GESTION SERVICE OU ENGAGEMENT,STRUCTURE ACTIVE"
    )
    counts = ReadCounts()
    [entry] = read_structures([header, "214 900 078 00012,SIRET,ANGERS,true,0,,1"], {}, counts)
    assert (entry.siret, entry.engagement_required, entry.service_code_required) == (
        "21490007800012",
        True,
        False,
    )
    with pytest.raises(DirectoryFormatError, match="Ligne 2, colonne « Gestion engagement »"):
        list(read_structures([header, "21490007800012,SIRET,ANGERS,peut-être,0,0,1"], {}, counts))
    with pytest.raises(DirectoryFormatError, match="n'a pas les colonnes : « Code service »"):
        read_services(["Identifiant structure;Nom service"], counts)
