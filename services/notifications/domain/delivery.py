"""What happens after an attempt: sent, retried later, or dead-lettered. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


class DeliveryFailed(Exception):
    """An attempt that did not deliver. ``permanent``: trying again cannot help."""

    def __init__(self, reason: str, detail: str = "", *, permanent: bool = False) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 30.0
    max_seconds: float = 3600.0
    # The share of each delay drawn at random, so that the retries of many deliveries
    # that failed together (an endpoint back up) do not all come back at once.
    jitter: float = 0.5

    def delay(self, attempt: int, draw: float) -> float:
        """Delay after failed attempt number ``attempt`` (1, 2, …); ``draw`` in [0, 1).

        Exponential (base × 2^(attempt-1), capped), minus up to ``jitter`` of it.
        """
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** (attempt - 1))
        return ceiling * (1 - self.jitter * draw)

    def lowest_delay(self, attempt: int) -> float:
        return self.delay(attempt, 1.0)


@dataclass(frozen=True, slots=True)
class Retry:
    at: datetime


@dataclass(frozen=True, slots=True)
class GiveUp:
    reason: str


def after_failure(
    policy: RetryPolicy, attempts: int, failure: DeliveryFailed, now: datetime, draw: float
) -> Retry | GiveUp:
    """``attempts`` counts the attempt that just failed."""
    if failure.permanent or attempts >= policy.max_attempts:
        return GiveUp(failure.reason)
    return Retry(now + timedelta(seconds=policy.delay(attempts, draw)))


def http_failure(status: int) -> DeliveryFailed | None:
    """None for a success. 408, 425, 429 and 5xx are worth another try; a redirect or
    another 4xx is the endpoint's answer and will not change by itself."""
    if 200 <= status < 300:
        return None
    permanent = not (status in (408, 425, 429) or status >= 500)
    return DeliveryFailed(f"http_{status}", permanent=permanent)


def smtp_failure(code: int, detail: str) -> DeliveryFailed:
    """5xx replies are final (unknown mailbox…); 4xx replies ask to come back later."""
    return DeliveryFailed(f"smtp_{code}", detail, permanent=500 <= code < 600)
