"""The document, the CSV, the event and the stored totals of an invoice agree to the cent.

1,000 random invoices (cotisations of communes and EPCI, missions; random tariffs, VAT
rates and names) and the credit note cancelling each are computed by the domain model.
For every one, the figures are read back the way their readers get them: the HTML a
collectivité reads (French amounts parsed back), the CSV an accountant imports, the JSON
the outbox publishes, and the row PostgreSQL stores, through the real repository. Each
must give the model's totals, and its lines must add up to them.

``test_an_altered_figure_is_detected`` shows that the comparison can fail: a total off
by one cent in storage, in the document or in the event is reported.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.billing.adapters.invoice_repository import SqlInvoiceRepository
from services.billing.domain.documents import render_csv, render_html
from services.billing.domain.invoice import (
    Collectivite,
    Invoice,
    Totals,
    cotisation_key,
    issue,
    mission_key,
    totals,
)
from services.billing.domain.pricing import cotisation_lines, mission_lines
from services.billing.domain.shipped_tariffs import load_shipped
from services.billing.domain.tariff import Tariff
from services.billing.entrypoints.main import MIGRATIONS
from shared.contracts.vocabulary import RequesterKind
from shared.db.engine import make_engine, make_session_factory
from shared.db.migrations import upgrade
from tests.unit.test_pricing_properties import tariffs

pytestmark = [pytest.mark.postgres]

EXAMPLES = 1_000
YEAR = 2027
ISSUED = datetime(2027, 3, 1, 8, 30, tzinfo=UTC)

# Names with what HTML, CSV and JSON must escape: "<&>", quotes, ";" and accents.
names = st.text(alphabet=st.sampled_from("abcdeéèêàçôÉ -'\"<>&;«»"), min_size=1, max_size=40).map(
    lambda s: s.strip() or "Commune"
)

_EUROS = re.compile(r"(-?[0-9]{1,3}(?:\u202f[0-9]{3})*),([0-9]{2})\u00a0€")
_ROW = re.compile(r"<tr><td>.*?</td>" + r"<td class=n>(.*?)</td>" * 5 + "</tr>")
_TOTALS = re.compile(r"Total HT : (.*?) — TVA : (.*?) —\n<strong>Total TTC : (.*?)</strong>")


@dataclasses.dataclass(frozen=True)
class Case:
    tariff: Tariff
    what: str  # commune, epci, mission
    population: int
    days: Decimal
    actor_kind: str
    member: bool
    name: str


cases = st.builds(
    Case,
    tariff=tariffs(),
    what=st.sampled_from(["commune", "epci", "mission"]),
    population=st.integers(0, 300_000),
    days=st.decimals(min_value=0, max_value=60, places=2),
    actor_kind=st.sampled_from(["caue", "atd", "cnfpt", "autre"]),
    member=st.booleans(),
    name=names,
)


def documents(case: Case, sequence: int) -> tuple[Invoice, Invoice]:
    """The invoice of ``case`` numbered ``sequence``, and the credit note cancelling it."""
    what = case.what
    if what == "epci" and case.tariff.epci_rate is None:
        what = "commune"  # this tariff does not take EPCI as members
    code = f"{sequence:09d}"
    if what == "mission":
        lines = mission_lines(case.tariff, case.actor_kind, case.days, case.member, "Mission")
        kind: RequesterKind = RequesterKind.COMMUNE
        source, invoice_kind = mission_key(uuid4()), "mission"
    else:
        lines = cotisation_lines(
            case.tariff, "epci" if what == "epci" else "commune", case.population, YEAR
        )
        kind = RequesterKind.EPCI if what == "epci" else RequesterKind.COMMUNE
        source, invoice_kind = cotisation_key(YEAR, code), "cotisation"
    invoice = issue(
        departement=case.tariff.departement,
        year=YEAR,
        sequence=sequence,
        issued_at=ISSUED + timedelta(seconds=sequence),
        document_kind="invoice",
        invoice_kind="mission" if invoice_kind == "mission" else "cotisation",
        collectivite=Collectivite(code, kind, case.name),
        tariff_version=case.tariff.version,
        lines=lines,
        source_key=source,
    )
    credit = invoice.credit_note(
        sequence=sequence + 1, issued_at=invoice.issued_at, reason="Erreur de saisie"
    )
    return invoice, credit


def french_euros(text: str) -> Decimal:
    match = _EUROS.fullmatch(text)
    assert match, f"not an amount in euros the French way: {text!r}"
    return Decimal(f"{match[1].replace(chr(0x202F), '')}.{match[2]}")


def html_figures(page: str) -> tuple[Totals, list[tuple[Decimal, Decimal]]]:
    """The totals a reader of the document sees, and each line's HT and TTC amounts."""
    found = _TOTALS.search(page)
    assert found, "the document shows no totals"
    shown = Totals(*(french_euros(found[n]) for n in (1, 2, 3)))
    rows = [(french_euros(r[2]), french_euros(r[4])) for r in _ROW.findall(page)]
    return shown, rows


