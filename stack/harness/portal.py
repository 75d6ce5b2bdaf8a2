"""The portal (services/portal) as one more process beside a :class:`Stack`, pointed at
that stack's services, for the browser tests and the portal's load run."""

from __future__ import annotations

from pathlib import Path

from stack.harness.process import ServiceProcess, free_port
from stack.harness.stack import Stack


def portal_process(stack: Stack, **extra_env: str) -> ServiceProcess:
    """Not started yet: ``await process.start()`` then ``await process.wait_ready()``."""
    port = free_port()
    env = {
        "MG_PORTAL_HTTP_PORT": str(port),
        "MG_PORTAL_REQUESTS_URL": stack.url("requests"),
        "MG_PORTAL_MATCHING_URL": stack.url("matching"),
        "MG_PORTAL_BILLING_URL": stack.url("billing"),
        # Without notifications in the stack, its pages answer that it is unavailable.
        "MG_PORTAL_NOTIFICATIONS_URL": stack.url("notifications")
        if "notifications" in stack.services
        else "http://127.0.0.1:9",
        "MG_PORTAL_LOG_LEVEL": "WARNING",
    }
    return ServiceProcess(
        "services.portal.entrypoints.main",
        env=env | extra_env,
        port=port,
        log_path=Path(stack.run_dir) / "portal.log",
    )
