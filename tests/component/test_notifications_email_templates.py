"""Every email template renders in French, with what a user typed HTML-escaped."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from typing import Any

import pytest

from services.notifications.adapters.mailer import Templates
from services.notifications.domain import rules
from services.notifications.domain.model import Kind
from shared.contracts.conventions import ConventionExpired, ConventionSent
from tests.component.notification_demandes import DEP, TEAM_ADDRESS, Demande
from tests.component.test_notifications_membership_offer import offered
from tests.support import events
from tests.unit.mission_events import deliverable_added, milestone_done, reassigned
from tests.unit.notification_events import CARD, dead_letter_notice, reminder

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def test_every_template_renders_in_french_with_html_escaped() -> None:
    templates = Templates()
    card = replace(CARD, departement=DEP, title="École <script>alert(1)</script>")
    d = Demande()
    known = rules.Known(DEP, TEAM_ADDRESS, card, "caue@example.fr")
    contexts: dict[Kind, dict[str, Any]] = {}
    for event in (d.submitted(), d.proposed(), d.accepted(), d.completed(), d.invoice()):
        for planned in rules.plan(event, known):
            contexts[planned.kind] = planned.context | rules.demande_context(card)
    unmatched = events.request_unmatched(
        request_id=d.request_id,
        departement=DEP,
        requester_code="85191",
        uncovered_needs=[],
        reasons=[],
        summary_text="Rien.",
    )
    contexts[Kind.DEMANDE_SANS_ACTEUR] = rules.plan(unmatched, known)[0].context
    for mission_event in (milestone_done(), deliverable_added(), reassigned()):
        contexts[rules.plan(mission_event, known)[0].kind] = rules.plan(mission_event, known)[
            0
        ].context
    expired = events.assignment_expired(
        assignment_id=d.assignment_id,
        request_id=d.request_id,
        departement=DEP,
        actor_id="a",
        actor_name="CAUE",
    )
    contexts[Kind.PROPOSITION_EXPIREE] = rules.plan(expired, known)[0].context
    contexts[Kind.RAPPEL_REPONSE] = reminder(
        departement=DEP, actor_address="caue@example.fr", demande=card
    ).context
    contexts[Kind.OU_EN_ETES_VOUS] = rules.follow_up(card, d.now).context
    contexts[Kind.LIVRAISON_EN_ECHEC] = dead_letter_notice(
        departement=DEP, team_address=TEAM_ADDRESS, subscription_id=uuid.uuid4()
    ).context
    convention: dict[str, Any] = {
        "number": "CONV-85-2027-000001",
        "departement": DEP,
        "demande_id": d.request_id,
        "assignment_id": d.assignment_id,
        "actor_id": "a",
        "total_excl_tax": "1234.50",
        "total_incl_tax": "1234.50",
        "valid_until": d.now,
    }
    sent = events.convention_event(ConventionSent, **convention, sent_at=d.now)
    contexts[Kind.CONVENTION_A_SIGNER] = rules.plan(sent, known)[0].context
    lapsed = events.convention_event(ConventionExpired, **convention, expired_at=d.now)
    contexts[Kind.CONVENTION_EXPIREE] = rules.plan(lapsed, known)[0].context
    contexts[Kind.RAPPEL_CONVENTION] = rules.convention_reminder(
        card, "CONV-85-2027-000001", "1234.50", d.now
    ).context
    look_alike = events.duplicate_suspected(departement=DEP, title="École <b>bis</b>")
    contexts[Kind.DOUBLON_PRESUME] = rules.plan(look_alike, known)[0].context
    contexts[Kind.RESUME_QUOTIDIEN] = {
        "date": "25 novembre 2026",
        "items": [
            {"kind": k.value, "context": contexts[k]}
            for k in (Kind.DEMANDE_RECUE, Kind.ACTEUR_PROPOSE)
        ],
    }
    contexts[Kind.OFFRE_ADHESION] = rules.plan(offered(d), known)[0].context
    assert set(contexts) == set(Kind) - {Kind.WEBHOOK}
    for kind, context in contexts.items():
        rendered = templates.render(kind, context)
        assert "\n" not in rendered.subject and rendered.subject
        assert "Message automatique" in rendered.text
        assert rendered.html.startswith('<!DOCTYPE html>\n<html lang="fr">')
        assert "<script>" not in rendered.html, kind
        assert not re.search(r"\bNone\b", rendered.text), kind
        # A line break eaten by a block tag glues two words: "« titre »pour Angers".
        assert not re.search(r"»[\w(]|[\w.]«", rendered.text), (kind, rendered.text)
        if kind in (Kind.CONVENTION_A_SIGNER, Kind.RAPPEL_CONVENTION, Kind.CONVENTION_EXPIREE):
            assert "CONV-85-2027-000001" in rendered.subject + rendered.text
            assert "1 234,50" in rendered.text.replace("\u202f", " ") or kind.name.endswith("EE")
