"""What every event payload has in common."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("Caractères de contrôle interdits.")
    return value


def _single_line(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("Caractères de contrôle ou retours à la ligne interdits.")
    return value


# Text a person typed: tabs and line breaks allowed, other control characters refused
# (PostgreSQL refuses NUL; the others only hide content).
Text = Annotated[str, AfterValidator(_no_control)]
Line = Annotated[str, AfterValidator(_single_line)]


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
    # Carries a person's data (name, email, phone): only on restricted topics, never
    # projected to a département's integration topic (ADR 0020).
    personal_data: ClassVar[bool] = False
