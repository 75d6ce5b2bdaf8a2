"""The service's own clock: the dispatcher, reminders and follow-ups, daily digests.

Each runs in every instance; row locks (``SKIP LOCKED``) and unique notification ids
make that safe.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.notifications.adapters.mailer import SmtpMailer
from services.notifications.adapters.webhooks import WebhookSender
from services.notifications.config import NotificationSettings
from services.notifications.domain.model import Channel
from services.notifications.service_layer import use_cases
from services.notifications.service_layer.dispatcher import Dispatcher
from services.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from shared.runtime import ServiceRuntime


class Jobs:
    def __init__(self, runtime: ServiceRuntime, settings: NotificationSettings) -> None:
        self._runtime = runtime
        self._settings = settings
        self.dispatcher = Dispatcher(
            uow_factory=self.unit_of_work,
            senders={
                Channel.EMAIL: SmtpMailer(settings),
                Channel.WEBHOOK: WebhookSender(settings.webhook_timeout_seconds),
            },
            settings=settings,
            on_published=runtime.relay.wake,
        )

    def unit_of_work(self) -> NotificationsUnitOfWork:
        return NotificationsUnitOfWork(self._runtime.session_factory, source=self._runtime.name)

    def recorded(self) -> None:
        """After a commit that may have added deliveries or outbox rows."""
        self._runtime.relay.wake()
        self.dispatcher.wake()

    def register(self) -> None:
        s = self._settings
        # The dispatcher runs until stopped; ``every`` restarts it if it ever fails.
        self._runtime.every(s.dispatch_poll_seconds, self.dispatcher.run, "notifications-dispatch")
        self._runtime.every(
            s.schedule_scan_seconds, self.remind_and_follow_up, "notifications-schedule"
        )
        self._runtime.every(s.digest_scan_seconds, self.send_digests, "notifications-digests")

    async def remind_and_follow_up(self) -> int:
        now = datetime.now(UTC)
        done = 0
        for step in (use_cases.remind_actors, use_cases.follow_up_requesters):
            while True:
                async with self.unit_of_work() as uow:
                    count = await step(uow, self._settings, now)
                done += count
                if count == 0:
                    break
        async with self.unit_of_work() as uow:
            await use_cases.give_up_awaiting(uow, self._settings, now)
        if done:
            self.recorded()
        return done

    async def send_digests(self, *, force: bool = False) -> int:
        """Today's digests, from the configured hour on; ``force`` ignores the hour."""
        now = datetime.now(UTC)
        if not force and not use_cases.digest_due(self._settings, now):
            return 0
        sent = 0
        while True:
            async with self.unit_of_work() as uow:
                addresses = await use_cases.digest_addresses(uow, now)
            gathered = 0
            for address in addresses:
                async with self.unit_of_work() as uow:
                    gathered += await use_cases.send_digest(uow, address, now) is not None
            sent += gathered
            if gathered == 0:
                break
        if sent:
            self.recorded()
        return sent
