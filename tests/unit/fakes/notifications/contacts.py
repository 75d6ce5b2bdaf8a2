"""The fake repositories of who is reached and how: actor and team contacts, preferences."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from services.notifications.domain.model import (
    Preferences,
    normalise_address,
)
from services.notifications.domain.views import (
    ActorContact,
    Contact,
)
from tests.unit.fakes.notifications.tables import Tables


class FakeContactRepository:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def actor(self, departement: str, actor_id: str) -> ActorContact | None:
        return self._t.actors.get((departement, actor_id))

    async def save_actor(
        self, actor_id: str, contact: ActorContact, by: str, now: datetime
    ) -> None:
        self._t.actors[(contact.departement, actor_id)] = contact

    async def team(self, departement: str) -> str | None:
        return self._t.teams.get(departement)

    async def save_team(self, departement: str, email: str, by: str, now: datetime) -> None:
        self._t.teams[departement] = email

    async def known_to(
        self,
        address: str,
        *,
        departement: str | None,
        requester_code: str | None = None,
        actor_id: str | None = None,
    ) -> bool:
        if actor_id is not None:
            found = self._t.actors.get((departement or "", actor_id))
            return found is not None and found.departement == departement and found.email == address
        demandes = [
            r.card
            for r in self._t.demandes.values()
            if r.card.departement == departement
            and r.card.contact_email.lower() == address
            and (requester_code is None or r.card.requester_code == requester_code)
        ]
        if requester_code is not None:
            return bool(demandes)
        return (
            bool(demandes)
            or any(
                c.departement == departement and c.email == address for c in self._t.actors.values()
            )
            or self._t.teams.get(departement or "") == address
        )


class FakePreferenceRepository:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def of(self, departement: str, addresses: Iterable[str]) -> dict[str, Preferences]:
        found = {}
        for address in addresses:
            contact = self._t.contacts.get((departement, normalise_address(address)))
            if contact is not None and contact.id in self._t.preferences:
                found[address] = self._t.preferences[contact.id]
        return found

    async def contact(self, departement: str, email: str, now: datetime) -> Contact:
        key = (departement, normalise_address(email))
        if key not in self._t.contacts:
            self._t.contacts[key] = Contact(uuid.uuid4(), departement, key[1])
        return self._t.contacts[key]

    async def get(self, contact_id: UUID) -> tuple[Contact, Preferences] | None:
        for contact in self._t.contacts.values():
            if contact.id == contact_id:
                return contact, self._t.preferences.get(contact_id, Preferences())
        return None

    async def save(self, contact_id: UUID, chosen: Preferences, by: str, now: datetime) -> None:
        self._t.preferences[contact_id] = chosen
