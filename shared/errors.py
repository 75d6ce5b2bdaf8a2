"""The errors of the kernel: what a use case or a domain rule refuses, with no web import.

The HTTP layer maps each to a status code in one place (:mod:`shared.http.errors`);
a Kafka subscriber maps them to a dead letter or a rejection event. Messages are in
French, since a person reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class DomainValidationError(Exception):
    """Input that is well formed but breaks a rule of the domain."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = list(errors)


class NotFound(Exception):
    def __init__(self, message: str = "Ressource introuvable.") -> None:
        super().__init__(message)
        self.message = message


class Forbidden(Exception):
    def __init__(self, message: str = "Accès refusé.") -> None:
        super().__init__(message)
        self.message = message


class Conflict(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PayloadTooLarge(Exception):
    """A body over the size the route accepts; refused before it is read whole."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedMediaType(Exception):
    """A body whose type (read from its bytes) the route does not accept."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
