"""Use cases of the documentation sheets: publish, revise, read, and search the library
(sheets and published experiences)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from services.resources.domain.sheets import SearchHit, SearchQuery, Sheet, check_sheet
from services.resources.service_layer.ports import UnitOfWork
from shared.auth.tokens import Principal, Role
from shared.contracts.resources import SheetKind, SheetPublished, SheetRevised
from shared.contracts.vocabulary import Phase, Theme
from shared.errors import Conflict, DomainValidationError, FieldError, Forbidden, NotFound


@dataclass(frozen=True, slots=True)
class SheetDraft:
    title: str
    summary: str
    body: str
    kind: SheetKind
    themes: list[Theme]
    phases: list[Phase]
    links: list[str]
    review_on: date
    national: bool = False
    author_actor_id: str | None = None
    # Only an administrator names it; a team writes for its own département.
    departement: str | None = None


def writer_departement(principal: Principal, wanted: str | None) -> str:
    """The département a sheet written by ``principal`` belongs to: a département's team
    writes for its own; an administrator for the one it names."""
    if principal.role is Role.ADMIN:
        if wanted is None:
            raise DomainValidationError(
                [FieldError("departement", "Indiquez le département propriétaire de la fiche.")]
            )
        return wanted
    if principal.role is not Role.DEPARTEMENT or principal.departement is None:
        raise Forbidden("Seule l'équipe d'un département rédige les fiches.")
    if wanted is not None and wanted != principal.departement:
        raise Forbidden("Vous ne rédigez que les fiches de votre département.")
    return principal.departement


def _snapshot(
    sheet: Sheet, event: type[SheetPublished | SheetRevised]
) -> SheetPublished | SheetRevised:
    return event(
        sheet_id=sheet.id,
        departement=sheet.departement,
        national=sheet.national,
        title=sheet.title,
        abstract=sheet.summary,
        kind=sheet.kind,
        themes=sheet.themes,
        phases=sheet.phases,
        author_actor_id=sheet.author_actor_id,
        review_on=sheet.review_on,
        version=sheet.version,
        changed_at=sheet.updated_at,
    )


async def publish_sheet(
    uow: UnitOfWork, principal: Principal, sheet_id: UUID, draft: SheetDraft, now: datetime
) -> Sheet:
    departement = writer_departement(principal, draft.departement)
    check_sheet(
        title=draft.title,
        summary=draft.summary,
        body=draft.body,
        themes=draft.themes,
        links=draft.links,
    )
    sheet = Sheet(
        id=sheet_id,
        departement=departement,
        national=draft.national,
        title=draft.title.strip(),
        summary=draft.summary.strip(),
        body=draft.body,
        kind=draft.kind,
        themes=list(dict.fromkeys(draft.themes)),
        phases=list(dict.fromkeys(draft.phases)),
        links=draft.links,
        author_actor_id=draft.author_actor_id,
        review_on=draft.review_on,
        version=1,
        created_at=now,
        updated_at=now,
    )
    if not await uow.sheets.add(sheet):
        raise Conflict("Une fiche porte déjà cet identifiant.")
    await uow.outbox.add(_snapshot(sheet, SheetPublished), departement=departement)
    await uow.commit()
    return sheet


async def revise_sheet(
    uow: UnitOfWork, principal: Principal, sheet_id: UUID, draft: SheetDraft, now: datetime
) -> Sheet:
    sheet = await uow.sheets.get(sheet_id, for_update=True)
    if sheet is None:
        raise NotFound("Fiche introuvable.")
    if writer_departement(principal, draft.departement or sheet.departement) != (sheet.departement):
        raise Forbidden("Cette fiche appartient à un autre département.")
    check_sheet(
        title=draft.title,
        summary=draft.summary,
        body=draft.body,
        themes=draft.themes,
        links=draft.links,
    )
    sheet.title = draft.title.strip()
    sheet.summary = draft.summary.strip()
    sheet.body = draft.body
    sheet.kind = draft.kind
    sheet.themes = list(dict.fromkeys(draft.themes))
    sheet.phases = list(dict.fromkeys(draft.phases))
    sheet.links = draft.links
    sheet.national = draft.national
    sheet.author_actor_id = draft.author_actor_id
    sheet.review_on = draft.review_on
    sheet.version += 1
    sheet.updated_at = now
    await uow.sheets.save(sheet)
    await uow.outbox.add(_snapshot(sheet, SheetRevised), departement=sheet.departement)
    await uow.commit()
    return sheet


async def read_sheet(uow: UnitOfWork, principal: Principal, sheet_id: UUID) -> Sheet:
    """Every signed-in reader reads national sheets and those of its département."""
    sheet = await uow.sheets.get(sheet_id)
    if sheet is None:
        raise NotFound("Fiche introuvable.")
    hidden = not sheet.national and principal.departement != sheet.departement
    if hidden and principal.role is not Role.ADMIN:
        raise NotFound("Fiche introuvable.")
    return sheet


async def search(
    uow: UnitOfWork, principal: Principal, query: SearchQuery, *, limit: int, offset: int
) -> tuple[list[SearchHit], int]:
    """A reader searches its département's library and the national one; an administrator
    any département's, or all of them."""
    if principal.role is not Role.ADMIN:
        if query.departement is not None and query.departement != principal.departement:
            raise Forbidden("Vous consultez la documentation de votre département.")
        if principal.departement is None:
            raise Forbidden("Votre accès ne relève d'aucun département.")
        query = SearchQuery(
            text=query.text,
            departement=principal.departement,
            theme=query.theme,
            phase=query.phase,
            kind=query.kind,
            commune_size=query.commune_size,
            include=query.include,
        )
    return await uow.search_index.search(query, limit=limit, offset=offset)
