"""The old home of the messaging tables, now :mod:`shared.messaging.tables`: the four
services' ``migrations/env.py`` still import ``MESSAGING_METADATA`` from here. Goes once
they import it from :mod:`shared.messaging.tables`."""

from shared.messaging.tables import MESSAGING_METADATA

__all__ = ["MESSAGING_METADATA"]
