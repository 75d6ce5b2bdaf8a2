"""The fake repository of demandes and of the proposals made on them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

from services.notifications.domain.rules import DemandeCard, RequesterContact
from services.notifications.domain.views import (
    DueProposal,
)
from tests.unit.fakes.notifications.tables import DemandeRow, ProposalRow, Tables


class FakeDemandeRepository:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def lock(self, request_id: UUID) -> None:
        """One transaction at a time here: nothing to serialise."""

    async def add(self, card: DemandeCard, submitted_at: datetime, now: datetime) -> bool:
        if card.request_id in self._t.demandes:
            return False
        self._t.demandes[card.request_id] = DemandeRow(card, "open", submitted_at, now)
        return True

    async def get(self, request_id: UUID) -> DemandeCard | None:
        row = self._t.demandes.get(request_id)
        return row.card if row else None

    async def contact(self, contact_id: UUID) -> RequesterContact | None:
        return self._t.requester_contacts.get(contact_id)

    async def record_contact(self, contact: RequesterContact) -> list[DemandeCard]:
        kept = self._t.requester_contacts.get(contact.contact_id)
        if kept is None or kept.recorded_at <= contact.recorded_at:
            self._t.requester_contacts[contact.contact_id] = contact
        filled = []
        for row in self._t.demandes.values():
            if row.card.contact_id == contact.contact_id and row.card.contact_email is None:
                row.card = replace(row.card, contact_name=contact.name, contact_email=contact.email)
                filled.append(row.card)
        return filled

    async def latest_of(self, requester_code: str, departement: str) -> DemandeCard | None:
        rows = [
            r
            for r in self._t.demandes.values()
            if r.card.requester_code == requester_code and r.card.departement == departement
        ]
        return max(rows, key=lambda r: r.submitted_at).card if rows else None

    async def record_news(self, request_id: UUID, now: datetime) -> None:
        row = self._t.demandes.get(request_id)
        if row is not None and row.last_news_at < now:
            row.last_news_at = now

    async def set_status(self, request_id: UUID, status: str) -> None:
        if request_id in self._t.demandes:
            self._t.demandes[request_id].status = status

    async def due_follow_ups(
        self, news_before: datetime, limit: int
    ) -> list[tuple[DemandeCard, datetime]]:
        due = sorted(
            (r for r in self._t.demandes.values() if r.status == "open"),
            key=lambda r: r.last_news_at,
        )
        return [(r.card, r.last_news_at) for r in due if r.last_news_at <= news_before][:limit]

    async def add_proposal(
        self, proposal: DueProposal, remind_at: datetime | None, now: datetime
    ) -> bool:
        if proposal.assignment_id in self._t.proposals:
            return False
        self._t.proposals[proposal.assignment_id] = ProposalRow(proposal, "proposed", remind_at)
        return True

    async def set_proposal_status(self, assignment_id: UUID, status: str, now: datetime) -> None:
        if assignment_id in self._t.proposals:
            self._t.proposals[assignment_id].status = status

    async def open_proposals(self, request_id: UUID) -> int:
        return sum(
            p.due.request_id == request_id and p.status in ("proposed", "accepted")
            for p in self._t.proposals.values()
        )

    async def due_reminders(self, now: datetime, limit: int) -> list[DueProposal]:
        due = [
            p
            for p in self._t.proposals.values()
            if p.status == "proposed"
            and p.reminded_at is None
            and p.remind_at is not None
            and p.remind_at <= now < p.due.respond_by
        ]
        return [p.due for p in sorted(due, key=lambda p: p.remind_at or now)][:limit]

    async def mark_reminded(self, assignment_id: UUID, now: datetime) -> None:
        self._t.proposals[assignment_id].reminded_at = now
