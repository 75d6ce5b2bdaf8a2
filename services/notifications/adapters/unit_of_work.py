"""The notifications service's unit of work: its state, outbox and inbox in one
transaction.

Committing one that made a delivery due now calls ``on_deliveries`` (the dispatcher's
``wake``), as committing one that wrote to the outbox wakes the relay: the consumer,
the HTTP routes and the jobs alike get their messages sent at once, without having to
remember to.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications.adapters.contacts import SqlContactRepository, SqlPreferenceRepository
from services.notifications.adapters.convention_reminders import SqlConventionReminderRepository
from services.notifications.adapters.deliveries import SqlDeliveryRepository
from services.notifications.adapters.demandes import SqlDemandeRepository
from services.notifications.adapters.digests import SqlDigestRepository
from services.notifications.adapters.les_communs_projects import SqlLesCommunsRepository
from services.notifications.adapters.orm import integration_processed_events
from services.notifications.adapters.subscriptions import SqlSubscriptionRepository
from shared.db.unit_of_work import SqlUnitOfWork
from shared.secret_box import SecretBox


class NotificationsUnitOfWork(SqlUnitOfWork):
    demandes: SqlDemandeRepository
    contacts: SqlContactRepository
    preferences: SqlPreferenceRepository
    subscriptions: SqlSubscriptionRepository
    deliveries: SqlDeliveryRepository
    digests: SqlDigestRepository
    convention_reminders: SqlConventionReminderRepository
    les_communs: SqlLesCommunsRepository

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        source: str,
        after_commit: Callable[[], None] | None = None,
        *,
        on_deliveries: Callable[[], None] | None = None,
        secret_box: SecretBox,
    ) -> None:
        super().__init__(session_factory, source, after_commit)
        self._on_deliveries = on_deliveries
        self._secret_box = secret_box

    def _open_repositories(self, session: AsyncSession) -> None:
        self.demandes = SqlDemandeRepository(session)
        self.contacts = SqlContactRepository(session)
        self.preferences = SqlPreferenceRepository(session)
        self.subscriptions = SqlSubscriptionRepository(session, self._secret_box)
        self.deliveries = SqlDeliveryRepository(session)
        self.digests = SqlDigestRepository(session)
        self.convention_reminders = SqlConventionReminderRepository(session)
        self.les_communs = SqlLesCommunsRepository(session)

    async def commit(self) -> None:
        await super().commit()
        if self.deliveries.made_due:
            self.deliveries.made_due = False
            if self._on_deliveries is not None:
                self._on_deliveries()

    async def rollback(self) -> None:
        await super().rollback()
        self.deliveries.made_due = False


class ProjectionUnitOfWork(SqlUnitOfWork):
    """The transaction of the projection to the integration topics: its inbox (a table of
    its own: it sees the events that the service's consumers see) and the outbox."""

    inbox_table = integration_processed_events
