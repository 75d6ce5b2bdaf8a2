"""In-memory stand-ins for the billing service's adapters (the ports of
``services.billing.service_layer.ports``).

Each repository stages what a unit of work writes and keeps it only on commit, like the
database; the numbering hands out gapless numbers and gives them back on rollback.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from services.billing.domain.adhesion import Adhesion
from services.billing.domain.buyers import BuyerAccount
from services.billing.domain.convention import (
    UNSIGNED,
    Convention,
    ConventionFilter,
    UnbilledCompletion,
)
from services.billing.domain.invoice import Invoice, InvoiceFilter, cotisation_key
from tests.unit.fakes import FakeUnitOfWorkBase


class _Staged:
    """Rows committed and rows staged by the current unit of work."""

    def __init__(self) -> None:
        self.rows: dict[Any, Any] = {}
        self.staged: dict[Any, Any] = {}

    def find(self, key: Any) -> Any:
        return self.staged.get(key, self.rows.get(key))

    def everything(self) -> dict[Any, Any]:
        return self.rows | self.staged

    def commit(self) -> None:
        self.rows.update(self.staged)
        self.staged.clear()

    def rollback(self) -> None:
        self.staged.clear()


class FakeTariffRepository(_Staged):
    """Keys are (departement, year, version), values the documents."""

    async def latest(self, departement: str, year: int) -> tuple[int, dict[str, Any]] | None:
        versions = [v for (d, y, v) in self.everything() if (d, y) == (departement, year)]
        if not versions:
            return None
        version = max(versions)
        return version, copy.deepcopy(self.find((departement, year, version)))

    async def lock(self, departement: str, year: int) -> None:
        """One process, one event loop: nothing to lock."""

    async def add_version(
        self, departement: str, year: int, document: dict[str, Any], by: str, now: datetime
    ) -> int:
        current = await self.latest(departement, year)
        version = 1 if current is None else current[0] + 1
        self.staged[(departement, year, version)] = document | {"version": version}
        return version


class FakeAdhesionRepository(_Staged):
    def __init__(self, invoices: FakeInvoiceRepository) -> None:
        super().__init__()
        self._invoices = invoices

    async def add(self, rows: list[Adhesion]) -> list[Adhesion]:
        taken = {(a.year, a.collectivite_code) for a in self.everything().values()}
        added = []
        for adhesion in rows:
            if (adhesion.year, adhesion.collectivite_code) not in taken:
                taken.add((adhesion.year, adhesion.collectivite_code))
                self.staged[adhesion.id] = replace(adhesion)
                added.append(adhesion)
        return added

    async def get(self, adhesion_id: UUID, *, lock: bool = False) -> Adhesion | None:
        found = self.find(adhesion_id)
        return replace(found) if found else None

    async def of(self, year: int, collectivite_code: str) -> Adhesion | None:
        for adhesion in self.everything().values():
            if (adhesion.year, adhesion.collectivite_code) == (year, collectivite_code):
                return replace(adhesion)  # type: ignore[no-any-return]
        return None

    async def save_status(self, adhesion: Adhesion) -> None:
        self.staged[adhesion.id] = replace(adhesion)

    async def search(
        self, departement: str | None, year: int | None, limit: int, offset: int
    ) -> tuple[list[Adhesion], int]:
        found = sorted(
            (
                a
                for a in self.everything().values()
                if departement in (None, a.departement) and year in (None, a.year)
            ),
            key=lambda a: (a.departement, a.collectivite_code),
        )
        return found[offset : offset + limit], len(found)

    def _members(self, departements: list[str] | None, year: int) -> list[Adhesion]:
        return [
            a
            for a in self.everything().values()
            if a.year == year and a.active and (not departements or a.departement in departements)
        ]

    async def members_to_invoice(
        self, departement: str, year: int, after_code: str, limit: int
    ) -> list[Adhesion]:
        invoiced = {i.source_key for i in self._invoices.everything().values()}
        found = sorted(
            (
                a
                for a in self._members([departement], year)
                if a.collectivite_code > after_code
                and cotisation_key(year, a.collectivite_code) not in invoiced
            ),
            key=lambda a: a.collectivite_code,
        )
        return [replace(a) for a in found[:limit]]

    async def count_members(self, departements: list[str] | None, year: int) -> int:
        return len(self._members(departements, year))

    async def member_departements(self, year: int) -> list[str]:
        return sorted({a.departement for a in self._members(None, year)})


class _Numbering:
    """Gapless numbers per département and year, given back on rollback (one series)."""

    def __init__(self) -> None:
        self.counters: dict[tuple[str, int], int] = {}
        self.staged_counters: dict[tuple[str, int], int] = {}
        self.clock = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)

    async def lock_numbering(self, departement: str, year: int) -> int:
        key = (departement, year)
        return self.staged_counters.get(key, self.counters.get(key, 0))

    async def take_numbers(self, departement: str, year: int, count: int) -> tuple[range, datetime]:
        last = await self.lock_numbering(departement, year)
        self.staged_counters[(departement, year)] = last + count
        # Issue times go up with the numbers, as the database's clock does.
        self.clock += timedelta(seconds=1)
        return range(last + 1, last + count + 1), self.clock

    def commit_numbers(self) -> None:
        self.counters.update(self.staged_counters)
        self.staged_counters.clear()


class FakeInvoiceRepository(_Staged, _Numbering):
    def __init__(self) -> None:
        _Staged.__init__(self)
        _Numbering.__init__(self)

    async def add(self, documents: list[Invoice]) -> None:
        keys = {i.source_key for i in self.everything().values()}
        for invoice in documents:
            # The database's unique constraint on the business key.
            assert invoice.source_key not in keys, f"duplicate {invoice.source_key}"
            keys.add(invoice.source_key)
            self.staged[invoice.id] = invoice

    async def get(self, invoice_id: UUID) -> Invoice | None:
        return self.find(invoice_id)  # type: ignore[no-any-return]

    async def by_source(self, source_key: str) -> Invoice | None:
        for invoice in self.everything().values():
            if invoice.source_key == source_key:
                return invoice  # type: ignore[no-any-return]
        return None

    async def search(
        self, criteria: InvoiceFilter, *, limit: int | None, offset: int
    ) -> list[Invoice]:
        found = sorted(
            (
                i
                for i in self.everything().values()
                if criteria.departement in (None, i.departement)
                and criteria.year in (None, i.year)
                and criteria.collectivite_code in (None, i.collectivite.code)
            ),
            key=lambda i: (i.departement, i.year, i.sequence),
        )
        return found[offset:] if limit is None else found[offset : offset + limit]

    def commit(self) -> None:
        super().commit()
        self.commit_numbers()

    def rollback(self) -> None:
        super().rollback()
        self.staged_counters.clear()


class FakeConventionRepository(_Staged, _Numbering):
    """Conventions by id (the invoices' numbering, its own series), and the unbilled
    completions by assignment."""

    def __init__(self) -> None:
        _Staged.__init__(self)
        _Numbering.__init__(self)
        self.unbilled_rows: dict[UUID, UnbilledCompletion] = {}

    def commit(self) -> None:
        super().commit()
        self.commit_numbers()

    def rollback(self) -> None:
        super().rollback()
        self.staged_counters.clear()

    async def add(self, convention: Convention, now: datetime) -> None:
        for c in self.everything().values():
            # The database's unique constraints: one version n per demande, one number.
            assert (c.demande_id, c.version) != (convention.demande_id, convention.version)
            assert c.number != convention.number
        self.staged[convention.id] = convention

    async def save(self, convention: Convention, now: datetime) -> None:
        self.staged[convention.id] = convention

    async def get(self, convention_id: UUID, *, lock: bool = False) -> Convention | None:
        return self.find(convention_id)  # type: ignore[no-any-return]

    def _sorted(self, keep: Any) -> list[Convention]:
        return sorted(
            (c for c in self.everything().values() if keep(c)),
            key=lambda c: (c.departement, c.year, c.sequence, c.version),
        )

    async def versions(self, demande_id: UUID) -> list[Convention]:
        return self._sorted(lambda c: c.demande_id == demande_id)

    async def of_assignment(self, assignment_id: UUID) -> list[Convention]:
        return self._sorted(lambda c: c.assignment_id == assignment_id)

    async def due_for_expiry(self, now: datetime, limit: int) -> list[Convention]:
        return self._sorted(lambda c: c.status in UNSIGNED and c.valid_until < now)[:limit]

    async def search(
        self, criteria: ConventionFilter, *, limit: int, offset: int
    ) -> list[Convention]:
        found = self._sorted(
            lambda c: (
                criteria.departement in (None, c.departement)
                and criteria.status in (None, c.status)
                and criteria.actor_id in (None, c.parties.actor_id)
                and criteria.collectivite_code in (None, c.parties.collectivite.code)
                and criteria.demande_id in (None, c.demande_id)
            )
        )
        return found[offset : offset + limit]

    async def record_unbilled(self, completion: UnbilledCompletion) -> None:
        self.unbilled_rows.setdefault(completion.assignment_id, completion)

    async def unbilled(
        self, departement: str | None, limit: int, offset: int
    ) -> list[UnbilledCompletion]:
        found = [u for u in self.unbilled_rows.values() if departement in (None, u.departement)]
        return found[offset : offset + limit]


class FakeBuyerRepository(_Staged):
    """Accounts by (departement, collectivite_code)."""

    async def get(
        self, departement: str, collectivite_code: str, *, lock: bool = False
    ) -> BuyerAccount | None:
        return self.find((departement, collectivite_code))  # type: ignore[no-any-return]

    async def of_collectivites(self, departement: str, codes: list[str]) -> list[BuyerAccount]:
        return [a for (d, c), a in self.everything().items() if d == departement and c in codes]

    async def save(self, account: BuyerAccount) -> None:
        assert account.collectivite is not None
        self.staged[(account.departement, account.collectivite.code)] = account

    async def search(
        self, departement: str | None, *, limit: int | None, offset: int
    ) -> list[BuyerAccount]:
        found = [a for k, a in sorted(self.everything().items()) if departement in (None, k[0])]
        return found[offset:] if limit is None else found[offset : offset + limit]

    async def with_siret(self, sirets: list[str]) -> list[BuyerAccount]:
        return [a for _, a in sorted(self.everything().items()) if a.siret in sirets]


class FakeCotisationRunRepository(_Staged):
    async def start(
        self, run_id: UUID, year: int, departements: list[str], members: int, now: datetime
    ) -> None:
        self.staged[run_id] = {
            "id": run_id,
            "year": year,
            "departements": departements,
            "status": "running",
            "members": members,
            "issued": 0,
            "already_invoiced": 0,
            "amount_incl_tax": Decimal("0"),
            "error": None,
            "started_at": now,
            "updated_at": now,
            "finished_at": None,
        }

    def _update(self, run_id: UUID, **changes: Any) -> None:
        self.staged[run_id] = self.find(run_id) | changes

    async def advance(self, run_id: UUID, issued: int, amount: Decimal, now: datetime) -> None:
        run = self.find(run_id)
        self._update(
            run_id,
            issued=run["issued"] + issued,
            amount_incl_tax=run["amount_incl_tax"] + amount,
            updated_at=now,
        )

    async def finish(
        self, run_id: UUID, status: str, already: int, error: str | None, now: datetime
    ) -> None:
        self._update(
            run_id,
            status=status,
            already_invoiced=already,
            error=error,
            updated_at=now,
            finished_at=now,
        )

    async def interrupt_stale(self, older_than: datetime, now: datetime) -> int:
        stale = [
            run_id
            for run_id, run in self.everything().items()
            if run["status"] == "running" and run["updated_at"] < older_than
        ]
        for run_id in stale:
            self._update(run_id, status="interrupted", error="Interrompu", finished_at=now)
        return len(stale)

    async def get(self, run_id: UUID) -> dict[str, Any] | None:
        found = self.find(run_id)
        return dict(found) if found else None


class FakeUnitOfWork(FakeUnitOfWorkBase):
    """One unit of work over repositories that may be shared with others (``of``), as
    several transactions share one database."""

    def __init__(self, shared: FakeUnitOfWork | None = None) -> None:
        super().__init__("billing")
        if shared is None:
            self.tariffs = FakeTariffRepository()
            self.invoices = FakeInvoiceRepository()
            self.adhesions = FakeAdhesionRepository(self.invoices)
            self.runs = FakeCotisationRunRepository()
            self.conventions = FakeConventionRepository()
            self.buyers = FakeBuyerRepository()
        else:
            self.tariffs = shared.tariffs
            self.invoices = shared.invoices
            self.adhesions = shared.adhesions
            self.runs = shared.runs
            self.conventions = shared.conventions
            self.buyers = shared.buyers
            self.published = shared.published

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    def _repositories(self) -> list[_Staged]:
        return [
            self.tariffs,
            self.adhesions,
            self.invoices,
            self.runs,
            self.conventions,
            self.buyers,
        ]

    def _commit_repositories(self) -> None:
        for repository in self._repositories():
            repository.commit()

    def _rollback_repositories(self) -> None:
        for repository in self._repositories():
            repository.rollback()
