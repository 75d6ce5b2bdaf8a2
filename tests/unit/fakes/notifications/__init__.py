"""In-memory stand-ins for the notifications service's adapters: its repositories over
one set of tables that outlives each unit of work (as the database does), and senders
whose outcomes a test scripts.

One module per aggregate: ``tables`` (the rows), ``demandes``, ``contacts``,
``subscriptions``, ``deliveries``, ``les_communs``; the unit of work and the sender are here."""

from __future__ import annotations

from collections.abc import Iterable

from services.notifications.domain.delivery import DeliveryFailed
from services.notifications.domain.model import Delivery
from tests.unit.fakes import FakeUnitOfWorkBase
from tests.unit.fakes.notifications.contacts import (
    FakeContactRepository,
    FakePreferenceRepository,
)
from tests.unit.fakes.notifications.convention_reminders import FakeConventionReminderRepository
from tests.unit.fakes.notifications.deliveries import (
    FakeDeliveryRepository,
    FakeDigestRepository,
)
from tests.unit.fakes.notifications.demandes import FakeDemandeRepository
from tests.unit.fakes.notifications.les_communs import FakeLesCommunsRepository
from tests.unit.fakes.notifications.subscriptions import FakeSubscriptionRepository
from tests.unit.fakes.notifications.tables import DeliveryRow, Tables

__all__ = ["DeliveryRow", "FakeSender", "FakeUnitOfWork", "Tables"]


class FakeUnitOfWork(FakeUnitOfWorkBase):
    """A transaction over ``committed``: the repositories work on a copy of it, which a
    commit makes the committed state and a rollback drops. Units of work made on the same
    :class:`Tables` see each other's commits, as on one database."""

    def __init__(self, committed: Tables | None = None) -> None:
        super().__init__("notifications")
        self.committed = committed if committed is not None else Tables()
        self.tables = Tables()
        self.tables.load(self.committed)
        self.demandes = FakeDemandeRepository(self.tables)
        self.contacts = FakeContactRepository(self.tables)
        self.preferences = FakePreferenceRepository(self.tables)
        self.subscriptions = FakeSubscriptionRepository(self.tables)
        self.deliveries = FakeDeliveryRepository(self.tables)
        self.digests = FakeDigestRepository(self.tables)
        self.convention_reminders = FakeConventionReminderRepository(self.tables)
        self.les_communs = FakeLesCommunsRepository(self.tables)

    async def __aenter__(self) -> FakeUnitOfWork:
        self.tables.load(self.committed)
        return self

    def _commit_repositories(self) -> None:
        self.committed.load(self.tables)

    def _rollback_repositories(self) -> None:
        self.tables.load(self.committed)


class FakeSender:
    """A channel whose outcomes the test scripts: each send takes the next failure of
    ``failures`` (None: success) and is recorded in ``sent`` when it succeeds."""

    def __init__(self, failures: Iterable[DeliveryFailed | None] = ()) -> None:
        self.failures = list(failures)
        self.attempts: list[Delivery] = []
        self.sent: list[Delivery] = []
        self.closed = False

    async def send(self, delivery: Delivery) -> None:
        self.attempts.append(delivery)
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        self.sent.append(delivery)

    async def aclose(self) -> None:
        self.closed = True
