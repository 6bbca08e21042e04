"""The one cache policy of the pages (Streamlit; to become lib/ui/cache.py).

Reads shown on pages are cached per arguments AND per `warehouse.data_version()`, which moves
with every committed write (this process's transactions; another process's writes to the
DuckDB file; a lake's new snapshot). So a cached figure is reused until the data changes and
never after: RFM and segment counts are fresh right after an import, with no timers to tune.

    @ui.cached
    def rfm_summary(as_of):
        return rfm.summary(as_of)

Only pages use this (lib/ domain code does not cache query results). `clear()` is for the
rare write that bypasses the warehouse (there is none today).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from lib.core import warehouse

F = TypeVar("F", bound=Callable[..., Any])
MAX_ENTRIES = 512  # results kept over all cached functions (small frames and dicts)

_functions: dict[str, Callable[..., Any]] = {}


@st.cache_data(show_spinner=False, max_entries=MAX_ENTRIES)
def _call(name: str, version: str, args: tuple, kwargs: dict) -> Any:
    return _functions[name](*args, **kwargs)


def cached(fn: F) -> F:
    """Cache `fn`'s result per arguments and data version (arguments must be hashable by
    Streamlit: dates, strings, numbers, frozen dataclasses)."""
    # Pages run as __main__: their file names keep two pages' functions of one name apart.
    name = f"{fn.__module__}.{fn.__qualname__}@{fn.__code__.co_filename}"
    _functions[name] = fn

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        return _call(name, warehouse.data_version(), args, kwargs)

    return call  # type: ignore[return-value]


def clear() -> None:
    """Forget every cached result."""
    _call.clear()