def csv_figures(text: str) -> dict[str, tuple[Totals, str]]:
    """Per number, the totals of the accountants' export and the number it cancels."""
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))
    return {
        r["numero"]: (
            Totals(Decimal(r["total_ht"]), Decimal(r["total_tva"]), Decimal(r["total_ttc"])),
            r["facture_annulee"],
        )
        for r in rows
    }


def disagreements(
    document: Invoice,
    page: str,
    exported: tuple[Totals, str],
    published: bytes,
    cancelled: Invoice | None,
) -> list[str]:
    """Where the document, the CSV row and the event differ from the model's figures."""
    sums = document.totals
    wrong: list[str] = []
    if sums.excl_tax + sums.vat != sums.incl_tax:
        wrong.append(f"model: HT + TVA != TTC {sums}")
    if [line.amount_excl_tax + line.vat_amount for line in document.lines] != [
        line.amount_incl_tax for line in document.lines
    ]:
        wrong.append("model: a line's HT + TVA != TTC")

    shown, rows = html_figures(page)
    if shown != sums:
        wrong.append(f"HTML totals {shown} != {sums}")
    if len(rows) != len(document.lines):
        wrong.append(f"HTML shows {len(rows)} lines, not {len(document.lines)}")
    if (sum((r[0] for r in rows), Decimal(0)), sum((r[1] for r in rows), Decimal(0))) != (
        sums.excl_tax,
        sums.incl_tax,
    ):
        wrong.append("HTML lines do not add up to the HTML totals")

    row_totals, refers = exported
    if row_totals != sums:
        wrong.append(f"CSV totals {row_totals} != {sums}")
    if refers != (cancelled.number if cancelled else ""):
        wrong.append(f"CSV cancels {refers!r}")

    event = json.loads(published)
    announced = Totals(
        *(Decimal(event[k]) for k in ("total_excl_tax", "total_vat", "total_incl_tax"))
    )
    if announced != sums:
        wrong.append(f"event totals {announced} != {sums}")
    for key, total in (("amount_excl_tax", sums.excl_tax), ("vat_amount", sums.vat)):
        if sum((Decimal(li[key]) for li in event["lines"]), Decimal(0)) != total:
            wrong.append(f"event lines' {key} do not add up to the total")
    if cancelled is not None and event["refers_to_number"] != cancelled.number:
        wrong.append("the credit note's event names another invoice")
    return wrong


def check(invoice: Invoice, credit: Invoice) -> list[str]:
    exported = csv_figures(render_csv([invoice, credit], {str(invoice.id): invoice.number}))
    wrong = disagreements(
        invoice,
        render_html(invoice),
        exported[invoice.number],
        invoice.event().model_dump_json().encode(),
        None,
    )
    wrong += disagreements(
        credit,
        render_html(credit, invoice.number),
        exported[credit.number],
        credit.event(invoice.number).model_dump_json().encode(),
        invoice,
    )
    if totals_sum(invoice, credit) != Totals(Decimal(0), Decimal(0), Decimal(0)):
        wrong.append("the credit note does not cancel the invoice to the cent")
    return wrong


