"""The dashboards' filters: one frozen dataclass, validated, convertible to and from URL params.

Dimension names are identifiers (they choose columns), so they only ever come from the
whitelist below; the selected *values* are bound as SQL list parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

# Filter dimension -> column of agg_segs (and of customers). Whitelist: nothing else is allowed.
DIMENSIONS: dict[str, str] = {
    "channel": "channel",
    "province": "province",
    "customer_type": "customer_type",
    "lifecycle_stage": "lifecycle_stage",
}
# Breakdowns shown on the Overview (dimension -> agg_segs column); industry is not a filter.
BREAKDOWNS: dict[str, str] = {
    "channel": "channel",
    "province": "province",
    "customer_type": "customer_type",
    "industry": "industry",
}
# Short URL parameter names (st.query_params) per field.
URL_KEYS = {
    "start": "from",
    "end": "to",
    "channel": "ch",
    "province": "prov",
    "customer_type": "type",
    "lifecycle_stage": "stage",
}

MAX_WINDOW_DAYS = 3660


@dataclass(frozen=True)
class Filters:
    """Date window [start, end] (both inclusive) and attribute filters (empty = all)."""

    start: date
    end: date
    channel: tuple[str, ...] = field(default_factory=tuple)
    province: tuple[str, ...] = field(default_factory=tuple)
    customer_type: tuple[str, ...] = field(default_factory=tuple)
    lifecycle_stage: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if self.end < self.start:
            raise ValueError("The end date is before the start date.")
        if (self.end - self.start).days >= MAX_WINDOW_DAYS:
            raise ValueError("The date range may span at most ten years.")
        for dim in DIMENSIONS:
            values = getattr(self, dim)
            object.__setattr__(self, dim, tuple(sorted({str(v) for v in values})))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "Filters":
        """The equal-length period just before this one, same attribute filters."""
        return replace(self, start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1))

    def dims(self) -> dict[str, list[str]]:
        """Bind parameters for the attribute filters (lists; empty = no filter)."""
        return {dim: list(getattr(self, dim)) for dim in DIMENSIONS}

    def is_filtered(self) -> bool:
        return any(getattr(self, dim) for dim in DIMENSIONS)

    # ------------------------------------------------------------ URL round trip
    def to_params(self) -> dict[str, str]:
        out = {URL_KEYS["start"]: self.start.isoformat(), URL_KEYS["end"]: self.end.isoformat()}
        for dim in DIMENSIONS:
            if getattr(self, dim):
                out[URL_KEYS[dim]] = ",".join(getattr(self, dim))
        return out

    @classmethod
    def from_params(cls, params: dict, default: "Filters") -> "Filters":
        """Filters from URL parameters; anything missing or invalid falls back to `default`."""

        def day(key: str, fallback: date) -> date:
            try:
                return date.fromisoformat(str(params.get(URL_KEYS[key], "")))
            except ValueError:
                return fallback

        values = {
            dim: tuple(v for v in str(params.get(URL_KEYS[dim], "")).split(",") if v)
            if URL_KEYS[dim] in params
            else getattr(default, dim)
            for dim in DIMENSIONS
        }
        try:
            return cls(day("start", default.start), day("end", default.end), **values)
        except ValueError:
            return replace(default, **values)


def default_window(as_of: date) -> tuple[date, date]:
    """The last twelve complete calendar months before as_of's month (no partial month, so
    the comparison with the twelve months before is like for like)."""
    index = as_of.year * 12 + as_of.month - 1 - 12
    return date(index // 12, index % 12 + 1, 1), as_of.replace(day=1) - timedelta(days=1)


def default(as_of: date) -> Filters:
    start, end = default_window(as_of)
    return Filters(start, end)
