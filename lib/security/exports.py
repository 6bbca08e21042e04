"""The one writer of every CSV and Excel file the app hands out, and the audit of downloads.

Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula
(``=HYPERLINK(...)`` leaks data on a click, ``+cmd|' /C calc'!A0`` starts a program through
DDE), and some strip a leading tab or carriage return first. Any text we export may come from
outside: a customer's name from an import, a username typed into the login form (a failed
login lands in the audit log, and the audit log is exported). So:

* **CSV** (`to_csv`): a text cell that starts with one of ``= + - @ \\t \\r`` gets a single
  quote in front (the OWASP "CSV injection" advice), unless the whole cell is a plain number
  such as ``-12.5``, which stays a number. Numbers held as numbers are never touched. Header
  cells get the same treatment. Rows end in CRLF, so a line break inside a value is always
  quoted and cannot start a new row. UTF-8 with a BOM so that Excel reads Chinese names.
* **Excel** (`to_xlsx`): every text cell is written as a text cell (type ``s``), so no value
  is ever stored as a formula or an error code; cells that start with a formula prefix also
  carry Excel's quote-prefix style, so editing them keeps them text. Numbers stay numbers,
  dates stay dates. Characters an XLSX file cannot hold (C0 controls other than tab/LF/CR)
  are dropped instead of failing the export.

Why not `defusedcsv`: it wraps only the `csv` module's writer (we export DataFrames through
pandas and openpyxl), does not handle the tab/CR prefixes, and escapes cell by cell in Python;
here the check is one vectorised pass per text column.

`deliver` is the non-Streamlit half of an in-page download (lib/ui.py `download`): it masks the
frame for the user, encodes it and writes one ``download`` audit row with what, how many rows,
which columns and which filters - called when the user clicks, not when the button is drawn.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lib.security import audit, auth, privacy

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A cell that is just a number (optionally signed, with thousands separators, a decimal part
# or an exponent) is data, not a formula: "-12.5" stays "-12.5"; "-2+3" is neutralised.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MIMES = {"csv": CSV_MIME, "xlsx": XLSX_MIME}
FORMATS = tuple(MIMES)


def is_formula_like(value: Any) -> bool:
    """True for text a spreadsheet could run: a formula prefix that is not a plain number."""
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and _PLAIN_NUMBER.fullmatch(value) is None


def neutralise(value: Any) -> Any:
    """One cell for CSV: formula-like text gets a leading single quote; anything else as is."""
    return "'" + value if is_formula_like(value) else value


def _text_like(series: pd.Series) -> bool:
    return (
        pd.api.types.is_string_dtype(series.dtype)
        or series.dtype == object
        or isinstance(series.dtype, pd.CategoricalDtype)
    )


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the frame whose text cells and headers are safe to open in a spreadsheet."""
    out = frame.copy()
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if not _text_like(col):
            continue
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(object)
        if pd.api.types.is_string_dtype(col.dtype) and col.dtype != object:
            text = col
        else:
            text = col.map(lambda v: v if isinstance(v, str) else None).astype("string")
        # first character only (vectorised), then the number test on those few cells; by
        # position, so that any index (duplicated labels too) works
        first = text.str.slice(0, 1).isin(FORMULA_PREFIXES).fillna(False).to_numpy(dtype=bool)
        at = np.flatnonzero(first)
        if len(at):
            number = text.iloc[at].str.fullmatch(_PLAIN_NUMBER.pattern).fillna(False).to_numpy(dtype=bool)
            at = at[~number]
        if len(at):
            col = col.astype(object) if col.dtype == object else col.copy()
            col.iloc[at] = ("'" + text.iloc[at]).to_numpy()
            out.isetitem(i, col)
        elif col.dtype != out.iloc[:, i].dtype:
            out.isetitem(i, col)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def to_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV with a BOM (Excel then reads Chinese text), formula prefixes neutralised.

    Lines end in CRLF (RFC 4180): the csv writer quotes a cell holding any character of the
    line terminator, so with CRLF a lone carriage return inside a value ("x\r=1+1") is quoted
    too, instead of ending the row and starting a new one with a formula."""
    return safe_frame(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def _xlsx_value(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)  # openpyxl cannot store an offset
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (str, int, float, bool, date, datetime)):
        return value
    return str(value)  # dicts, lists, decimals, ...: their text


def to_xlsx(frame: pd.DataFrame, sheet_name: str = "data") -> bytes:
    """One sheet, header row first; text cells typed as text, numbers as numbers."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=sheet_name[:31] or "data")

    def text_cell(value: str):
        cell = WriteOnlyCell(sheet, value=_XLSX_ILLEGAL.sub("", value))
        cell.data_type = "s"  # never "f" (formula) or "e" (error code)
        if value.startswith(FORMULA_PREFIXES):
            cell.quotePrefix = True  # Excel keeps the cell text when someone edits it
        return cell

    sheet.append([text_cell(str(c)) for c in frame.columns])
    for row in frame.itertuples(index=False, name=None):
        values = []
        for raw in row:
            value = _xlsx_value(raw)
            values.append(text_cell(value) if isinstance(value, str) else value)
        sheet.append(values)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def encode(frame: pd.DataFrame, fmt: str, sheet_name: str = "data") -> tuple[bytes, str]:
    """(bytes, mime type) of the frame as csv or xlsx."""
    if fmt == "csv":
        return to_csv(frame), CSV_MIME
    if fmt == "xlsx":
        return to_xlsx(frame, sheet_name), XLSX_MIME
    raise ValueError(f"Unknown export format {fmt!r}: use csv or xlsx.")