def totals_sum(a: Invoice, b: Invoice) -> Totals:
    return Totals(
        a.totals.excl_tax + b.totals.excl_tax,
        a.totals.vat + b.totals.vat,
        a.totals.incl_tax + b.totals.incl_tax,
    )


async def stored_disagreements(url: str, issued: list[Invoice]) -> list[str]:
    """Store the documents through the repository; what is read back must be the model,
    totals included, and must render the same document."""
    engine = make_engine(url, pool_size=1)
    try:
        factory = make_session_factory(engine)
        async with factory() as session:
            await SqlInvoiceRepository(session).add(issued)
            await session.commit()
        wrong: list[str] = []
        async with factory() as session:
            repository = SqlInvoiceRepository(session)
            for document in issued:
                stored = await repository.get(document.id)
                if stored is None:
                    wrong.append(f"{document.number}: not stored")
                elif stored.totals != document.totals or stored.totals != totals(stored.lines):
                    wrong.append(f"{document.number}: stored totals differ")
                elif stored != document:
                    wrong.append(f"{document.number}: stored document differs")
                elif render_html(stored) != render_html(document):
                    wrong.append(f"{document.number}: the stored one renders differently")
        return wrong
    finally:
        await engine.dispose()


@pytest.fixture
async def database_url(fresh_database: Callable[[str], Awaitable[str]]) -> str:
    url = await fresh_database("invoice_agreement")
    await asyncio.to_thread(upgrade, MIGRATIONS, url)
    return url


async def test_document_csv_event_and_storage_agree_to_the_cent(database_url: str) -> None:
    issued: list[Invoice] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(cases)
    def agree(case: Case) -> None:
        invoice, credit = documents(case, 2 * len(issued) + 1)
        assert check(invoice, credit) == []
        issued.extend((invoice, credit))

    agree()
    assert len(issued) >= 2 * EXAMPLES * 0.95, len(issued)
    assert {d.document_kind for d in issued} == {"invoice", "credit_note"}
    assert {d.invoice_kind for d in issued} == {"cotisation", "mission"}
    assert await stored_disagreements(database_url, issued) == []
    kinds = Counter(f"{d.document_kind}/{d.invoice_kind}" for d in issued)
    print(f"\ninvoice agreement: {len(issued)} documents agree, {dict(sorted(kinds.items()))}")


async def test_an_altered_figure_is_detected(database_url: str) -> None:
    shipped = load_shipped("49", YEAR)
    assert shipped is not None
    case = Case(
        tariff=shipped,
        what="mission",
        population=0,
        days=Decimal("2.5"),
        actor_kind="caue",
        member=True,
        name="Angers",
    )
    invoice, credit = documents(case, 1)
    assert check(invoice, credit) == []
    cent = Decimal("0.01")
    off = dataclasses.replace(
        invoice, totals=dataclasses.replace(invoice.totals, incl_tax=invoice.totals.incl_tax + cent)
    )
    # Stored with a total one cent off: reading it back tells.
    assert await stored_disagreements(database_url, [off]) == [
        f"{invoice.number}: stored totals differ"
    ]
    exported = csv_figures(render_csv([invoice], {}))[invoice.number]
    published = invoice.event().model_dump_json().encode()
    # The document, the CSV or the event one cent off.
    assert disagreements(invoice, render_html(off), exported, published, None)
    assert disagreements(off, render_html(invoice), exported, published, None)
    raised = json.loads(published) | {"total_vat": str(invoice.totals.vat + cent)}
    assert disagreements(invoice, render_html(invoice), exported, json.dumps(raised).encode(), None)
    assert disagreements(invoice, render_html(invoice), exported, published, None) == []
