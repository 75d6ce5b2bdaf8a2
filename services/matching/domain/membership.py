"""Who is a member: matching's own copy of billing's adhésions, and the rule that reads it.

A requester is a member for a demande when an adhésion of the demande's département
covers the submission date: an adhésion of that (Paris) year, registered by then and not
ended by then. Whether an EPCI's adhésion also makes its member communes members is the
département's choice (``Policy.epci_adhesion_covers_communes``), no by default.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shared.contracts.vocabulary import RequesterKind
from shared.french import PARIS


@dataclass(frozen=True, slots=True)
class Membership:
    adhesion_id: UUID
    departement: str
    collectivite_code: str
    collectivite_kind: RequesterKind
    year: int
    registered_at: datetime
    ended_at: datetime | None = None

    def covers(self, departement: str, at: datetime) -> bool:
        return (
            self.departement == departement
            and self.year == at.astimezone(PARIS).year
            and self.registered_at <= at
            and (self.ended_at is None or at < self.ended_at)
        )


def membership_codes(
    requester_kind: RequesterKind,
    requester_code: str,
    epci_codes: Iterable[str],
    epci_covers_communes: bool,
) -> frozenset[str]:
    """The collectivités whose adhésion would make the requester a member."""
    if requester_kind is RequesterKind.COMMUNE and epci_covers_communes:
        return frozenset({requester_code, *epci_codes})
    return frozenset({requester_code})


def is_member(memberships: Iterable[Membership], departement: str, at: datetime) -> bool:
    """Whether one of ``memberships`` (those of the codes above) covers ``at``."""
    return any(m.covers(departement, at) for m in memberships)
