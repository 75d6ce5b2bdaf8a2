"""Contacts and preferences: the actors' and teams' addresses managed over HTTP, and
what each recipient chose to receive."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.adapters.orm import actor_contacts, contacts, demandes, team_contacts
from services.notifications.domain.model import Digest, Kind, Preferences, normalise_address
from services.notifications.domain.views import ActorContact, Contact


class SqlContactRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def actor(self, departement: str, actor_id: str) -> ActorContact | None:
        row = (
            await self._session.execute(
                select(actor_contacts).where(
                    actor_contacts.c.departement == departement,
                    actor_contacts.c.actor_id == actor_id,
                )
            )
        ).one_or_none()
        return ActorContact(row.departement, row.email, row.name) if row else None

    async def save_actor(
        self, actor_id: str, contact: ActorContact, by: str, now: datetime
    ) -> None:
        values = {"departement": contact.departement, "email": contact.email, "name": contact.name}
        await self._session.execute(
            pg_insert(actor_contacts)
            .values(actor_id=actor_id, updated_at=now, updated_by=by, **values)
            .on_conflict_do_update(
                index_elements=[actor_contacts.c.departement, actor_contacts.c.actor_id],
                set_=values | {"updated_at": now, "updated_by": by},
            )
        )

    async def team(self, departement: str) -> str | None:
        found = await self._session.execute(
            select(team_contacts.c.email).where(team_contacts.c.departement == departement)
        )
        return found.scalar_one_or_none()

    async def save_team(self, departement: str, email: str, by: str, now: datetime) -> None:
        await self._session.execute(
            pg_insert(team_contacts)
            .values(departement=departement, email=email, updated_at=now, updated_by=by)
            .on_conflict_do_update(
                index_elements=[team_contacts.c.departement],
                set_={"email": email, "updated_at": now, "updated_by": by},
            )
        )

    async def known_to(
        self,
        address: str,
        *,
        departement: str | None,
        requester_code: str | None = None,
        actor_id: str | None = None,
    ) -> bool:
        checks = []
        if actor_id is not None:
            checks.append(
                select(actor_contacts.c.actor_id).where(
                    actor_contacts.c.actor_id == actor_id,
                    actor_contacts.c.departement == departement,
                    actor_contacts.c.email == address,
                )
            )
        elif requester_code is not None:
            checks.append(
                select(demandes.c.request_id).where(
                    demandes.c.requester_code == requester_code,
                    demandes.c.departement == departement,
                    func.lower(demandes.c.contact_email) == address,
                )
            )
        else:
            checks += [
                select(demandes.c.request_id).where(
                    demandes.c.departement == departement,
                    func.lower(demandes.c.contact_email) == address,
                ),
                select(actor_contacts.c.actor_id).where(
                    actor_contacts.c.departement == departement, actor_contacts.c.email == address
                ),
                select(team_contacts.c.departement).where(
                    team_contacts.c.departement == departement, team_contacts.c.email == address
                ),
            ]
        for check in checks:
            if (await self._session.execute(check.limit(1))).first() is not None:
                return True
        return False


def _preferences(row: Any) -> Preferences:
    return Preferences(
        opted_out=frozenset(Kind(k) for k in row.opted_out if k in Kind.__members__.values()),
        digest=Digest(row.digest),
    )


class SqlPreferenceRepository:
    """Preferences live on the contact: one per (département, address), ADR 0021."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of(self, departement: str, addresses: Iterable[str]) -> dict[str, Preferences]:
        wanted = sorted({a for a in addresses if a})
        if not wanted:
            return {}
        rows = await self._session.execute(
            select(contacts).where(
                contacts.c.departement == departement,
                contacts.c.email.in_(sorted({normalise_address(a) for a in wanted})),
            )
        )
        found = {r.email: _preferences(r) for r in rows.all()}
        return {a: found[normalise_address(a)] for a in wanted if normalise_address(a) in found}

    async def contact(self, departement: str, email: str, now: datetime) -> Contact:
        email = normalise_address(email)
        await self._session.execute(
            pg_insert(contacts)
            .values(id=uuid.uuid4(), departement=departement, email=email, created_at=now)
            .on_conflict_do_nothing(index_elements=[contacts.c.departement, contacts.c.email])
        )
        row = (
            await self._session.execute(
                select(contacts.c.id).where(
                    contacts.c.departement == departement, contacts.c.email == email
                )
            )
        ).one()
        return Contact(row.id, departement, email)

    async def get(self, contact_id: UUID) -> tuple[Contact, Preferences] | None:
        row = (
            await self._session.execute(select(contacts).where(contacts.c.id == contact_id))
        ).one_or_none()
        if row is None:
            return None
        return Contact(row.id, row.departement, row.email), _preferences(row)

    async def save(self, contact_id: UUID, chosen: Preferences, by: str, now: datetime) -> None:
        await self._session.execute(
            update(contacts)
            .where(contacts.c.id == contact_id)
            .values(
                opted_out=sorted(k.value for k in chosen.opted_out),
                digest=chosen.digest.value,
                updated_at=now,
                updated_by=by,
            )
        )
