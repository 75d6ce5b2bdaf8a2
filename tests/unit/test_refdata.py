import gzip
import hashlib
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.refdata import (
    Commune,
    Departement,
    Epci,
    Territories,
    get_territories,
    requester_kind,
)

ANGERS = "49007"
ANGERS_LOIRE_METROPOLE = "244900015"
METROPOLE_DU_GRAND_PARIS = "200054781"


@pytest.fixture(scope="module")
def territories() -> Territories:
    return get_territories()


def test_vendored_files_are_the_documented_csv() -> None:
    # Same digests as in data/SOURCE.md: the .gz must decompress to the
    # original CSV byte for byte.
    expected = {
        "communes.csv.gz": "11db9670fbf10a4dc8d72cad83926f184c968b70260650b00dfc4631499c3175",
        "epci.csv.gz": "3c393e7ccdc33785ca55f5836887868a5671c12b2071e46376a58f01f92d4426",
        "departements.csv.gz": "53a779ba9b94d98859f27fc42c2b2687c09f75d8dd9ffb61fe4e494e40126e60",
    }
    data = resources.files("shared.refdata").joinpath("data")
    for name, digest in expected.items():
        content = gzip.decompress(data.joinpath(name).read_bytes())
        assert hashlib.sha256(content).hexdigest() == digest, name


def test_get_territories_is_loaded_once() -> None:
    assert get_territories() is get_territories()


def test_counts(territories: Territories) -> None:
    assert len(territories.communes()) == 34_875
    assert len(territories.epcis()) == 1_253
    assert len(territories.departements()) == 101


def test_total_population(territories: Territories) -> None:
    assert sum(commune.population for commune in territories.communes()) == 66_526_267


def test_communes_without_published_population_count_as_zero(territories: Territories) -> None:
    # 0 mixes two cases: no population published (Mayotte, Hauts-Talican,
    # created in 2025) and the six "villages morts pour la France" of the
    # Meuse, whose population légale really is 0.
    unpublished = {c.code_insee for c in territories.communes_of("976")} | {"60694"}
    villages_morts = {"55039", "55050", "55139", "55189", "55239", "55307"}
    assert len(unpublished) == 18
    zero = {c.code_insee for c in territories.communes() if c.population == 0}
    assert zero == unpublished | villages_morts
    assert territories.epcis_of("976")
    assert all(epci.population == 0 for epci in territories.epcis_of("976"))


def test_communes_without_epci(territories: Territories) -> None:
    without = {c.code_insee for c in territories.communes() if c.epci_siren is None}
    assert without == {"22016", "29083", "29155", "85113"}


def test_maine_et_loire(territories: Territories) -> None:
    maine_et_loire = territories.departement("49")
    assert maine_et_loire == Departement(
        code="49", nom="Maine-et-Loire", region_code="52", region_nom="Pays de la Loire"
    )
    communes = territories.communes_of("49")
    assert len(communes) == 176
    assert all(commune.departement_code == "49" for commune in communes)


def test_angers(territories: Territories) -> None:
    angers = territories.commune(ANGERS)
    assert angers is not None
    assert angers.nom == "Angers"
    assert angers.departement_code == "49"
    assert angers.epci_siren == ANGERS_LOIRE_METROPOLE
    assert angers in territories.communes_of("49")
    assert territories.belongs_to(ANGERS, "49")
    assert not territories.belongs_to(ANGERS, "44")


def test_codes_keep_leading_zeros(territories: Territories) -> None:
    commune = territories.commune("01001")
    assert commune is not None
    assert commune.code_insee == "01001"
    assert commune.departement_code == "01"
    assert territories.commune("1001") is None
    assert territories.departement("01") is not None
    assert territories.departement("1") is None


def test_corsica(territories: Territories) -> None:
    assert territories.departement("2A") is not None
    assert territories.departement("2B") is not None
    ajaccio = territories.commune("2A004")
    assert ajaccio is not None
    assert ajaccio.nom == "Ajaccio"
    assert ajaccio.departement_code == "2A"
    assert ajaccio in territories.communes_of("2A")
    assert territories.communes_of("2B")
    assert territories.departement("20") is None


def test_departements_in_code_order(territories: Territories) -> None:
    codes = [departement.code for departement in territories.departements()]
    assert codes == sorted(codes)
    assert codes[27:31] == ["29", "2A", "2B", "30"]
    assert codes[-5:] == ["971", "972", "973", "974", "976"]


def test_overseas_departement(territories: Territories) -> None:
    abymes = territories.commune("97101")
    assert abymes is not None
    assert abymes.departement_code == "971"


def test_epci_population_is_sum_of_its_communes(territories: Territories) -> None:
    epci = territories.epci(ANGERS_LOIRE_METROPOLE)
    assert epci is not None
    assert epci.type == "CU"
    assert ANGERS in epci.commune_codes
    assert epci.departement_codes == frozenset({"49"})
    members = [c for c in territories.communes() if c.epci_siren == ANGERS_LOIRE_METROPOLE]
    assert epci.commune_codes == tuple(c.code_insee for c in members)
    assert epci.population == sum(c.population for c in members)
    assert epci.population == 296_390


def test_every_epci_matches_its_communes(territories: Territories) -> None:
    population: Counter[str] = Counter()
    members: dict[str, set[str]] = {}
    for commune in territories.communes():
        if commune.epci_siren is not None:
            population[commune.epci_siren] += commune.population
            members.setdefault(commune.epci_siren, set()).add(commune.code_insee)
    for epci in territories.epcis():
        assert epci.population == population[epci.siren], epci.siren
        assert set(epci.commune_codes) == members[epci.siren], epci.siren


