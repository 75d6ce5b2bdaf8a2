"""What every event payload has in common."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class EventPayload(BaseModel):
    """The JSON body of an event. Its ``ce_type`` and topic are class attributes.

    Consumers ignore fields they do not know, so that producers can add optional
    fields without breaking anybody (see ``docs/adr`` on schema evolution).
    """

    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=False)

    event_type: ClassVar[str]
    topic: ClassVar[str]
    # Who may write the topic: one writer per topic.
    producer: ClassVar[str]
    summary: ClassVar[str] = ""
