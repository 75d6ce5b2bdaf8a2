"""Enter it once: our projects reach the ANCT "Les Communs" API from our own events.

The consumer keeps the newest state of each project (:func:`follow_project`, in the
transaction of the processed event); :class:`LesCommunsPublisher` sends the due ones,
each in its own task, and records the outcome: sent; tried again later with backoff,
without limit, when Les Communs is away or overloaded (it must get there in the end);
dead-lettered when its answer says that retrying cannot help (400, 401…), until a newer
state of the project comes. Nothing here stands in the way of a demande's write: the
requests service only writes its outbox (ADR 0015).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from services.notifications.config import NotificationSettings
from services.notifications.domain.delivery import DeliveryFailed, RetryPolicy
from services.notifications.domain.les_communs import (
    DueProject,
    ProjectState,
    PublishedProject,
    upsert_body,
)
from services.notifications.service_layer.ports import ProjectPublisher, UnitOfWork
from services.notifications.service_layer.scope import ensure_team
from shared.auth.tokens import Principal
from shared.contracts.projects import ProjectPhaseClosed, ProjectPhaseOpened
from shared.observability.logging import get_logger, log_context

log = get_logger(__name__)


async def follow_project(
    uow: UnitOfWork, event: ProjectPhaseOpened | ProjectPhaseClosed, now: datetime
) -> bool:
    """Keep the project's state if this event is newer than the one kept; the caller commits."""
    state = ProjectState(
        project_id=event.project_id,
        departement=event.departement,
        revision=event.project_revision,
        body=upsert_body(event),
    )
    return await uow.les_communs.follow(state, now)


class LesCommunsPublisher:
    def __init__(
        self,
        *,
        uow_factory: Callable[[], UnitOfWork],
        client: ProjectPublisher,
        settings: NotificationSettings,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._uow_factory = uow_factory
        self._client = client
        self._settings = settings
        self._draw = draw
        self._policy = RetryPolicy(
            base_seconds=settings.les_communs_backoff_base_seconds,
            max_seconds=settings.les_communs_backoff_max_seconds,
            jitter=settings.backoff_jitter,
        )
        self._slots = asyncio.Semaphore(settings.les_communs_concurrency)

    async def run(self) -> None:
        """Until cancelled: publish what is due, then wait for the next poll."""
        try:
            while True:
                try:
                    sent = await self.publish_due()
                except Exception as exc:
                    # The database is away: try again at the next poll.
                    log.warning("no projects claimed for Les Communs", error=repr(exc))
                    sent = 0
                if not sent:
                    await asyncio.sleep(self._settings.les_communs_poll_seconds)
        finally:
            with contextlib.suppress(Exception):
                await self._client.aclose()

    async def publish_due(self) -> int:
        """One batch of due projects, sent concurrently; how many were attempted."""
        now = datetime.now(UTC)
        lease = timedelta(seconds=self._settings.lease_seconds)
        async with self._uow_factory() as uow:
            due = await uow.les_communs.claim(now, now + lease, self._settings.dispatch_batch)
            await uow.commit()
        await asyncio.gather(*(self._publish(project) for project in due))
        return len(due)

    async def _publish(self, project: DueProject) -> None:
        with log_context(departement=project.departement, project_id=str(project.project_id)):
            async with self._slots:
                try:
                    les_communs_id = await self._client.upsert(project.body)
                except DeliveryFailed as failure:
                    await self._failed(project, failure)
                    return
                except Exception as exc:
                    # Not foreseen, so not known to be final: tried again like a timeout.
                    await self._failed(project, DeliveryFailed("error", repr(exc)[:300]))
                    return
            async with self._uow_factory() as uow:
                await uow.les_communs.mark_sent(
                    project.project_id, project.revision, les_communs_id, datetime.now(UTC)
                )
                await uow.commit()
            log.info("project published to Les Communs", revision=project.revision)

    async def _failed(self, project: DueProject, failure: DeliveryFailed) -> None:
        now = datetime.now(UTC)
        async with self._uow_factory() as uow:
            if failure.permanent:
                await uow.les_communs.mark_dead(project.project_id, str(failure)[:1000], now)
                log.warning("Les Communs refused the project", reason=failure.reason)
            else:
                delay = self._policy.delay(project.attempts + 1, self._draw())
                at = now + timedelta(seconds=delay)
                await uow.les_communs.mark_retry(project.project_id, at, str(failure)[:1000])
                log.info("Les Communs unreachable, retrying", reason=failure.reason)
            await uow.commit()


async def list_published(
    uow: UnitOfWork, principal: Principal, departement: str | None, limit: int
) -> list[PublishedProject]:
    """How far each project of the département went towards Les Communs."""
    return await uow.les_communs.listing(ensure_team(principal, departement), limit)
