"""Does a new demande look like an open one of the same collectivité?

Pure. Same phase, same themes (as a set), and titles whose normalised words overlap
enough (Jaccard index of their tokens: accents, case, punctuation and short words
aside). A suspicion, not a refusal: the demande is stored, flagged, and the département's
team decides (ADR 0015).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from services.requests.domain.model import FINAL_STATUSES, Demande, RequestStatus

SIMILARITY_THRESHOLD = 0.5
_WORD = re.compile(r"[a-z0-9]+")
# Words that say nothing of the project itself.
_STOP = frozenset(
    {"les", "des", "une", "aux", "pour", "dans", "sur", "par", "avec", "sans", "son", "ses"}
    | {"leur", "leurs", "est", "projet", "commune", "communale", "communal"}
)


def tokens(title: str) -> frozenset[str]:
    plain = unicodedata.normalize("NFKD", title.lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return frozenset(w for w in _WORD.findall(plain) if len(w) > 2 and w not in _STOP)


def similarity(a: str, b: str) -> float:
    ta, tb = tokens(a), tokens(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


@dataclass(frozen=True, slots=True)
class Candidate:
    demande: Demande
    similarity: float


def is_open(demande: Demande) -> bool:
    return demande.status not in FINAL_STATUSES and demande.status is not RequestStatus.UNMATCHED


def suspected_duplicates(new: Demande, others: list[Demande]) -> list[Candidate]:
    """The open demandes of the same collectivité that ``new`` looks like, closest first."""
    found = []
    for other in others:
        if other.id == new.id or not is_open(other):
            continue
        if other.requester_code != new.requester_code or other.departement != new.departement:
            continue
        if other.phase is not new.phase or set(other.themes) != set(new.themes):
            continue
        score = similarity(new.title, other.title)
        if score >= SIMILARITY_THRESHOLD:
            found.append(Candidate(other, round(score, 3)))
    found.sort(key=lambda c: (-c.similarity, c.demande.submitted_at))
    return found
