"""Demandes as the requests use-case tests file them: a draft from Angers (the body of
``tests.support.submissions``, about energy in a public building), its submission."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID, uuid4

from services.requests.service_layer import demandes
from shared.auth.tokens import Principal, Role
from shared.contracts.requests import RequestDraft
from tests.support.submissions import demande_body

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
TEAM_49 = Principal(Role.DEPARTEMENT, "agent", "49")


def draft(**overrides: object) -> RequestDraft:
    values: dict[str, object] = {
        "themes": ["energie", "batiments_publics"],
        "estimated_budget": "450000.00",
        "wished_start": date(2027, 1, 15),
        "wished_end": date(2027, 12, 31),
    }
    return RequestDraft.model_validate(demande_body(**(values | overrides)))


def submission(
    d: RequestDraft, departement: str = "49", request_id: UUID | None = None
) -> demandes.Submission:
    return demandes.Submission(
        draft=d,
        request_id=request_id or uuid4(),
        departement=departement,
        channel="api",
        submitted_by="departement:agent",
    )
