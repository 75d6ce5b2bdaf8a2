"""Use cases of the adhésions: registering one, enrolling whole départements, ending one."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.billing.domain.adhesion import Adhesion, enrolled_part, new_adhesion
from services.billing.service_layer.access import ensure_team, readable_departement
from services.billing.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.errors import Conflict, Forbidden, NotFound
from shared.refdata import Territories

# Rows per insert when enrolling: a département has up to a few thousand communes.
_ENROL_CHUNK = 2000


async def register_adhesion(
    uow: UnitOfWork,
    principal: Principal,
    code: str,
    departement: str,
    year: int,
    territories: Territories,
    now: datetime,
) -> Adhesion:
    ensure_team(principal, departement)
    adhesion = new_adhesion(code, departement, year, territories, now)
    if not await uow.adhesions.add([adhesion]):
        raise Conflict(f"{adhesion.collectivite_name} est déjà adhérente pour {year}.")
    await uow.outbox.add(adhesion.registered(), departement=departement)
    await uow.commit()
    return adhesion


async def enrol(
    uow: UnitOfWork,
    year: int,
    departements: list[str],
    territories: Territories,
    now: datetime,
    share: float = 1.0,
    seed: int = 0,
) -> int:
    """Every commune and EPCI of the départements becomes a member for the year (demo,
    benchmarks, and départements whose offer includes everyone); with ``share`` < 1, that
    part of them, drawn from ``seed``."""
    wanted: list[Adhesion] = []
    for departement in departements:
        codes = [c.code_insee for c in territories.communes_of(departement)]
        codes += [
            e.siren
            for e in territories.epcis_of(departement)
            if territories.home_departement(e.siren) == departement
        ]
        wanted += [
            new_adhesion(code, departement, year, territories, now)
            for code in enrolled_part(codes, share, seed, departement)
        ]
    added = 0
    for start in range(0, len(wanted), _ENROL_CHUNK):
        chunk = await uow.adhesions.add(wanted[start : start + _ENROL_CHUNK])
        await uow.outbox.add_many([(a.registered(), a.departement) for a in chunk])
        added += len(chunk)
    await uow.commit()
    return added


async def end_adhesion(
    uow: UnitOfWork, principal: Principal, adhesion_id: UUID, reason: str | None, now: datetime
) -> Adhesion:
    adhesion = await uow.adhesions.get(adhesion_id, lock=True)
    if adhesion is None:
        raise NotFound("Adhésion introuvable.")
    ensure_team(principal, adhesion.departement)
    if not adhesion.active:
        return adhesion
    ended = adhesion.end(reason, now)
    await uow.adhesions.save_status(adhesion)
    await uow.outbox.add(ended, departement=adhesion.departement)
    await uow.commit()
    return adhesion


async def list_adhesions(
    uow: UnitOfWork,
    principal: Principal,
    departement: str | None,
    year: int | None,
    limit: int,
    offset: int,
) -> tuple[list[Adhesion], int]:
    """A page of adhésions and how many there are; for the départements' teams."""
    if principal.role is Role.COLLECTIVITE:
        raise Forbidden("Réservé à l'équipe du département.")
    return await uow.adhesions.search(
        readable_departement(principal, departement), year, limit, offset
    )
