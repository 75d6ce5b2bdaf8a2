"""The OpenAPI documents of the four services, built from their code with no database or
broker behind them (what the input-bounds and the security-matrix tests read)."""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from shared.runtime import ServiceRuntime
from shared.settings import DEFAULT_HTTP_PORTS, service_settings

SERVICES = tuple(DEFAULT_HTTP_PORTS)


def service_app(name: str, **runtime_options: Any) -> tuple[FastAPI, ServiceRuntime]:
    """Service ``name``'s app, its runtime not started (``runtime_options`` go to
    :class:`ServiceRuntime`: auth, http...)."""
    main = importlib.import_module(f"services.{name}.entrypoints.main")
    settings = runtime_options.pop("settings", None) or service_settings(name).model_copy(
        update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    )
    runtime = ServiceRuntime(
        name, migrations_dir=Path(main.MIGRATIONS), settings=settings, **runtime_options
    )
    return main.build(runtime), runtime


@functools.cache
def openapi_document(name: str) -> dict[str, Any]:
    app, _ = service_app(name)
    document: dict[str, Any] = app.openapi()
    return document
