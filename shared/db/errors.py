"""Which errors mean "the database cannot be reached right now", as opposed to "this
statement or this input is wrong".

The first kind is transient: an HTTP request answers 503 with ``Retry-After`` and a
consumed event is delivered again later. The second is the caller's or the code's fault.
Seen in the failure drills (``kill -9`` of PostgreSQL, then its restart):

- while the server is down, asyncpg's connect raises ``ConnectionRefusedError`` (an
  ``OSError``) itself, which SQLAlchemy does not wrap;
- while it replays its WAL, the server refuses connections with SQLSTATE 57P03
  ("the database system is starting up"), which SQLAlchemy wraps in a plain
  ``DBAPIError``, neither ``OperationalError`` nor ``connection_invalidated``;
- a connection cut in the middle of a statement gives ``InterfaceError`` or a
  ``DBAPIError`` with ``connection_invalidated``.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

# SQLSTATE classes and codes of a server that is unreachable, starting, stopping or
# momentarily full (https://www.postgresql.org/docs/current/errcodes-appendix.html).
UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08"})  # connection exception
UNAVAILABLE_SQLSTATES = frozenset(
    {
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: starting up, or in recovery
        "53300",  # too_many_connections: every client reconnecting at once after a restart
    }
)


def sqlstate_of(exc: DBAPIError) -> str | None:
    """The SQLSTATE the server (or the driver) gave, when known."""
    for source in (exc.orig, getattr(exc.orig, "__cause__", None)):
        state = getattr(source, "sqlstate", None) or getattr(source, "pgcode", None)
        if isinstance(state, str) and state:
            return state
    return None


def database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database is unreachable for now, not that the work is
    wrong: retrying the same work later is right."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        state = sqlstate_of(exc)
        return state is not None and (
            state[:2] in UNAVAILABLE_SQLSTATE_CLASSES or state in UNAVAILABLE_SQLSTATES
        )
    # Raised by the driver itself before any DBAPI error exists: connection refused or
    # reset, timed out (TimeoutError is an OSError), "Multiple exceptions" of a host name
    # with several addresses.
    return isinstance(exc, OSError)
