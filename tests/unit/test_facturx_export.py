"""The Chorus Pro deposit batches and the Factur-X file behind the API's access rule, on
the fakes: batches at most the size limit, names of at most 50 ASCII characters, every
invoice and credit note of the département's year in number order, and a second export
identical byte for byte. A fake renderer stands in for WeasyPrint: deterministic bytes,
incompressible so that the sizes are those of real PDFs."""

from __future__ import annotations

import io
import itertools
import random
import zipfile

import httpx
import pytest
from fastapi import FastAPI

from services.billing import bootstrap
from services.billing.domain.deposit_batches import MAX_NAME_LENGTH, batch_name, pack
from services.billing.domain.identities import Buyer, References, Seller
from services.billing.domain.invoice import Invoice
from services.billing.entrypoints import http
from services.billing.service_layer.facturx import (
    BuyerAccount,
    deposit_batches,
    readable_facturx_file,
)
from shared.auth.tokens import Principal, Role
from shared.contracts.vocabulary import RequesterKind
from shared.errors import DomainValidationError, Forbidden, NotFound
from shared.http.errors import EXCEPTION_HANDLERS
from shared.http.security import current_principal
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


async def stored(*invoices: Invoice) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    await uow.invoices.add(list(invoices))
    await uow.commit()
    return uow


async def test_the_export_of_a_year_is_every_document_in_number_order_twice_the_same() -> None:
    invoice = mission("49", 2)
    credit = invoice.credit_note(sequence=3, issued_at=ISSUED, reason="Mission annulée")
    other = cotisation("78", RequesterKind.COMMUNE, "78646", 40_000, 1)
    uow = await stored(cotisation("49", RequesterKind.COMMUNE, "49099", 50_000, 1), invoice)
    await uow.invoices.add([credit, other])
    accounts = {"49099": BuyerAccount(siret=COMMUNE_SIRET), "49007": BuyerAccount("1" * 14)}
    seen: list[tuple[int, int]] = []
    renderer = FakeRenderer(size=60_000)
    first = await deposit_batches(
        uow, "49", 2027, accounts, renderer, lambda d, t: seen.append((d, t)), limit=130_000
    )
    second = await deposit_batches(uow, "49", 2027, accounts, FakeRenderer(size=60_000))
    assert [e for b in first for e in b.entries] == [
        "FX-49-2027-000001.pdf",
        "FX-49-2027-000002.pdf",
        "FX-49-2027-000003.pdf",
    ]
    assert [b.name for b in first] == ["MG-49-2027-lot-001.zip", "MG-49-2027-lot-002.zip"]
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert [b.siret for b in renderer.buyers] == [COMMUNE_SIRET, "1" * 14, "1" * 14]
    again = await deposit_batches(uow, "49", 2027, accounts, renderer, limit=130_000)
    assert [b.content for b in again] == [b.content for b in first]
    assert len(second) == 1


async def test_a_collectivite_without_a_siret_is_refused_before_any_rendering() -> None:
    uow = await stored(
        cotisation("49", RequesterKind.COMMUNE, "49099", 50_000, 1), mission("49", 2)
    )
    renderer = FakeRenderer()
    with pytest.raises(DomainValidationError) as exc:
        await deposit_batches(uow, "49", 2027, {"49099": BuyerAccount(COMMUNE_SIRET)}, renderer)
    assert [e.field for e in exc.value.errors] == ["buyer.siret"]
    assert "49007" in exc.value.errors[0].message
    assert renderer.buyers == []


async def test_the_file_follows_the_reading_rule_then_asks_for_the_siret() -> None:
    invoice = mission("49", 1)
    uow = await stored(invoice)
    renderer = FakeRenderer()
    _, xml = await readable_facturx_file(uow, ANGERS, invoice.id, COMMUNE_SIRET, renderer, "xml")
    assert xml == f"<Invoice>{invoice.number}</Invoice>".encode()
    with pytest.raises(DomainValidationError) as exc:
        await readable_facturx_file(uow, TEAM_49, invoice.id, None, renderer)
    assert exc.value.errors[0].field == "buyer.siret"
    assert exc.value.errors[0].message.startswith("SIRET de l'établissement de facturation")
    # Access first: a 422 must not tell that another département's invoice exists.
    with pytest.raises(NotFound):
        await readable_facturx_file(uow, TEAM_78, invoice.id, None, renderer)
    with pytest.raises(Forbidden):
        await readable_facturx_file(uow, CHOLET, invoice.id, COMMUNE_SIRET, renderer)
    assert len(renderer.buyers) == 1


async def test_the_routes_answer_the_pdf_the_xml_and_a_french_422(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    invoice = mission("49", 1)
    uow = await stored(invoice)
    monkeypatch.setattr(bootstrap, "facturx_renderer", FakeRenderer)
    app = FastAPI()
    for exc_type, handler in EXCEPTION_HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
    app.include_router(http.invoices_router)
    app.dependency_overrides[current_principal] = lambda: ANGERS
    app.dependency_overrides[bootstrap.http_unit_of_work] = lambda: uow
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        base = f"/v1/invoices/{invoice.id}/facturx"
        pdf = await client.get(base, params={"siret": COMMUNE_SIRET})
        xml = await client.get(f"{base}.xml", params={"siret": COMMUNE_SIRET})
        missing = await client.get(base)
        app.dependency_overrides[current_principal] = lambda: CHOLET
        other = await client.get(base, params={"siret": COMMUNE_SIRET})
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert 'filename="FX-49-2027-000001.pdf"' in pdf.headers["content-disposition"]
    assert xml.status_code == 200
    assert xml.headers["content-type"] == "application/xml"
    assert xml.content == f"<Invoice>{invoice.number}</Invoice>".encode()
    assert missing.status_code == 422
    assert "SIRET de l'établissement de facturation" in missing.text
    assert other.status_code == 403


async def test_with_the_real_renderer_a_second_export_is_the_same_bytes() -> None:
    invoice = mission("49", 1)
    credit = invoice.credit_note(sequence=2, issued_at=ISSUED, reason="Mission annulée")
    uow = await stored(invoice, credit)
    accounts = {"49007": BuyerAccount(siret=COMMUNE_SIRET)}
    runs = [await deposit_batches(uow, "49", 2027, accounts, real_renderer()) for _ in range(2)]
    assert [b.content for b in runs[0]] == [b.content for b in runs[1]]
    with zipfile.ZipFile(io.BytesIO(runs[0][0].content)) as archive:
        assert all(archive.read(name).startswith(b"%PDF") for name in archive.namelist())
