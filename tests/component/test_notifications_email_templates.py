"""Every email template renders in French, with what a user typed HTML-escaped."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from services.notifications.adapters.mailer import Templates
from services.notifications.domain import rules
from services.notifications.domain.model import Kind
from services.notifications.domain.model import Role as Recipient
from shared.contracts.matching import (
    AssignmentExpired,
    RequestUnmatched,
)
from tests.component.notification_demandes import DEP, TEAM_ADDRESS, Demande
from tests.component.test_notifications_membership_offer import offered

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def test_every_template_renders_in_french_with_html_escaped() -> None:
    templates = Templates()
    card = rules.DemandeCard(
        request_id=uuid.uuid4(),
        departement=DEP,
        requester_code="85191",
        requester_name="La Roche-sur-Yon",
        contact_name="Marie Dupont",
        contact_email="marie@example.fr",
        title="École <script>alert(1)</script>",
    )
    d = Demande()
    known = rules.Known(DEP, TEAM_ADDRESS, card, "caue@example.fr")
    contexts: dict[Kind, dict[str, Any]] = {}
    for event in (d.submitted(), d.proposed(), d.accepted(), d.completed(), d.invoice()):
        for planned in rules.plan(event, known):
            contexts[planned.kind] = planned.context | rules.demande_context(card)
    unmatched = RequestUnmatched(
        request_id=d.request_id,
        departement=DEP,
        requester_code="85191",
        uncovered_needs=[],
        reasons=[],
        summary_text="Rien.",
        unmatched_at=d.now,
    )
    contexts[Kind.DEMANDE_SANS_ACTEUR] = rules.plan(unmatched, known)[0].context
    expired = AssignmentExpired(
        assignment_id=d.assignment_id,
        request_id=d.request_id,
        departement=DEP,
        actor_id="a",
        actor_name="CAUE",
        respond_by=d.now,
        expired_at=d.now,
    )
    contexts[Kind.PROPOSITION_EXPIREE] = rules.plan(expired, known)[0].context
    contexts[Kind.RAPPEL_REPONSE] = rules.reminder(
        departement=DEP,
        request_id=d.request_id,
        actor_id="a",
        actor_name="CAUE",
        respond_by=d.now,
        actor_address="caue@example.fr",
        demande=card,
    ).context
    contexts[Kind.OU_EN_ETES_VOUS] = rules.follow_up(card, d.now).context
    contexts[Kind.LIVRAISON_EN_ECHEC] = rules.dead_letter_notice(
        departement=DEP,
        team_address=TEAM_ADDRESS,
        failed_kind=Kind.WEBHOOK,
        failed_role=Recipient.SUBSCRIBER,
        channel="webhook",
        reason="timeout",
        attempts=8,
        source_event_type="requests.request.submitted.v1",
        source_event_id=str(uuid.uuid4()),
        subscription_id=uuid.uuid4(),
    ).context
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
