"""Reachable audience of a segment per channel, and its audited export.

A member is *reachable* on a channel when both hold:
* lawful: the customer's latest consent row for that channel (by recorded_at, then id) is
  ``granted`` - a later ``withdrawn`` row wins, no row means no consent;
* reachable: the contact passes validation - sms and phone need an E.164 mobile number
  (+86 numbers must be mainland mobiles), email needs a syntactically valid address
  (rules in segment_base, lib/core/sql/marketing_segments.sql).

Exports contain only those rows, with the columns the role may see (contacts masked via
privacy.mask_frame unless the role may view contact PII), and each export is written to the
audit log - in the same transaction as the read - with the segment definition and row count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from lib.security import audit, auth, exports, privacy
from lib.marketing import segments
from lib.core import settings, warehouse, errors
from lib.marketing.queries import compose, fast_frame

CHANNELS = ("sms", "email", "phone")
# channel -> (contact column, filter). Whitelist: the only SQL fragments spliced for a channel.
_CHANNEL_SQL = {
    "sms": ("mobile", "consent_sms AND has_valid_mobile"),
    "email": ("email", "consent_email AND has_valid_email"),
    "phone": ("mobile", "consent_phone AND has_valid_mobile"),
}
FORMATS = ("csv", "xlsx")
EXCEL_MAX_ROWS = 1_048_575  # one header row + this many rows per sheet


class ExportError(errors.ValidationError):
    """An export that cannot be produced (message meant for people)."""


def _channel(channel: str) -> tuple[str, str]:
    if channel not in _CHANNEL_SQL:
        raise ExportError(f"Unknown channel {channel!r}: use one of {', '.join(CHANNELS)}.")
    return _CHANNEL_SQL[channel]


def reachable(segment: Any, as_of: date | None = None) -> pd.DataFrame:
    """Per channel: members, with consent, with a valid contact, reachable (both)."""
    _, definition = segments.resolve(segment)
    compiled = segments.compile(definition)
    sql = compose("audience_counts", {"segment_filter": compiled.sql})
    row = warehouse.one(warehouse.raw_sql(sql), as_of=as_of or settings.as_of(), **compiled.params) or {}
    return pd.DataFrame(
        [
            {
                "channel": ch,
                "members": int(row.get("members") or 0),
                "consenting": int(row.get(f"{ch}_consent") or 0),
                "valid_contact": int(row.get(f"{ch}_valid") or 0),
                "reachable": int(row.get(f"{ch}_reachable") or 0),
            }
            for ch in CHANNELS
        ]
    )


@dataclass
class Export:
    data: bytes
    rows: int
    file_name: str
    mime: str


def _rows(tx: warehouse.Tx, definition: dict, channel: str, as_of: date) -> pd.DataFrame:
    contact_column, channel_filter = _channel(channel)
    compiled = segments.compile(definition)
    sql = compose(
        "audience_rows",
        {"segment_filter": compiled.sql, "channel_filter": channel_filter, "contact_column": contact_column},
    )
    return fast_frame(tx, sql, as_of=as_of, **compiled.params)


@auth.pii_reader("export_audience")
def export(user: auth.User, segment: Any, channel: str, fmt: str = "csv", as_of: date | None = None) -> Export:
    """The reachable rows of a segment for one channel as CSV or Excel bytes; audited."""
    auth.require(user, "export_audience")
    if fmt not in FORMATS:
        raise ExportError(f"Unknown format {fmt!r}: use csv or xlsx.")
    _channel(channel)
    name, definition = segments.resolve(segment)
    return _export(user, name, definition, channel, fmt, as_of or settings.as_of())


@warehouse.retrying
def _export(user: auth.User, name: str | None, definition: dict, channel: str, fmt: str, as_of: date) -> Export:
    with warehouse.transaction() as tx:
        frame = _rows(tx, definition, channel, as_of)
        if fmt == "xlsx" and len(frame) > EXCEL_MAX_ROWS:
            raise ExportError(f"{len(frame):,} rows do not fit in one Excel sheet; export CSV instead.")
        frame = privacy.mask_frame(user, frame)
        audit.record(
            tx,
            user,
            "audience.export",
            "segment",
            name,
            detail={
                "segment": name,
                "definition": definition,
                "description": segments.describe(definition),
                "channel": channel,
                "format": fmt,
                "rows": len(frame),
                "columns": list(frame.columns),
                "masked": not privacy.can_see_contacts(user),
                "as_of": as_of,
            },
        )
    # lib/security/exports.py: formula prefixes neutralised in CSV, text cells typed as text in Excel
    data, mime = exports.encode(frame, fmt, sheet_name="audience")
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in (name or "segment"))
    return Export(data, len(frame), f"{stem}-{channel}-{as_of.isoformat()}.{fmt}", mime)


@auth.pii_reader("export_audience")
def export_to_file(user: auth.User, segment: Any, channel: str, out: str | Path, as_of: date | None = None) -> Export:
    """CLI form: the format follows the file extension (.csv or .xlsx)."""
    auth.require(user, "export_audience")
    out = Path(out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ExportError("The output file must end in .csv or .xlsx.")
    result = export(user, segment, channel, fmt, as_of)
    exports.write_bytes(out, result.data)
    return result
