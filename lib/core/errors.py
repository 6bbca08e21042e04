"""One error model: every problem a person can act on is a UserError.

    UserError                  the message is meant for people and is shown as is
      ValidationError          the input breaks a rule (a form field, a file, a segment)
      ConflictError            someone else changed the data first, or it is busy: reload/retry
      NotFoundError            the record (customer, merge, model ...) does not exist
      NotAllowedError          the user's roles do not allow the action (auth.PermissionDenied)

Each area raises its own subclass (edits.StaleRecordError, tags.TagError, ...) so callers can
catch narrowly; pages catch none of them by hand: `ui.shown()` renders a UserError as its
message and anything else as "unexpected error" with a reference id that is also logged.
The mixins (ValueError, LookupError, PermissionError) keep `except ValueError` callers working.

The storage errors live here too (warehouse.py re-exports them), so that lake.py and
warehouse.py both depend on this module instead of on each other.
"""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """A problem with a message meant for people: the English text, and optionally the text
    key and values that show it in the reader's language (lib/ui/errors.render)."""

    def __init__(self, *args: object, key: str | None = None, **values: Any) -> None:
        super().__init__(*args)
        self.key, self.values = key, values


class ValidationError(UserError, ValueError):
    """The input breaks a rule."""


class ConflictError(UserError):
    """The data changed since it was read, or is busy: reload or try again."""


class NotFoundError(UserError, LookupError):
    """The thing asked for does not exist."""


class NotAllowedError(UserError, PermissionError):
    """The user's roles do not allow the action."""


# ---------------------------------------------------------------- storage (warehouse, lake)


class WarehouseError(UserError, RuntimeError):
    """A warehouse problem with a message meant for people."""


class WarehouseLockedError(WarehouseError, ConflictError):
    """Another process holds the DuckDB file read-write."""


class WriteConflictError(WarehouseError, ConflictError):
    """Concurrent writers kept colliding even after retries."""


class WarehouseBusyError(WarehouseError, ConflictError):
    """Other sessions kept queries running while the warehouse had to be closed."""


def is_conflict(exc: BaseException) -> bool:
    """Whether a driver error is a write-write conflict (DuckDB, DuckLake's catalog)."""
    text = str(exc)
    return (
        "Conflict on update" in text
        or "Conflict on tuple deletion" in text
        or "write-write conflict" in text.lower()
        or "Transaction conflict" in text
        or "Catalog write-write conflict" in text
        or "could not serialize access" in text
    )  # DuckLake's PostgreSQL catalog
