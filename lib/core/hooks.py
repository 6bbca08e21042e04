"""After-load hooks: an area reacts to another area's committed write without importing it.

The stewardship import and merges publish `loaded(Load(...))` after their transaction
committed; the dashboards' aggregates (and anything else that derives data from customers,
orders and events) subscribe with `@hooks.after_load`. The subscribing modules are declared
here, in SUBSCRIBERS, and imported by name the first time a load is published, so a job that
never imported the dashboards still refreshes them, and core imports no area.

A subscriber that fails does not undo the load (it is committed): its failure is logged and
returned as a note for the caller to show.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Modules that subscribe (their import registers their hooks), in the order they run.
SUBSCRIBERS: tuple[str, ...] = ("lib.dashboards.aggregates", "lib.marketing.preferences")


@dataclass(frozen=True)
class Load:
    """What was written: `kind` is "import", "merge", "unmerge", or "create", "delete",
    "restore" (a customer added, soft-deleted or restored by hand); `source` names the writer
    (an import id, a merge id); `customer_ids` are the customers that are new."""

    kind: str
    source: str = ""
    customer_ids: tuple[int, ...] = ()


Hook = Callable[[Load], None]
_hooks: list[Hook] = []
_subscribed = False


def after_load(hook: Hook) -> Hook:
    """Decorator: run `hook(load)` after every published load."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def _subscribe() -> None:
    global _subscribed
    if not _subscribed:
        for name in SUBSCRIBERS:
            importlib.import_module(name)
        _subscribed = True


def loaded(load: Load) -> list[str]:
    """Run every subscriber for a committed load; returns notes about the ones that failed."""
    _subscribe()
    notes = []
    for hook in list(_hooks):
        try:
            hook(load)
        except Exception as exc:  # noqa: BLE001 - the load is committed; report, don't fail it
            where = f"{hook.__module__}.{hook.__qualname__}"
            log.warning("after-load hook %s failed after %s %s: %s", where, load.kind, load.source, exc)
            notes.append(f"{where} failed: {exc}")
    return notes
