"""The service's own clock: the dispatcher, the Les Communs publisher, reminders and
follow-ups, daily digests.

Each runs in every instance; row locks (``SKIP LOCKED``) and unique notification ids
make that safe. What they record wakes the dispatcher on commit (``bootstrap``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.notifications.bootstrap import Notifications
from services.notifications.service_layer import digests, reminders
from shared.runtime import ServiceRuntime


class Jobs:
    def __init__(self, runtime: ServiceRuntime, notifications: Notifications) -> None:
        self._runtime = runtime
        self._settings = notifications.settings
        self._unit_of_work = notifications.unit_of_work
        self.dispatcher = notifications.dispatcher
        self.les_communs = notifications.les_communs

    def register(self) -> None:
        s = self._settings
        # The dispatcher runs until stopped; ``every`` restarts it if it ever fails.
        self._runtime.every(s.dispatch_poll_seconds, self.dispatcher.run, "notifications-dispatch")
        if self.les_communs is not None:
            self._runtime.every(
                s.les_communs_poll_seconds, self.les_communs.run, "notifications-les-communs"
            )
        self._runtime.every(
            s.schedule_scan_seconds, self.remind_and_follow_up, "notifications-schedule"
        )
        self._runtime.every(s.digest_scan_seconds, self.send_digests, "notifications-digests")

    async def remind_and_follow_up(self) -> int:
        now = datetime.now(UTC)
        done = 0
        for step in (
            reminders.remind_actors,
            reminders.remind_conventions,
            reminders.follow_up_requesters,
        ):
            while True:
                async with self._unit_of_work() as uow:
                    count = await step(uow, self._settings, now)
                done += count
                if count == 0:
                    break
        async with self._unit_of_work() as uow:
            await reminders.give_up_awaiting(uow, self._settings, now)
        return done

    async def send_digests(self, *, force: bool = False) -> int:
        """Today's digests, from the configured hour on; ``force`` ignores the hour."""
        now = datetime.now(UTC)
        if not force and not digests.digest_due(self._settings, now):
            return 0
        sent = 0
        while True:
            async with self._unit_of_work() as uow:
                addresses = await digests.digest_addresses(uow, now)
            gathered = 0
            for address in addresses:
                async with self._unit_of_work() as uow:
                    gathered += await digests.send_digest(uow, address, now) is not None
            sent += gathered
            if gathered == 0:
                break
        return sent
