"""What a run of flows over a stack is, for the benchmark and the drills alike: a tap that
expects each new flow, the demandes, the sort of our invoices, and the warm-up."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any

from stack.harness.flows import Demandes, EventTap, Flow, InvoiceOwners, warm_up


class FlowRun(ABC):
    def __init__(self, tap: EventTap, demandes: Demandes) -> None:
        self.tap = tap
        self.demandes = demandes
        self.invoices = InvoiceOwners()

    @abstractmethod
    async def post(self, flow: Flow, body: dict[str, Any], headers: dict[str, str]) -> None:
        """POST the demande of ``flow``, as this run's clients do."""

    @abstractmethod
    def through(self, flow: Flow) -> bool:
        """Whether the flow reached the end this run waits for."""

    @abstractmethod
    async def until_through(self, flows: list[Flow], *, timeout: float, stall: float) -> bool:
        """Until every flow is through; False after ``timeout``, or ``stall`` seconds
        without one more."""

    def new_flow(
        self, departement: str | None = None
    ) -> tuple[Flow, dict[str, Any], dict[str, str]]:
        flow, body, headers = self.demandes.next(departement)
        self.tap.expect(flow)
        return flow, body, headers

    async def warm_up_flows(
        self, departements: Iterable[str], settle: float, log: Callable[[str], None]
    ) -> list[Flow]:
        """One flow per département until each got through (groups read from ``latest``),
        each given ``settle`` seconds; every flow started."""

        async def start(departement: str) -> Flow:
            flow, body, headers = self.new_flow(departement)
            flow.scheduled_at = time.time()
            await self.post(flow, body, headers)
            return flow

        return await warm_up(
            departements,
            start,
            lambda flows: self.until_through(flows, timeout=settle, stall=settle),
            self.through,
            log,
        )
