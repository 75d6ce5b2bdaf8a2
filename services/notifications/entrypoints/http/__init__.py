"""HTTP API of the notifications service, one module per resource: webhook
subscriptions, actor and team addresses with the recipients' preferences, and the
deliveries a team can follow."""

from services.notifications.entrypoints.http.contacts import (
    contacts_router,
    preferences_router,
    unsubscribe_router,
)
from services.notifications.entrypoints.http.deliveries import deliveries_router
from services.notifications.entrypoints.http.les_communs import les_communs_router
from services.notifications.entrypoints.http.webhooks import webhooks_router

ROUTERS = (
    webhooks_router,
    contacts_router,
    preferences_router,
    unsubscribe_router,
    deliveries_router,
    les_communs_router,
)
