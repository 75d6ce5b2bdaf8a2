"""The notifications service's unit of work: its state, outbox and inbox in one transaction."""

from __future__ import annotations

from shared.db.unit_of_work import SqlUnitOfWork


class NotificationsUnitOfWork(SqlUnitOfWork):
    pass
