"""What every route of the API takes from its request: the unit of work, the settings,
the département in a path."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from services.notifications.bootstrap import http_unit_of_work, notifications_of
from services.notifications.config import NotificationSettings
from services.notifications.service_layer.ports import UnitOfWork
from shared.contracts.vocabulary import DEPARTEMENT_CODE

DEPARTEMENT = rf"^(?:{DEPARTEMENT_CODE.pattern})$"
Departement = Annotated[str, Path(pattern=DEPARTEMENT)]

UoW = Annotated[UnitOfWork, Depends(http_unit_of_work)]


def settings_of(request: Request) -> NotificationSettings:
    return notifications_of(request).settings
