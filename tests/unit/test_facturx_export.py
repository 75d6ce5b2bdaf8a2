"""The Chorus Pro deposit batches and the Factur-X file behind the API's access rule, on
the fakes: batches at most the size limit, names of at most 50 ASCII characters, every
invoice and credit note of the département's year in number order, and a second export
identical byte for byte. A fake renderer stands in for WeasyPrint: deterministic bytes,
incompressible so that the sizes are those of real PDFs."""

from __future__ import annotations

import dataclasses
import io
import itertools
import random
import zipfile
from datetime import date

import pytest

from services.billing import bootstrap
from services.billing.domain.buyers import BuyerAccount
from services.billing.domain.deposit_batches import (
    MANIFEST_COLUMNS,
    MAX_NAME_LENGTH,
    batch_name,
    manifest_csv,
    pack,
)
from services.billing.domain.identities import Buyer, References, Seller
from services.billing.domain.invoice import Collectivite, Invoice
from services.billing.entrypoints import http
from services.billing.service_layer.facturx import deposit_batches, readable_facturx_file
from shared.auth.tokens import Principal, Role
from shared.contracts.vocabulary import RequesterKind
from shared.errors import DomainValidationError, Forbidden, NotFound
from tests.support.billing_http import billing_client
from tests.support.facturx_samples import COMMUNE_SIRET, ISSUED, cotisation, mission
from tests.unit.fakes.billing import FakeUnitOfWork

TEAM_49 = Principal(Role.DEPARTEMENT, "agent-49", "49")
TEAM_78 = Principal(Role.DEPARTEMENT, "agent-78", "78")
ANGERS = Principal(Role.COLLECTIVITE, "mairie", "49", scope="49007")
CHOLET = Principal(Role.COLLECTIVITE, "mairie", "49", scope="49099")
# Taken before a test replaces it with the fake.
real_renderer = bootstrap.facturx_renderer


class FakeRenderer:
    """``size`` random bytes seeded by the invoice number: the same invoice, the same
    bytes; and what it was given, to check the buyer's SIRET."""

    def __init__(self, size: int = 40_000) -> None:
        self.size = size
        self.buyers: list[Buyer] = []

    def pdf(self, invoice: Invoice, seller: Seller, buyer: Buyer, references: References) -> bytes:
        self.buyers.append(buyer)
        body = random.Random(invoice.number).randbytes(self.size)
        return b"%PDF-1.7\n" + body

    def xml(self, invoice: Invoice, seller: Seller, buyer: Buyer, references: References) -> bytes:
        self.buyers.append(buyer)
        return f"<Invoice>{invoice.number}</Invoice>".encode()


def files(count: int, size: int) -> list[tuple[str, bytes]]:
    return [
        (f"FX-49-2027-{n:06d}.pdf", random.Random(n).randbytes(size)) for n in range(1, count + 1)
    ]


def test_batches_stay_under_the_limit_and_keep_every_file_in_order() -> None:
    given = files(25, 30_000)
    batches = pack("49", 2027, given, limit=200_000)
    assert len(batches) > 1
    assert all(len(b.content) <= 200_000 for b in batches)
    # Cut where the next file would not fit: no batch could have taken one more.
    for batch, _ in itertools.pairwise(batches):
        assert len(batch.content) + 30_000 > 200_000
    unpacked = []
    for batch in batches:
        with zipfile.ZipFile(io.BytesIO(batch.content)) as archive:
            assert archive.testzip() is None
            assert archive.namelist() == list(batch.entries)
            unpacked += [(name, archive.read(name)) for name in archive.namelist()]
    assert unpacked == given


def test_names_are_short_ascii_and_numbered() -> None:
    batches = pack("2A", 2027, files(6, 50_000), limit=120_000)
    assert [b.name for b in batches] == [f"MG-2A-2027-lot-{n:03d}.zip" for n in (1, 2, 3)]
    for name in [b.name for b in batches] + [e for b in batches for e in b.entries]:
        assert len(name) <= MAX_NAME_LENGTH
        assert name.isascii()
    with pytest.raises(DomainValidationError):
        batch_name("4" * 40, 2027, 1)


