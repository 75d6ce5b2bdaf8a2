"""The Chorus Pro export, the directory import and the refusal before numbering on a
real database, with invoices issued by the service's use cases: ``mg-invoices export``
twice gives the same bytes, batches under 10 MB, names of at most 50 ASCII characters, a
manifest that says what each file holds; ``mg-chorus-directory import`` sets the buyers'
requirements by SIRET, and a second run of the same file changes nothing; a signature
the buyer's account would refuse takes no number."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from services.billing import bootstrap
from services.billing.domain.deposit_batches import MAX_BATCH_BYTES, MAX_NAME_LENGTH
from services.billing.domain.invoice import InvoiceFilter
from services.billing.entrypoints import chorus_directory_cli, invoices_cli
from services.billing.service_layer import buyers, conventions
from services.billing.service_layer.facturx import deposit_batches
from shared.auth.tokens import Principal, Role
from shared.db.engine import make_engine, make_session_factory
from shared.errors import DomainValidationError
from shared.refdata import get_territories
from stack.scenario.facturx import stand_in_siret
from tests.support import events
from tests.support.conventions import sent_convention
from tests.support.issued_invoices import Issued, issue_for

pytestmark = [pytest.mark.postgres]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chorus_pro"


@pytest.fixture(scope="module")
def issued(billing_database_url: str) -> Issued:
    async def go() -> Issued:
        engine = make_engine(billing_database_url, pool_size=2)
        try:
            unit_of_work = bootstrap.standalone_unit_of_work(
                make_session_factory(engine), "billing"
            )
            return await issue_for(unit_of_work, "49")
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _period() -> list[str]:
    # Issue dates are the database's clock: the period is the years around today.
    today = datetime.now(UTC).date()
    return ["--from", f"{today.year - 1}-01-01", "--to", f"{today.year + 1}-12-31"]


def test_the_export_twice_gives_the_same_batches_and_manifest(
    issued: Issued, billing_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MG_BILLING_DATABASE_URL", billing_database_url)
    runs = []
    for run in ("first", "second"):
        out = tmp_path / run / "DEPOT-49.zip"
        result = CliRunner().invoke(
            invoices_cli.app, ["export", str(out), "--departement", "49", *_period()]
        )
        assert result.exit_code == 0, result.output
        runs.append({p.name: p.read_bytes() for p in sorted(out.parent.iterdir())})
    first, second = runs
    assert first == second
    assert sorted(first) == ["DEPOT-49.csv", "DEPOT-49.zip"]
    archive_bytes = first["DEPOT-49.zip"]
    assert len(archive_bytes) <= MAX_BATCH_BYTES
    with zipfile.ZipFile(io.BytesIO(archive_bytes)) as archive:
        names = archive.namelist()
        contents = {name: archive.read(name) for name in names}
    numbers = sorted(i.number for i in issued.all)
    assert sorted(names) == [f"FX-{n}.pdf" for n in numbers]
    assert all(len(n) <= MAX_NAME_LENGTH and n.isascii() for n in [*names, "DEPOT-49.zip"])
    rows = list(csv.DictReader(io.StringIO(first["DEPOT-49.csv"].decode()), delimiter=";"))
    by_number = {r["numero"]: r for r in rows}
    assert sorted(by_number) == numbers
    mission = by_number[issued.mission.number]
    assert (mission["type"], mission["code_service"], mission["engagement"]) == (
        "380",
        "SERV-TECH",
        "EJ-49-2027-000042",
    )
    credit = by_number[issued.credit_note.number]
    assert credit["type"] == "381"
    assert credit["montant_ttc"] == f"{-issued.credit_note.totals.incl_tax:.2f}"
    for row in rows:
        assert row["lot"] == "DEPOT-49.zip"
        assert hashlib.sha256(contents[row["fichier"]]).hexdigest() == row["sha256"]


def test_a_deposit_over_the_limit_is_cut_into_numbered_batches(
    issued: Issued, billing_database_url: str
) -> None:
    async def go() -> list[tuple[str, int]]:
        engine = make_engine(billing_database_url, pool_size=1)
        try:
            unit_of_work = bootstrap.standalone_unit_of_work(
                make_session_factory(engine), "billing"
            )
            async with unit_of_work() as uow:
                # A PDF is about 20 kB: 50 kB take two of the four, not three.
                deposit = await deposit_batches(
                    uow,
                    "49",
                    (date(2000, 1, 1), date(2100, 1, 1)),
                    "DEPOT",
                    bootstrap.facturx_renderer(),
                    limit=50_000,
                )
            return [(b.name, len(b.content)) for b in deposit.batches]
        finally:
            await engine.dispose()

    batches = asyncio.run(go())
    assert len(batches) > 1
    assert [name for name, _ in batches] == [
        f"DEPOT-{n:03d}.zip" for n in range(1, 1 + len(batches))
    ]
    assert all(size <= 50_000 for _, size in batches)


def test_the_directory_sets_the_buyers_requirements_and_a_second_import_changes_nothing(
    issued: Issued, billing_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MG_BILLING_DATABASE_URL", billing_database_url)
    args = [
        "import",
        str(FIXTURES / "structures.csv"),
        "--services",
        str(FIXTURES / "services.csv"),
    ]
    first = CliRunner().invoke(chorus_directory_cli.app, args)
    assert first.exit_code == 0, first.output
    said = " ".join(first.output.split())  # the terminal's width wraps the lines
    assert "8 structures lues : 5 retenues" in said
    assert "1 sans SIRET, 1 inactives, 1 SIRET invalides ; 4 services actifs" in said
    assert "Comptes acheteurs : 1 trouvés, 1 modifiés ; 4 SIRET sans compte." in said
    second = CliRunner().invoke(chorus_directory_cli.app, args)
    assert second.exit_code == 0, second.output
    assert "Comptes acheteurs : 1 trouvés, 0 modifiés" in " ".join(second.output.split())

    async def epci_account() -> tuple[bool, list[str], int]:
        engine = make_engine(billing_database_url, pool_size=1)
        try:
            unit_of_work = bootstrap.standalone_unit_of_work(
                make_session_factory(engine), "billing"
            )
            async with unit_of_work() as uow:
                found = await uow.buyers.get("49", issued.epci_cotisation.collectivite.code)
                assert found is not None
            async with engine.connect() as conn:
                published = await conn.scalar(
                    text("SELECT count(*) FROM outbox WHERE event_type = :t"),
                    {"t": "billing.buyer.registered.v1"},
                )
            return found.service_code_required, list(found.services), int(published or 0)
        finally:
            await engine.dispose()

    required, services, published = asyncio.run(epci_account())
    assert (required, services) == (True, ["FIN"])
    # Two accounts registered, the commune's changed at the signature, one import.
    assert published == 4


def test_a_signature_the_buyer_would_refuse_takes_no_number_on_the_database(
    issued: Issued, billing_database_url: str
) -> None:
    """The account requires a service code; a signature without one is refused in its
    transaction, and the next invoice of the series takes the next number."""

    async def go() -> tuple[list[str], int, int, str | None]:
        engine = make_engine(billing_database_url, pool_size=1)
        try:
            unit_of_work = bootstrap.standalone_unit_of_work(
                make_session_factory(engine), "billing"
            )
            commune = get_territories().communes_of("49")[1].code_insee
            team = Principal(Role.DEPARTEMENT, "agent-49", "49")
            async with unit_of_work() as uow:
                await buyers.register_buyer(
                    uow,
                    team,
                    "49",
                    commune,
                    siret=stand_in_siret(commune),
                    service_code=None,
                    service_code_required=True,
                    engagement_required=None,
                    territories=get_territories(),
                    now=datetime.now(UTC),
                )
            sent = [
                await sent_convention(
                    unit_of_work,
                    events.assignment_completed(requester_code=commune),
                    datetime(2027, 2, 1, tzinfo=UTC),
                )
                for _ in range(2)
            ]
            year = datetime.now(UTC).year
            async with engine.connect() as conn:
                before = await conn.scalar(
                    text(
                        "SELECT last_number FROM invoice_counters WHERE departement='49' "
                        "AND year=:y"
                    ),
                    {"y": year},
                )
            signatory = Principal(Role.COLLECTIVITE, "elu", "49", scope=commune)
            refused: list[str] = []
            try:
                async with unit_of_work() as uow:
                    await conventions.sign_convention(
                        uow,
                        signatory,
                        sent[0],
                        datetime.now(UTC),
                        engagement_number="EJ-1",
                        service_code=None,
                        siret=None,
                    )
            except DomainValidationError as exc:
                refused = [e.field for e in exc.errors]
            async with unit_of_work() as uow:
                await conventions.sign_convention(
                    uow,
                    signatory,
                    sent[1],
                    datetime.now(UTC),
                    engagement_number="EJ-2",
                    service_code="SERV-TECH",
                    siret=None,
                )
            async with unit_of_work() as uow:
                found = await uow.invoices.search(
                    InvoiceFilter("49", year, commune), limit=None, offset=0
                )
            [advance] = found
            assert advance.contract is not None
            return refused, int(before or 0), advance.sequence, advance.contract.service_code
        finally:
            await engine.dispose()

    refused, before, sequence, service_code = asyncio.run(go())
    assert refused == ["buyer.service_code"]
    assert (sequence, service_code) == (before + 1, "SERV-TECH")
