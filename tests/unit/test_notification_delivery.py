"""What keeps a message from going twice or in vain: its stable id, the recipient's
preferences, and the retry policy."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from services.notifications.domain.delivery import (
    DeliveryFailed,
    GiveUp,
    Retry,
    RetryPolicy,
    after_failure,
    http_failure,
    smtp_failure,
)
from services.notifications.domain.model import (
    Channel,
    DeliveryStatus,
    Digest,
    Kind,
    PreferenceError,
    Preferences,
    notification_id,
    preferences,
)
from tests.unit.notification_events import (
    NOW,
)

# --- never twice ------------------------------------------------------------------------


def test_notification_id_is_stable_and_distinct_per_recipient_and_channel() -> None:
    event = str(uuid.uuid4())
    first = notification_id(event, "actor:caue49", Channel.EMAIL)
    assert first == notification_id(event, "actor:caue49", Channel.EMAIL)
    assert first.version == 5
    assert (
        len(
            {
                first,
                notification_id(event, "actor:atd49", Channel.EMAIL),
                notification_id(event, "actor:caue49", Channel.WEBHOOK),
                notification_id(str(uuid.uuid4()), "actor:caue49", Channel.EMAIL),
            }
        )
        == 4
    )


# --- preferences ------------------------------------------------------------------------


def test_opting_out_and_digest_apply_to_non_essential_messages_only() -> None:
    chosen = preferences([Kind.DEMANDE_RECUE], Digest.DAILY)
    assert chosen.status_for(Kind.DEMANDE_RECUE) == (DeliveryStatus.SKIPPED, "opted_out")
    assert chosen.status_for(Kind.ACTEUR_PROPOSE) == (DeliveryStatus.HELD, None)
    assert chosen.status_for(Kind.FACTURE_EMISE) == (DeliveryStatus.PENDING, None)
    assert chosen.status_for(Kind.NOUVELLE_PROPOSITION) == (DeliveryStatus.PENDING, None)
    assert Preferences().status_for(Kind.DEMANDE_RECUE) == (DeliveryStatus.PENDING, None)


def test_nobody_opts_out_of_an_essential_message() -> None:
    with pytest.raises(PreferenceError, match="« Facture émise »"):
        preferences([Kind.FACTURE_EMISE, Kind.DEMANDE_RECUE], Digest.NONE)


# --- retries ----------------------------------------------------------------------------


def test_backoff_is_exponential_capped_and_jittered_within_bounds() -> None:
    policy = RetryPolicy(max_attempts=8, base_seconds=30, max_seconds=600, jitter=0.5)
    assert [policy.delay(n, 0.0) for n in range(1, 7)] == [30, 60, 120, 240, 480, 600]
    assert [policy.delay(n, 0.999999) for n in (1, 2)] == pytest.approx([15, 30], rel=1e-5)
    assert policy.lowest_delay(3) == 60


def test_retry_until_the_last_attempt_then_dead_letter() -> None:
    policy = RetryPolicy(max_attempts=3, base_seconds=1, jitter=0)
    timeout = DeliveryFailed("timeout")
    assert after_failure(policy, 1, timeout, NOW, 0.5) == Retry(NOW + timedelta(seconds=1))
    assert after_failure(policy, 2, timeout, NOW, 0.5) == Retry(NOW + timedelta(seconds=2))
    assert after_failure(policy, 3, timeout, NOW, 0.5) == GiveUp("timeout")


def test_a_permanent_failure_is_dead_lettered_at_once() -> None:
    refused = smtp_failure(550, "Mailbox unavailable")
    assert refused.permanent
    assert after_failure(RetryPolicy(), 1, refused, NOW, 0.5) == GiveUp("smtp_550")
    assert not smtp_failure(451, "later").permanent


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, None),
        (204, None),
        (500, "retry"),
        (503, "retry"),
        (429, "retry"),
        (408, "retry"),
        (301, "final"),
        (400, "final"),
        (401, "final"),
        (410, "final"),
    ],
)
def test_http_answers(status: int, outcome: str | None) -> None:
    failure = http_failure(status)
    if outcome is None:
        assert failure is None
    else:
        assert failure is not None and failure.reason == f"http_{status}"
        assert failure.permanent is (outcome == "final")