def test_the_same_files_give_the_same_bytes_with_a_fixed_time() -> None:
    first = pack("49", 2027, files(5, 10_000))
    second = pack("49", 2027, files(5, 10_000))
    assert [b.content for b in first] == [b.content for b in second]
    with zipfile.ZipFile(io.BytesIO(first[0].content)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_a_file_larger_than_a_batch_is_refused() -> None:
    with pytest.raises(DomainValidationError) as exc:
        pack("49", 2027, files(1, 50_000), limit=40_000)
    assert "dépasse" in exc.value.errors[0].message


YEAR_2027 = (date(2027, 1, 1), date(2027, 12, 31))
# Angers' stand-in establishment (valid keys), beside the samples' one.
OTHER_SIRET = "21490070600018"


async def stored(*invoices: Invoice, accounts: dict[str, str] | None = None) -> FakeUnitOfWork:
    """The invoices, and the buyer accounts (code: SIRET) of their collectivités."""
    uow = FakeUnitOfWork()
    await uow.invoices.add(list(invoices))
    who = {i.collectivite.code: (i.departement, i.collectivite) for i in invoices}
    for code, siret in (accounts or {}).items():
        departement, collectivite = who.get(
            code, ("49", Collectivite(code, RequesterKind.COMMUNE, code))
        )
        await uow.buyers.save(
            BuyerAccount(siret=siret, departement=departement, collectivite=collectivite)
        )
    await uow.commit()
    return uow


async def test_the_export_of_a_year_is_every_document_in_number_order_twice_the_same() -> None:
    invoice = mission("49", 2)
    credit = invoice.credit_note(sequence=3, issued_at=ISSUED, reason="Mission annulée")
    other = cotisation("78", RequesterKind.COMMUNE, "78646", 40_000, 1)
    uow = await stored(
        cotisation("49", RequesterKind.COMMUNE, "49099", 50_000, 1),
        invoice,
        accounts={"49099": COMMUNE_SIRET, "49007": OTHER_SIRET},
    )
    await uow.invoices.add([credit, other])
    seen: list[tuple[int, int]] = []
    renderer = FakeRenderer(size=60_000)
    first = await deposit_batches(
        uow, "49", YEAR_2027, "OUT", renderer, lambda d, t: seen.append((d, t)), limit=130_000
    )
    second = await deposit_batches(uow, "49", YEAR_2027, "OUT", FakeRenderer(size=60_000))
    assert [e for b in first.batches for e in b.entries] == [
        "FX-49-2027-000001.pdf",
        "FX-49-2027-000002.pdf",
        "FX-49-2027-000003.pdf",
    ]
    assert [b.name for b in first.batches] == ["OUT-001.zip", "OUT-002.zip"]
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert [b.siret for b in renderer.buyers] == [COMMUNE_SIRET, OTHER_SIRET, OTHER_SIRET]
    assert [(r.type_code, r.buyer_siret, str(r.amount)) for r in first.rows] == [
        ("380", COMMUNE_SIRET, str(first.rows[0].amount)),
        ("380", OTHER_SIRET, str(invoice.totals.incl_tax)),
        ("381", OTHER_SIRET, str(invoice.totals.incl_tax)),
    ]
    manifest = manifest_csv(first.batches, first.rows).decode().splitlines()
    assert manifest[0] == ";".join(MANIFEST_COLUMNS)
    assert manifest[3].startswith("FX-49-2027-000003.pdf;OUT-002.zip;49-2027-000003;381;")
    assert manifest[3].endswith(first.rows[2].sha256)
    again = await deposit_batches(uow, "49", YEAR_2027, "OUT", renderer, limit=130_000)
    assert [b.content for b in again.batches] == [b.content for b in first.batches]
    assert [b.name for b in second.batches] == ["OUT.zip"]
    # Another period: nothing issued then.
    empty = await deposit_batches(uow, "49", (date(2028, 1, 1), date(2028, 3, 1)), "X", renderer)
    assert empty.rows == [] and empty.batches == []


async def test_a_collectivite_without_an_account_is_refused_before_any_rendering() -> None:
    uow = await stored(
        cotisation("49", RequesterKind.COMMUNE, "49099", 50_000, 1),
        mission("49", 2),
        accounts={"49099": COMMUNE_SIRET},
    )
    renderer = FakeRenderer()
    with pytest.raises(DomainValidationError) as exc:
        await deposit_batches(uow, "49", YEAR_2027, "OUT", renderer)
    assert [e.field for e in exc.value.errors] == ["buyer.siret"]
    assert "49007" in exc.value.errors[0].message
    assert renderer.buyers == []


async def test_what_a_buyer_now_requires_is_refused_for_every_file_before_rendering() -> None:
    uow = await stored(
        cotisation("49", RequesterKind.COMMUNE, "49099", 50_000, 1),
        cotisation("49", RequesterKind.COMMUNE, "49007", 50_000, 2),
        accounts={"49099": COMMUNE_SIRET, "49007": COMMUNE_SIRET},
    )
    for code in ("49099", "49007"):
        account = await uow.buyers.get("49", code)
        assert account is not None
        await uow.buyers.save(dataclasses.replace(account, engagement_required=True))
    renderer = FakeRenderer()
    with pytest.raises(DomainValidationError) as exc:
        await deposit_batches(uow, "49", YEAR_2027, "OUT", renderer)
    assert [e.field for e in exc.value.errors] == [
        "49-2027-000001.buyer.engagement_number",
        "49-2027-000002.buyer.engagement_number",
    ]
    assert renderer.buyers == []


async def test_the_file_follows_the_reading_rule_then_asks_for_the_account() -> None:
    invoice = mission("49", 1)
    uow = await stored(invoice)
    renderer = FakeRenderer()
    with pytest.raises(DomainValidationError) as exc:
        await readable_facturx_file(uow, TEAM_49, invoice.id, renderer)
    assert exc.value.errors[0].field == "buyer.siret"
    assert "n'a pas de compte acheteur" in exc.value.errors[0].message
    assert invoice.collectivite.name in exc.value.errors[0].message
    # Access first: a 422 must not tell that another département's invoice exists.
    with pytest.raises(NotFound):
        await readable_facturx_file(uow, TEAM_78, invoice.id, renderer)
    with pytest.raises(Forbidden):
        await readable_facturx_file(uow, CHOLET, invoice.id, renderer)
    await uow.buyers.save(
        BuyerAccount(siret=COMMUNE_SIRET, departement="49", collectivite=invoice.collectivite)
    )
    await uow.commit()
    _, xml = await readable_facturx_file(uow, ANGERS, invoice.id, renderer, "xml")
    assert xml == f"<Invoice>{invoice.number}</Invoice>".encode()
    assert [b.siret for b in renderer.buyers] == [COMMUNE_SIRET]


async def test_the_routes_answer_the_pdf_the_xml_and_a_french_422(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    invoice = mission("49", 1)
    unknown = cotisation("49", RequesterKind.COMMUNE, "49099", 50_000, 2)
    uow = await stored(invoice, unknown, accounts={"49007": COMMUNE_SIRET})
    monkeypatch.setattr(bootstrap, "facturx_renderer", FakeRenderer)
    async with billing_client(http.invoices_router, ANGERS, uow) as client:
        base = f"/v1/invoices/{invoice.id}/facturx"
        pdf = await client.get(base)
        xml = await client.get(f"{base}.xml")
        client.as_principal(TEAM_49)
        missing = await client.get(f"/v1/invoices/{unknown.id}/facturx")
        client.as_principal(CHOLET)
        other = await client.get(base)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert 'filename="FX-49-2027-000001.pdf"' in pdf.headers["content-disposition"]
    assert xml.status_code == 200
    assert xml.headers["content-type"] == "application/xml"
    assert xml.content == f"<Invoice>{invoice.number}</Invoice>".encode()
    assert missing.status_code == 422
    assert "n'a pas de compte acheteur" in missing.text
    assert unknown.collectivite.name in missing.json()["errors"][0]["message"]
    assert other.status_code == 403


async def test_with_the_real_renderer_a_second_export_is_the_same_bytes() -> None:
    invoice = mission("49", 1)
    credit = invoice.credit_note(sequence=2, issued_at=ISSUED, reason="Mission annulée")
    uow = await stored(invoice, credit, accounts={"49007": COMMUNE_SIRET})
    runs = [await deposit_batches(uow, "49", YEAR_2027, "OUT", real_renderer()) for _ in range(2)]
    assert [b.content for b in runs[0].batches] == [b.content for b in runs[1].batches]
    with zipfile.ZipFile(io.BytesIO(runs[0].batches[0].content)) as archive:
        assert all(archive.read(name).startswith(b"%PDF") for name in archive.namelist())
