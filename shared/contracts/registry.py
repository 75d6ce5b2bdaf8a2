"""Every event type of the product, by its ``ce_type``."""

from __future__ import annotations

from shared.contracts.base import EventPayload
from shared.contracts.matching import (
    ActorRegistered,
    ActorUpdated,
    AssignmentAccepted,
    AssignmentCancelled,
    AssignmentCompleted,
    AssignmentDeclined,
    AssignmentExpired,
    AssignmentProposed,
    RequestUnmatched,
)
from shared.contracts.requests import RequestSubmitted, RequestWithdrawn, SubmitRequestCommand

EVENT_MODELS: tuple[type[EventPayload], ...] = (
    RequestSubmitted,
    RequestWithdrawn,
    SubmitRequestCommand,
    ActorRegistered,
    ActorUpdated,
    AssignmentProposed,
    AssignmentAccepted,
    AssignmentDeclined,
    AssignmentExpired,
    AssignmentCompleted,
    AssignmentCancelled,
    RequestUnmatched,
)

BY_TYPE: dict[str, type[EventPayload]] = {m.event_type: m for m in EVENT_MODELS}