def write_file(frame: pd.DataFrame, path: str | Path, sheet_name: str = "data") -> Path:
    """Write the frame to PATH (format from its extension; .csv when it has none)."""
    path = Path(path)
    data, _ = encode(frame, path.suffix.lower().lstrip(".") or "csv", sheet_name)
    return write_bytes(path, data)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write an export to PATH, created readable by its owner only (0600): exports carry
    customer data."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_TRUNC
    return path


# ---------------------------------------------------------------- audited in-page downloads


@dataclass(frozen=True)
class Download:
    """A table a page offers for download. `what` names it in the audit log (e.g.
    "customer_search", "chart:monthly_revenue"); `filters` are the page's filters that
    produced it (no free text that could hold personal data)."""

    what: str
    frame: pd.DataFrame
    file_stem: str
    fmt: str = "csv"
    filters: dict = field(default_factory=dict)
    mask: bool = True  # apply privacy.mask_frame for the user's roles
    record: str | None = None  # the audit row's entity id, e.g. the customer's id on 360°

    @property
    def file_name(self) -> str:
        stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in self.file_stem) or "download"
        return f"{stem}.{self.fmt}"

    @property
    def mime(self) -> str:
        return MIMES[self.fmt]


def deliver(user: auth.User, download: Download) -> bytes:
    """The file's bytes, masked for the user, with one `download` audit row (who, what, rows,
    columns, filters). Call it when the user actually downloads (a lazy download button).

    The account is read again first: a button drawn before the user was disabled or lost a
    role is refused (and the refusal audited), and masking follows the roles held now."""
    user = auth.load_user(user.username) or auth.User(user.username, user.name)  # no roles
    auth.require(user, "view_dashboard")  # a signed-in user with a role; the data itself was
    # read through its own guarded lib/ function before the page offered it
    frame = privacy.mask_frame(user, download.frame) if download.mask else download.frame
    data, _ = encode(frame, download.fmt)
    audit.record(
        None,
        user,
        "download",
        download.what,
        download.record,
        detail={
            "rows": len(frame),
            "columns": [str(c) for c in frame.columns],
            "filters": download.filters,
            "file": download.file_name,
            "format": download.fmt,
            "masked": download.mask and not privacy.can_see_contacts(user),
        },
    )
    return data
