"""The one place where the notifications service's adapters meet its service layer:
units of work, the mailer and the webhook client, the dispatcher, the Les Communs
publisher.

Committing a unit of work from :meth:`Notifications.unit_of_work` wakes the outbox relay
when it wrote events and the dispatcher when it made a delivery due, whoever commits it:
a subscriber, an HTTP route, a job or the dispatcher itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Protocol

from fastapi import Request

from services.notifications.adapters.les_communs import LesCommunsClient
from services.notifications.adapters.mailer import SmtpMailer
from services.notifications.adapters.unit_of_work import (
    NotificationsUnitOfWork,
    ProjectionUnitOfWork,
)
from services.notifications.adapters.webhooks import WebhookSender
from services.notifications.config import NotificationSettings
from services.notifications.domain.model import Channel
from services.notifications.service_layer.dispatcher import Dispatcher
from services.notifications.service_layer.les_communs import LesCommunsPublisher
from services.notifications.service_layer.ports import Sender, UnitOfWork
from shared.http.ssrf import Resolver, TargetGuard
from shared.messaging.consumer import ConsumerUnitOfWork
from shared.messaging.ports import UnitOfWork as BaseUnitOfWork
from shared.runtime import ServiceRuntime
from shared.secret_box import SecretBox


class ConsumingUnitOfWork(UnitOfWork, ConsumerUnitOfWork, Protocol):
    """A unit of work that also records which events were processed (the inbox)."""


class ProjectingUnitOfWork(BaseUnitOfWork, ConsumerUnitOfWork, Protocol):
    """The projection's: an outbox and an inbox of its own (ADR 0020)."""


def webhook_guard(settings: NotificationSettings, resolver: Resolver | None = None) -> TargetGuard:
    """Where webhooks may go (ADR 0021): checked at subscription and at each delivery."""
    schemes = ("https", "http") if settings.allow_plain_http_webhooks else ("https",)
    return TargetGuard(resolver, settings.webhook_allowed_networks, schemes)


def senders(
    settings: NotificationSettings, guard: TargetGuard, box: SecretBox
) -> dict[Channel, Sender]:
    return {
        Channel.EMAIL: SmtpMailer(settings),
        Channel.WEBHOOK: WebhookSender(settings.webhook_timeout_seconds, guard, box),
    }


def les_communs_publisher(
    settings: NotificationSettings, uow_factory: Callable[[], UnitOfWork]
) -> LesCommunsPublisher | None:
    """The publisher of our projects to Les Communs, when its address is configured."""
    if not settings.les_communs_url:
        return None
    key = settings.les_communs_api_key.get_secret_value() if settings.les_communs_api_key else ""
    client = LesCommunsClient(settings.les_communs_url, key, settings.les_communs_timeout_seconds)
    return LesCommunsPublisher(uow_factory=uow_factory, client=client, settings=settings)


class Notifications:
    """The service wired once per process."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        settings: NotificationSettings,
        resolver: Resolver | None = None,
    ) -> None:
        self.settings = settings
        self.webhook_guard = webhook_guard(settings, resolver)
        box = settings.secret_box()
        self.dispatcher = Dispatcher(
            uow_factory=self.unit_of_work,
            senders=senders(settings, self.webhook_guard, box),
            settings=settings,
        )
        self._units = runtime.unit_of_work(
            functools.partial(
                NotificationsUnitOfWork, on_deliveries=self.dispatcher.wake, secret_box=box
            )
        )

        self.les_communs = les_communs_publisher(settings, self.unit_of_work)
        self._projection_units = runtime.unit_of_work(ProjectionUnitOfWork)

    def unit_of_work(self) -> UnitOfWork:
        return self._units()

    def consumer_unit_of_work(self) -> ConsumingUnitOfWork:
        return self._units()

    def projection_unit_of_work(self) -> ProjectingUnitOfWork:
        return self._projection_units()


def notifications_of(request: Request) -> Notifications:
    wired: Notifications = request.app.state.notifications
    return wired


def http_unit_of_work(request: Request) -> UnitOfWork:
    """FastAPI dependency: a fresh unit of work for the request."""
    return notifications_of(request).unit_of_work()
