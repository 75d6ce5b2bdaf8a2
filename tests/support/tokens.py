"""Bearer headers for tests: the harness's own (:func:`stack.harness.stack.bearer_header`)."""

from __future__ import annotations

from shared.auth.tokens import Role
from shared.settings import AuthSettings
from stack.harness.stack import bearer_header


def bearer(role: Role, departement: str | None, scope: str | None = None) -> dict[str, str]:
    return bearer_header(AuthSettings(), role, departement, scope)
