"""Events written by the notifications service: the outcome of every delivery.

They carry no address: who was told is named by role (and, for a webhook, by its
subscription), since personal data stays in the service that needs it.
"""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventPayload
from shared.contracts.topics import NOTIFICATIONS_DELIVERY


class _DeliveryEvent(EventPayload):
    topic: ClassVar[str] = NOTIFICATIONS_DELIVERY.name
    producer: ClassVar[str] = NOTIFICATIONS_DELIVERY.writer

    notification_id: UUID = Field(
        description="uuid5 of (source event, recipient, channel): the same on every attempt."
    )
    departement: str
    channel: Literal["email", "webhook"]
    kind: str = Field(description="The message: demande_recue, nouvelle_proposition, webhook…")
    recipient_role: Literal["requester", "actor", "team", "subscriber"]
    subscription_id: UUID | None = Field(default=None, description="For a webhook delivery.")
    source_event_id: str = Field(
        description="ce_id of the event that caused it, or the id of a reminder or digest."
    )
    source_event_type: str
    attempts: int = Field(ge=1)


class DeliverySent(_DeliveryEvent):
    event_type: ClassVar[str] = "notifications.delivery.sent.v1"
    summary: ClassVar[str] = "A message was accepted by the mail server or the webhook endpoint."

    sent_at: AwareDatetime


class DeliveryDeadLettered(_DeliveryEvent):
    event_type: ClassVar[str] = "notifications.delivery.dead_lettered.v1"
    summary: ClassVar[str] = (
        "A message could not be delivered after its last attempt; the département team is told."
    )

    reason: str = Field(description="timeout, http_500, smtp_550, connection_error…")
    error: str | None = Field(default=None, description="The last error, shortened.")
    dead_lettered_at: AwareDatetime
