"""A DNS of the test's own for the webhook guard (``shared.http.ssrf.Resolver``): names
answer what the test says, and can change their answer (DNS rebinding). Nothing is asked
of a real resolver, so no test reaches beyond 127.0.0.0/8."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FakeResolver:
    answers: dict[str, list[str]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        try:
            return list(self.answers[host])
        except KeyError:
            raise OSError(f"{host}: no such name (fake resolver)") from None