def test_epci_spanning_several_departements(territories: Territories) -> None:
    grand_paris = territories.epci(METROPOLE_DU_GRAND_PARIS)
    assert grand_paris is not None
    assert grand_paris.departement_codes == frozenset({"75", "91", "92", "93", "94", "95"})
    for code in grand_paris.departement_codes:
        assert grand_paris in territories.epcis_of(code)
        assert territories.belongs_to(METROPOLE_DU_GRAND_PARIS, code)
    assert grand_paris not in territories.epcis_of("77")
    assert not territories.belongs_to(METROPOLE_DU_GRAND_PARIS, "77")


def test_epcis_of_lists_each_epci_with_a_commune_there(territories: Territories) -> None:
    expected = {c.epci_siren for c in territories.communes_of("49") if c.epci_siren is not None}
    assert {epci.siren for epci in territories.epcis_of("49")} == expected
    assert "244400552" in expected  # straddles Loire-Atlantique and Maine-et-Loire


def test_unknown_codes(territories: Territories) -> None:
    assert territories.departement("99") is None
    assert territories.commune("99999") is None
    assert territories.epci("999999999") is None
    assert territories.communes_of("99") == ()
    assert territories.epcis_of("99") == ()
    assert territories.requester("99999") is None
    assert territories.requester("999999999") is None
    assert not territories.belongs_to("99999", "99")
    assert not territories.belongs_to("not a code", "49")


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("49007", "commune"),
        ("01001", "commune"),
        ("2A004", "commune"),
        ("2B033", "commune"),
        ("97101", "commune"),
        ("123456789", "epci"),
        ("244900015", "epci"),
        ("4900", None),
        ("49007a", None),
        ("2a004", None),
        ("2C004", None),
        ("A2004", None),
        ("12345678", None),
        ("1234567890", None),
        ("12345678a", None),
        ("", None),
        (" 49007", None),
        ("49007\n", None),
        ("123456789\n", None),
        ("٤٩٠٠٧", None),  # Arabic-Indic digits are not INSEE digits
    ],
)
def test_requester_kind(code: str, kind: str | None) -> None:
    assert requester_kind(code) == kind
    assert Territories.requester_kind(code) == kind


def test_requester(territories: Territories) -> None:
    assert territories.requester(ANGERS) == territories.commune(ANGERS)
    assert territories.requester(ANGERS_LOIRE_METROPOLE) == territories.epci(ANGERS_LOIRE_METROPOLE)
    assert territories.requester("4900") is None


@given(st.text(alphabet="0123456789ABa ", max_size=10))
def test_requester_kind_matches_the_two_formats(code: str) -> None:
    # The alphabet is ASCII only, so str.isdigit() is a fair oracle here.
    is_insee = (
        len(code) == 5 and code[2:].isdigit() and (code[:2].isdigit() or code[:2] in {"2A", "2B"})
    )
    is_siren = len(code) == 9 and code.isdigit()
    assert requester_kind(code) == ("commune" if is_insee else "epci" if is_siren else None)


@st.composite
def commune_and_other_departement(draw: st.DrawFn) -> tuple[Commune, str]:
    territories = get_territories()
    commune = draw(st.sampled_from(territories.communes()))
    other = draw(
        st.sampled_from(
            [d.code for d in territories.departements() if d.code != commune.departement_code]
        )
    )
    return commune, other


@given(commune_and_other_departement())
def test_commune_belongs_only_to_its_departement(sample: tuple[Commune, str]) -> None:
    commune, other_departement = sample
    territories = get_territories()
    assert requester_kind(commune.code_insee) == "commune"
    assert territories.requester(commune.code_insee) == commune
    assert territories.belongs_to(commune.code_insee, commune.departement_code)
    assert not territories.belongs_to(commune.code_insee, other_departement)
    if commune.epci_siren is not None:
        assert territories.belongs_to(commune.epci_siren, commune.departement_code)


def _tiny(communes: list[Commune]) -> Territories:
    return Territories(
        departements=[Departement("49", "Maine-et-Loire", "52", "Pays de la Loire")],
        communes=communes,
        epcis=[("244900015", "Angers Loire Métropole", "CU"), ("200000000", "Sans membre", "CC")],
    )


def test_epci_without_communes() -> None:
    territories = _tiny([Commune(ANGERS, "Angers", "49", ANGERS_LOIRE_METROPOLE, 10)])
    assert territories.epci("200000000") == Epci(
        siren="200000000",
        nom="Sans membre",
        type="CC",
        population=0,
        departement_codes=frozenset(),
        commune_codes=(),
    )
    assert not territories.belongs_to("200000000", "49")
    assert [epci.siren for epci in territories.epcis_of("49")] == [ANGERS_LOIRE_METROPOLE]


@pytest.mark.parametrize(
    ("communes", "message"),
    [
        ([Commune(ANGERS, "Angers", "44", None, 1)], "unknown département"),
        ([Commune(ANGERS, "Angers", "49", "111111111", 1)], "unknown EPCI"),
        (
            [Commune(ANGERS, "Angers", "49", None, 1), Commune(ANGERS, "Bis", "49", None, 1)],
            "duplicate commune",
        ),
    ],
)
def test_inconsistent_data_is_refused(communes: list[Commune], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _tiny(communes)


def test_changed_columns_are_refused(tmp_path: Path) -> None:
    (tmp_path / "departements.csv.gz").write_bytes(
        gzip.compress(b"code,nom,region\r\n49,Maine-et-Loire,52\r\n")
    )
    with pytest.raises(ValueError, match=r"departements\.csv\.gz: expected columns"):
        Territories.from_directory(tmp_path)
