"""What the billing use cases need of storage, as ports: one repository per aggregate and
the unit of work holding them with the outbox. The SQL adapters
(``services.billing.adapters``) and the tests' in-memory fakes both satisfy them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from services.billing.domain.adhesion import Adhesion
from services.billing.domain.buyers import BuyerAccount
from services.billing.domain.convention import Convention, ConventionFilter, UnbilledCompletion
from services.billing.domain.identities import Buyer, References, Seller
from services.billing.domain.invoice import Invoice, InvoiceFilter
from shared.messaging.ports import UnitOfWork as BaseUnitOfWork


class TariffRepository(Protocol):
    async def latest(self, departement: str, year: int) -> tuple[int, dict[str, Any]] | None:
        """The latest version of a département's tariff for a year, and its document."""
        ...

    async def lock(self, departement: str, year: int) -> None:
        """Versions of one tariff are read-then-added one transaction at a time."""
        ...

    async def add_version(
        self, departement: str, year: int, document: dict[str, Any], by: str, now: datetime
    ) -> int:
        """Store the next version of the tariff; its number."""
        ...


class AdhesionRepository(Protocol):
    async def add(self, rows: list[Adhesion]) -> list[Adhesion]:
        """Store the adhésions that do not exist yet (one per collectivité and year);
        returns those stored."""
        ...

    async def get(self, adhesion_id: UUID, *, lock: bool = False) -> Adhesion | None: ...

    async def of(self, year: int, collectivite_code: str) -> Adhesion | None: ...

    async def save_status(self, adhesion: Adhesion) -> None: ...

    async def search(
        self, departement: str | None, year: int | None, limit: int, offset: int
    ) -> tuple[list[Adhesion], int]: ...

    async def members_to_invoice(
        self, departement: str, year: int, after_code: str, limit: int
    ) -> list[Adhesion]:
        """Active members of a year with no cotisation invoice yet, in code order."""
        ...

    async def count_members(self, departements: list[str] | None, year: int) -> int: ...

    async def member_departements(self, year: int) -> list[str]: ...


class InvoiceRepository(Protocol):
    async def lock_numbering(self, departement: str, year: int) -> int:
        """Lock the numbering of a département and year until commit; the last number."""
        ...

    async def take_numbers(self, departement: str, year: int, count: int) -> tuple[range, datetime]:
        """Reserve ``count`` consecutive numbers until commit, and the time of issue."""
        ...

    async def add(self, documents: list[Invoice]) -> None: ...

    async def get(self, invoice_id: UUID) -> Invoice | None: ...

    async def by_source(self, source_key: str) -> Invoice | None: ...

    async def search(
        self, criteria: InvoiceFilter, *, limit: int | None, offset: int
    ) -> list[Invoice]:
        """In number order per département and year; ``limit`` None: all."""
        ...


class ConventionRepository(Protocol):
    async def take_numbers(self, departement: str, year: int, count: int) -> tuple[range, datetime]:
        """Reserve ``count`` consecutive convention numbers until commit (the invoices'
        gapless mechanism, its own series), and the time."""
        ...

    async def add(self, convention: Convention, now: datetime) -> None: ...

    async def save(self, convention: Convention, now: datetime) -> None:
        """Store a version's new state (status, dates, signature)."""
        ...

    async def get(self, convention_id: UUID, *, lock: bool = False) -> Convention | None: ...

    async def versions(self, demande_id: UUID) -> list[Convention]:
        """Every version of the demande's convention, in version order."""
        ...

    async def of_assignment(self, assignment_id: UUID) -> list[Convention]:
        """Every version of the assignment's convention, in version order."""
        ...

    async def due_for_expiry(self, now: datetime, limit: int) -> list[Convention]:
        """Unsigned versions past their validity, locked for the caller."""
        ...

    async def search(
        self, criteria: ConventionFilter, *, limit: int, offset: int
    ) -> list[Convention]: ...

    async def record_unbilled(self, completion: UnbilledCompletion) -> None:
        """Keep a completion no invoice follows (once per assignment)."""
        ...

    async def unbilled(
        self, departement: str | None, limit: int, offset: int
    ) -> list[UnbilledCompletion]: ...


class BuyerRepository(Protocol):
    async def get(
        self, departement: str, collectivite_code: str, *, lock: bool = False
    ) -> BuyerAccount | None: ...

    async def of_collectivites(self, departement: str, codes: list[str]) -> list[BuyerAccount]:
        """The accounts of these collectivités in the département (those that exist)."""
        ...

    async def save(self, account: BuyerAccount) -> None:
        """Store the account, created or changed (one per département and collectivité)."""
        ...

    async def search(
        self, departement: str | None, *, limit: int | None, offset: int
    ) -> list[BuyerAccount]:
        """By département then collectivité code; ``limit`` None: all."""
        ...

    async def with_siret(self, sirets: list[str]) -> list[BuyerAccount]:
        """The accounts invoicing one of ``sirets``, locked for the caller."""
        ...


class CotisationRunRepository(Protocol):
    async def start(
        self, run_id: UUID, year: int, departements: list[str], members: int, now: datetime
    ) -> None: ...

    async def advance(self, run_id: UUID, issued: int, amount: Decimal, now: datetime) -> None: ...

    async def finish(
        self, run_id: UUID, status: str, already: int, error: str | None, now: datetime
    ) -> None: ...

    async def interrupt_stale(self, older_than: datetime, now: datetime) -> int:
        """Runs that stopped advancing (their process died) are marked interrupted."""
        ...

    async def get(self, run_id: UUID) -> dict[str, Any] | None: ...


PdfPrinter = Callable[[str], bytes]
"""Prints a document's HTML to PDF (blocking: run it in a thread)."""


class UnitOfWork(BaseUnitOfWork, Protocol):
    """The billing service's transaction: its repositories and the outbox, all or nothing."""

    @property
    def tariffs(self) -> TariffRepository: ...

    @property
    def adhesions(self) -> AdhesionRepository: ...

    @property
    def invoices(self) -> InvoiceRepository: ...

    @property
    def runs(self) -> CotisationRunRepository: ...

    @property
    def conventions(self) -> ConventionRepository: ...

    @property
    def buyers(self) -> BuyerRepository: ...


class FacturXRenderer(Protocol):
    """Writes an invoice as Factur-X (PDF/A-3 with the CII XML) or as the CII XML alone;
    both refuse, with a :class:`shared.errors.DomainValidationError`, what cannot be sent."""

    def pdf(
        self, invoice: Invoice, seller: Seller, buyer: Buyer, references: References
    ) -> bytes: ...

    def xml(
        self, invoice: Invoice, seller: Seller, buyer: Buyer, references: References
    ) -> bytes: ...
