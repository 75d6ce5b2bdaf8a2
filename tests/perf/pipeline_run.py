"""One run of the pipeline benchmark: its stack, tap and actors, the flows of every
phase, when each flow ended (invoice, or the invoice's email), and the figures of a phase:
latencies per hop, throughput, CPU, and everything done twice."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import asyncpg

from stack.harness.databases import plain_dsn
from stack.harness.flow_run import FlowRun
from stack.harness.flows import (
    STAGES,
    ActorDriver,
    Demandes,
    EventTap,
    Flow,
    InvoiceOwners,
    Sighting,
    submit,
    until_settled,
)
from stack.harness.mail_clock import MESSAGE_ID_DOMAIN
from stack.harness.measures import latency_summary
from stack.harness.stack import Stack
from tests.perf.result_file import log


class Run(FlowRun):
    """One stack, its tap, its actors, and the flows of every phase."""

    def __init__(self, stack: Stack, seed: int) -> None:
        self.stack = stack
        self.driver = ActorDriver(
            lambda: stack.client("matching"), billing=lambda: stack.client("billing")
        )
        super().__init__(
            EventTap(stack.kafka, stack.actor_ids.values(), self.driver.on_proposed),
            Demandes(stack.options.departements, seed),
        )
        self.notified = stack.options.notifications
        self.flows: list[Flow] = []
        self._billing: asyncpg.Connection | None = None
        self._message_ids: dict[str, dict[str, str]] = {}
        self.invoice_email_recipient: dict[str, str] = {}
        self.invoice_mail: dict[str, tuple[str, str]] = {}  # invoice ce_id -> (Message-ID, role)
        self._notifications: asyncpg.Connection | None = None

    async def close(self) -> None:
        await self.driver.drain()
        await self.tap.stop()
        for conn in (self._billing, self._notifications):
            if conn is not None:
                await conn.close()

    # --- a flow's end ------------------------------------------------------------------------
    async def classify_invoices(self) -> None:
        await self.invoices.classify(self.tap.flows.values(), self._our_invoices)

    async def _our_invoices(self, ids: list[str]) -> set[str]:
        if self._billing is None:
            self._billing = await asyncpg.connect(plain_dsn(self.stack.database_urls["billing"]))
        return {str(r["id"]) for r in await self._billing.fetch(InvoiceOwners.SQL, ids)}

    def invoice(self, flow: Flow) -> Sighting | None:
        """Our billing service's invoice of the flow's mission, as first seen."""
        mine = [s for s in flow.seen.get("invoiced", ()) if s.ref in self.invoices.ours]
        return min(mine, key=lambda s: s.at) if mine else None

    async def classify_invoice_emails(self) -> None:
        """For each of our invoices whose email has not arrived under the id we expect, ask
        our notifications database whom it was addressed to: the requester of the demande,
        the département's team, or the requester of another demande of the same
        collectivité (when the invoice overtook the demande, ``latest_demande_of``)."""
        if self.stack.mail is None:
            return
        wanted = {}
        for flow in self.tap.flows.values():
            invoice = self.invoice(flow)
            if (
                invoice is not None
                and invoice.ce_id not in self.invoice_mail
                and self._expected_arrival(flow, invoice) is None
            ):
                wanted[invoice.ce_id] = flow
        if not wanted:
            return
        if self._notifications is None:
            self._notifications = await asyncpg.connect(
                plain_dsn(self.stack.database_urls["notifications"])
            )
        rows = await self._notifications.fetch(
            "SELECT id, source_event_id, recipient FROM deliveries "
            "WHERE kind = 'facture_emise' AND channel = 'email' "
            "AND source_event_id = ANY($1::text[])",
            list(wanted),
        )
        for r in rows:
            flow = wanted[r["source_event_id"]]
            recipient = str(r["recipient"])
            role = (
                "requester"
                if recipient == f"requester:{flow.request_id}"
                else "team"
                if recipient.startswith("team:")
                else "requester of another demande"
            )
            self.invoice_mail[r["source_event_id"]] = (f"<{r['id']}@{MESSAGE_ID_DOMAIN}>", role)

    def _expected_arrival(self, flow: Flow, invoice: Sighting) -> tuple[float, str] | None:
        mail = self.stack.mail
        assert mail is not None
        ids = self._message_ids.get(invoice.ce_id)
        if ids is None:
            from services.notifications.domain.model import Channel, notification_id

            ids = self._message_ids[invoice.ce_id] = {
                role: f"<{notification_id(invoice.ce_id, recipient, Channel.EMAIL)}"
                f"@{MESSAGE_ID_DOMAIN}>"
                for role, recipient in (
                    ("requester", f"requester:{flow.request_id}"),
                    ("team", f"team:{flow.departement}"),
                )
            }
        arrived = [(mail.arrived[m][0], role) for role, m in ids.items() if m in mail.arrived]
        return min(arrived) if arrived else None

    def notified_at(self, flow: Flow) -> float | None:
        """When our SMTP server got the email of our invoice, whoever it was addressed to
        (``invoice_email_recipient`` tells whom)."""
        mail = self.stack.mail
        invoice = self.invoice(flow)
        if mail is None or invoice is None:
            return None
        found = self._expected_arrival(flow, invoice)
        if found is None and invoice.ce_id in self.invoice_mail:
            message_id, role = self.invoice_mail[invoice.ce_id]
            if message_id in mail.arrived:
                found = (mail.arrived[message_id][0], role)
        if found is None:
            return None
        self.invoice_email_recipient[flow.request_id] = found[1]
        return found[0]

    def end_of(self, flow: Flow) -> float | None:
        invoice = self.invoice(flow)
        if invoice is None:
            return None
        return self.notified_at(flow) if self.notified else invoice.at

    def through(self, flow: Flow) -> bool:
        return self.end_of(flow) is not None

    def finished(self, flows: list[Flow]) -> int:
        return sum(1 for f in flows if self.through(f))

    def accepted_flows(self, flows: list[Flow]) -> list[Flow]:
        return [f for f in flows if f.http_status in (200, 201)]

    # --- phases ------------------------------------------------------------------------------
    async def post(self, flow: Flow, body: dict[str, Any], headers: dict[str, str]) -> None:
        await submit(self.stack.client("requests"), flow, body, headers)

    async def warm_up(self) -> None:
        await self.warm_up_flows(self.stack.options.departements, 15.0, log)

    async def until_through(self, flows: list[Flow], *, timeout: float, stall: float) -> bool:
        """Until every flow is done; False after ``timeout``, or ``stall`` seconds without
        one more flow done."""

        async def progress() -> int:
            await self.classify_invoices()
            await self.classify_invoice_emails()
            return self.finished(flows)

        return await until_settled(progress, len(flows), timeout=timeout, stall=stall, poll=0.3)

    async def drain(self, flows: list[Flow], timeout: float) -> bool:
        return await self.until_through(self.accepted_flows(flows), timeout=timeout, stall=30.0)

    async def sustained(
        self, rate: float, duration: float, on_time: tuple[float, Callable[[], Any]] | None
    ) -> list[Flow]:
        """Open loop: demande k is posted at start + k / rate, whatever came before."""
        flows: list[Flow] = []
        tasks: list[asyncio.Task[None]] = []
        side: asyncio.Task[Any] | None = None
        start = time.time() + 0.2
        for k in range(int(rate * duration)):
            at = start + k / rate
            if on_time is not None and side is None and at - start >= on_time[0]:
                side = asyncio.create_task(on_time[1]())
            await asyncio.sleep(max(0.0, at - time.time()))
            flow, body, headers = self.new_flow()
            flow.scheduled_at = at
            flows.append(flow)
            tasks.append(asyncio.create_task(self.post(flow, body, headers)))
        await asyncio.gather(*tasks)
        if side is not None:
            await side
        return flows

    async def saturation(self, count: int, concurrency: int) -> list[Flow]:
        semaphore = asyncio.Semaphore(concurrency)
        prepared = [self.new_flow() for _ in range(count)]

        async def one(flow: Flow, body: dict[str, Any], headers: dict[str, str]) -> None:
            async with semaphore:
                flow.scheduled_at = time.time()
                await self.post(flow, body, headers)

        await asyncio.gather(*(one(*p) for p in prepared))
        return [p[0] for p in prepared]

    # --- figures -----------------------------------------------------------------------------
    def analyse(self, flows: list[Flow], cpu: dict[str, float]) -> dict[str, Any]:
        ok = self.accepted_flows(flows)
        done = [f for f in ok if self.through(f)]
        start = min((f.scheduled_at for f in flows), default=time.time())
        done_at = sorted(t for f in done if (t := self.end_of(f)) is not None)
        last = done_at[-1] if done_at else start
        seconds = max(1e-9, last - start)

        def ms(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else 1000 * (b - a)

        def series(pick: Callable[[Flow], float | None]) -> dict[str, Any]:
            return latency_summary([v for f in done if (v := pick(f)) is not None])

        def at(f: Flow, stage: str) -> float | None:
            s = self.invoice(f) if stage == "invoiced" else f.first(stage)
            return s.at if s else None

        hops = {
            "requests: POST → submitted on Kafka": series(
                lambda f: ms(f.posted_at, at(f, "submitted"))
            ),
            "matching: submitted → proposed": series(
                lambda f: ms(at(f, "submitted"), at(f, "proposed"))
            ),
            "actor: proposed → accept POSTed": series(
                lambda f: ms(at(f, "proposed"), f.accept[0] if f.accept else None)
            ),
            "matching: accept POSTed → accepted on Kafka": series(
                lambda f: ms(f.accept[0] if f.accept else None, at(f, "accepted"))
            ),
            "matching: complete POSTed → completed on Kafka": series(
                lambda f: ms(f.complete[0] if f.complete else None, at(f, "completed"))
            ),
            "billing: completed → invoiced": series(
                lambda f: ms(at(f, "completed"), at(f, "invoiced"))
            ),
        }
        if self.notified:
            hops["notifications: invoiced → email received"] = series(
                lambda f: ms(at(f, "invoiced"), self.notified_at(f))
            )
        http = {
            "POST /v1/requests": latency_summary(
                [1000 * f.http_seconds for f in ok if f.http_seconds is not None]
            ),
            "POST accept": latency_summary(
                [1000 * (f.accept[1] - f.accept[0]) for f in ok if f.accept]
            ),
            "POST complete": latency_summary(
                [1000 * (f.complete[1] - f.complete[0]) for f in ok if f.complete]
            ),
        }
        furthest = Counter(
            next((s for s in reversed(STAGES) if f.seen.get(s)), "nothing")
            for f in ok
            if not self.through(f)
        )
        services_cpu = sum(v for k, v in cpu.items() if "#" in k)
        postgres_cpu = sum(v for k, v in cpu.items() if k.startswith("postgres["))
        return {
            "offered": len(flows),
            "http_accepted": len(ok),
            "http_refused": dict(Counter(str(f.http_status) for f in flows if f not in ok)),
            "completed": len(done),
            "incomplete_by_furthest_stage": dict(furthest),
            "seconds": round(seconds, 2),
            "throughput_per_s": round(len(done) / seconds, 1),
            "completion_rate_per_s": completion_rate(done_at),
            "e2e_ms": {
                "submit → invoice issued": series(lambda f: ms(f.scheduled_at, at(f, "invoiced"))),
                **(
                    {
                        "submit → invoice email received": series(
                            lambda f: ms(f.scheduled_at, self.notified_at(f))
                        )
                    }
                    if self.notified
                    else {}
                ),
                "submit → proposed": series(lambda f: ms(f.scheduled_at, at(f, "proposed"))),
                "submit → submitted on Kafka": series(
                    lambda f: ms(f.scheduled_at, at(f, "submitted"))
                ),
            },
            "hops_ms": hops,
            "http_ms": http,
            "cpu_seconds": cpu,
            "cpu_ms_per_flow": {
                "services": round(1000 * services_cpu / max(1, len(done)), 1),
                "postgres backends": round(1000 * postgres_cpu / max(1, len(done)), 1),
            },
            "actor_errors": len(self.driver.errors),
        }

    async def correctness(self, flows: list[Flow]) -> dict[str, Any]:
        """Everything done twice, on the topics and in the databases."""
        ours = self.accepted_flows(flows)
        ids = [f.request_id for f in ours]
        proposals = Counter(len({s.ref for s in f.seen.get("proposed", ())}) for f in ours)
        copies = {
            stage: sum(
                len(f.seen.get(stage, ())) - len({s.ce_id for s in f.seen.get(stage, ())})
                for f in ours
            )
            for stage in STAGES
        }
        await self.classify_invoices()
        assert self._billing is not None
        rows = await self._billing.fetch(
            "SELECT id, assignment_id FROM invoices WHERE request_id = ANY($1::uuid[])", ids
        )
        our_invoices = {str(r["id"]) for r in rows}
        per_mission = Counter(Counter(str(r["assignment_id"]) for r in rows).values())
        topic_invoices = Counter(
            len({s.ref for s in f.seen.get("invoiced", ()) if s.ref in our_invoices}) for f in ours
        )
        foreign_invoices = sum(
            1 for f in ours for s in f.seen.get("invoiced", ()) if s.ref not in our_invoices
        )
        matching = await asyncpg.connect(plain_dsn(self.stack.database_urls["matching"]))
        try:
            assignments = await matching.fetch(
                "SELECT request_id, count(*) AS n FROM assignments "
                "WHERE request_id = ANY($1::uuid[]) GROUP BY request_id",
                ids,
            )
        finally:
            await matching.close()
        duplicates = await redeliveries(self.stack)
        our_ce_ids = {s.ce_id for f in ours for sightings in f.seen.values() for s in sightings}
        return {
            "demandes": len(ours),
            "distinct_proposals_per_demande_on_topic": dict(sorted(proposals.items())),
            "assignments_per_demande_in_db": dict(Counter(int(r["n"]) for r in assignments)),
            "invoices_per_mission_in_db": dict(per_mission),
            "distinct_invoices_per_demande_on_topic": dict(sorted(topic_invoices.items())),
            "duplicate_proposals": sum((k - 1) * v for k, v in proposals.items() if k > 1),
            "duplicate_invoices_in_db": sum((k - 1) * v for k, v in per_mission.items() if k > 1),
            "duplicate_invoices_on_topic": sum(
                (k - 1) * v for k, v in topic_invoices.items() if k > 1
            ),
            "unmatched": sum(1 for f in ours if f.seen.get("unmatched")),
            "republished_copies_same_ce_id": copies,
            "redeliveries_skipped_by_inbox": {
                "all_events_from_metrics": duplicates,
                "our_events_from_logs": skipped_in_logs(self.stack, our_ce_ids),
            },
            "invoices_by_other_billing_services_on_shared_topics": foreign_invoices,
            "invoice_emails_by_recipient": dict(
                Counter(self.invoice_email_recipient.get(f.request_id, "none") for f in ours)
            )
            if self.notified
            else None,
            "records_of_others_read_by_tap": self.tap.foreign_records,
        }


async def redeliveries(stack: Stack) -> dict[str, int]:
    """``mg_events_consumed_total{outcome="duplicate"}`` per instance: events delivered
    again (after a rebalance, say) and recognised by the idempotent consumer."""
    import httpx

    found: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=10.0) as client:
        for instances in stack.instances.values():
            for instance in instances:
                if not instance.process.running:
                    continue
                text = (await client.get(f"{instance.url}/metrics/")).text
                found[instance.label] = int(
                    sum(
                        float(line.rsplit(" ", 1)[1])
                        for line in text.splitlines()
                        if line.startswith("mg_events_consumed_total{")
                        and 'outcome="duplicate"' in line
                    )
                )
    return found


def skipped_in_logs(stack: Stack, ours: set[str]) -> dict[str, int]:
    """Our events that an instance received again and skipped (``duplicate event
    skipped``, logged at INFO with the event id): redeliveries after a rebalance or a
    crash, which the idempotent consumer absorbed."""
    found: dict[str, int] = {}
    for instances in stack.instances.values():
        for instance in instances:
            count = 0
            try:
                lines = instance.process.log_path.read_text(errors="replace").splitlines()
            except FileNotFoundError:
                continue
            for line in lines:
                if "duplicate event skipped" not in line:
                    continue
                try:
                    event_id = json.loads(line).get("event_id")
                except ValueError:
                    continue
                count += event_id in ours
            found[instance.label] = count
    return found


def completion_rate(ends: list[float]) -> float | None:
    """Flows done per second between the first and the last one done: the rate at which
    the pipeline delivers once it has work queued."""
    if len(ends) < 2 or ends[-1] <= ends[0]:
        return None
    return round((len(ends) - 1) / (ends[-1] - ends[0]), 1)
