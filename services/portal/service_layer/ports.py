"""What the portal's use cases need: the services' APIs, called on someone's behalf."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Services(Protocol):
    async def call(
        self,
        service: str,
        method: str,
        path: str,
        token: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> Any: ...
