"""Our projects' publication to Les Communs, in memory."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.notifications.domain.les_communs import DueProject, ProjectState, PublishedProject
from tests.unit.fakes.notifications.tables import LesCommunsRow, Tables


class FakeLesCommunsRepository:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    async def follow(self, state: ProjectState, now: datetime) -> bool:
        row = self.t.les_communs.get(state.project_id)
        if row is not None and row.state.revision >= state.revision:
            return False
        if row is None:
            self.t.les_communs[state.project_id] = LesCommunsRow(state, "pending", now)
        else:
            row.state, row.status, row.attempts, row.next_attempt_at = state, "pending", 0, now
        return True

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[DueProject]:
        due = sorted(
            (r for r in self.t.les_communs.values() if r.status == "pending"),
            key=lambda r: r.next_attempt_at,
        )
        chosen = [r for r in due if r.next_attempt_at <= now][:limit]
        for row in chosen:
            row.next_attempt_at = lease_until
        return [
            DueProject(
                r.state.project_id, r.state.departement, r.state.revision, r.state.body, r.attempts
            )
            for r in chosen
        ]

    async def mark_sent(
        self, project_id: UUID, revision: int, les_communs_id: str, now: datetime
    ) -> None:
        row = self.t.les_communs[project_id]
        row.sent_revision = max(row.sent_revision, revision)
        row.status = "sent" if row.state.revision <= revision else "pending"
        row.attempts, row.next_attempt_at, row.last_error = 0, now, None
        row.les_communs_id, row.sent_at = les_communs_id, now

    async def mark_retry(self, project_id: UUID, at: datetime, error: str) -> None:
        row = self.t.les_communs[project_id]
        row.attempts, row.next_attempt_at, row.last_error = row.attempts + 1, at, error

    async def mark_dead(self, project_id: UUID, error: str, now: datetime) -> None:
        row = self.t.les_communs[project_id]
        row.status, row.attempts, row.last_error = "dead_lettered", row.attempts + 1, error

    async def listing(self, departement: str | None, limit: int) -> list[PublishedProject]:
        return [
            PublishedProject(
                project_id=r.state.project_id,
                departement=r.state.departement,
                revision=r.state.revision,
                sent_revision=r.sent_revision,
                status=r.status,
                phase=r.state.body["phase"],
                phase_status=r.state.body["phaseStatut"],
                attempts=r.attempts,
                les_communs_id=r.les_communs_id,
                last_error=r.last_error,
                sent_at=r.sent_at,
            )
            for r in self.t.les_communs.values()
            if departement is None or r.state.departement == departement
        ][:limit]
