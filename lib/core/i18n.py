"""UI strings in English and Simplified Chinese.

Strings live in `lib/core/locale/*.yaml`, one file per feature area, each key mapping to
`{en: ..., zh: ...}`. `t("nav.overview")` returns the text in the current language;
`{placeholders}` are filled from keyword arguments. A missing key is a bug: tests check that
every key has both languages, and `t` falls back to English, then to the key itself.

`display_frame` shows a table's stored codes and column names in the current language (the
frame itself, and so CSV downloads, keep the codes).

The current language is per session: lib/ui/session.py sets it at the start of every script run
(a ContextVar, so concurrent Streamlit sessions in threads do not see each other's choice).
"""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    import pandas as pd

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_language: contextvars.ContextVar[str] = contextvars.ContextVar("language", default=DEFAULT_LANGUAGE)


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for file in sorted(LOCALE_DIR.glob("*.yaml")):
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        for key, texts in data.items():
            if key in merged:
                raise ValueError(f"i18n key {key!r} defined twice (again in {file.name})")
            merged[key] = texts
    return merged


def set_language(lang: str) -> None:
    _language.set(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)


def language() -> str:
    return _language.get()


def t(key: str, lang: str | None = None, **params) -> str:
    texts = catalog().get(key)
    if texts is None:
        text = key
    else:
        text = texts.get(lang or language()) or texts.get(DEFAULT_LANGUAGE) or key
    return text.format(**params) if params else text


def has(key: str) -> bool:
    return key in catalog()


class Note(str):
    """A message that is its English text wherever a string is read (logs, the CLI's JSON,
    tests) and that a page shows in the reader's language (`note_text`): t(key, **values).
    Values are shown as given (numbers come formatted, "1,408"); a value that is itself a Note,
    such as a field's label, is shown in the reader's language too."""

    key: str
    values: dict[str, Any]

    def __new__(cls, key: str, **values: Any) -> "Note":
        values = {k: v if isinstance(v, Note) else str(v) for k, v in values.items()}
        note = super().__new__(cls, t(key, DEFAULT_LANGUAGE, **{k: str(v) for k, v in values.items()}))
        note.key, note.values = key, values
        return note

    def __reduce__(self):  # copies (pandas' attrs, session state) keep the key
        return (_note, (self.key, self.values))

    def text(self) -> str:
        """In the current language."""
        return t(self.key, **{k: v.text() if isinstance(v, Note) else v for k, v in self.values.items()})


def _note(key: str, values: dict[str, Any]) -> Note:
    return Note(key, **values)


def note_text(value: Any) -> Any:
    """A `Note`, or a note stored by hooks.note, in the current language; any other value as it
    is (notes of runs recorded before notes had keys)."""
    if isinstance(value, Note):
        return value.text()
    if not (isinstance(value, str) and value.startswith('{"note"')):
        return value
    try:
        stored = json.loads(value)
        return t(stored["note"], **stored.get("values", {}))
    except (ValueError, KeyError, TypeError):
        return value


def codes(prefix: str) -> list[str]:
    """The codes labelled under `prefix`, in the catalog's order: "dash.industry" ->
    ["manufacturing", "retail", ...] (the choices a form offers for a coded field)."""
    start = prefix + "."
    return [key[len(start) :] for key in catalog() if key.startswith(start) and "." not in key[len(start) :]]


Prefixes = str | Iterable[str]  # a key prefix, or several tried in order


# Babel's locale for each of our languages (country names come from CLDR)
_CLDR_LOCALES = {"en": "en", "zh": "zh_Hans"}


def country_name(code: Any, lang: str | None = None) -> Any:
    """A country's name from its ISO 3166-1 code, in the current language: "CN" -> "China" /
    "中国", "HK" -> "Hong Kong SAR China" / "中国香港特别行政区". Anything else stays as stored."""
    if not isinstance(code, str):
        return code
    return _territories(lang or language()).get(code.strip().upper(), code)


@lru_cache(maxsize=len(LANGUAGES))
def _territories(lang: str) -> dict[str, str]:
    from babel import Locale

    names = Locale.parse(_CLDR_LOCALES.get(lang, "en")).territories
    return {code: name for code, name in names.items() if len(code) == 2 and code.isalpha()}


EMPTY = "—"  # how every missing value is shown (st.dataframe would print the English "None")
# Codes every table shows the same way unless the caller maps the column itself: a stored
# code is looked up under these prefixes; unknown codes (free text, a source added later) stay.
DEFAULT_CODES: dict[str, tuple[str, ...] | Callable[[Any], Any]] = {
    "country": country_name,
    "source": ("dash.source", "dash.channel"),
    "channel": ("dash.channel", "dash.source"),
    "industry": ("dash.industry",),
    "role": ("role",),
}
# Column names shared by many tables (customer_id, created_at, ...): tried after the caller's.
SHARED_HEADERS = "common.col"
MONEY_FORMAT = "¥{:,.0f}"


def display_frame(
    frame: pd.DataFrame,
    codes: Mapping[str, Prefixes | Callable[[Any], Any]] | None = None,
    headers: Prefixes = (),
    *,
    money: Iterable[str] = (),
    json: Mapping[str, Prefixes] | None = None,
) -> pd.DataFrame:
    """A copy of `frame` to show on screen, in the current language.

    `codes` maps a column to the key prefix(es) of its values: a stored code `c` is shown as
    `t(f"{prefix}.{c}")` of the first prefix with such a key (a callable is applied instead).
    Columns named in DEFAULT_CODES (source, channel, industry ...) are translated the same way
    unless `codes` names them. Unknown codes are shown as stored (free text, a channel added
    later).
    `money` names amount columns, shown as "¥192,719,946"; `json` maps a column of JSON text
    to the key prefix(es) of its keys, shown as "Key: value; Key: value" (`readable_json`).
    Every missing value - NULL text, NaN number, NaT date, empty text - is shown as EMPTY
    ("—"); a numeric or date column with a missing value becomes text for that (numbers with
    thousands separators, times to the minute), complete ones keep their type.
    `headers` names the key prefix(es) of the column names, tried in order (a table's own
    prefix first, then a shared one such as "dash.col"; "common.col" last when any is given);
    a column without a key keeps its name.

    Only for display: CSV downloads and lib/ callers keep the stored codes and column names.
    """
    shown = frame.copy()
    mapped: dict[str, Prefixes | Callable[[Any], Any]] = {**DEFAULT_CODES, **dict(codes or {})}
    for column, how in mapped.items():
        if column in shown.columns:
            label = how if callable(how) else _code_label(_prefix_list(how))
            shown[column] = shown[column].map(label, na_action="ignore")
    for column, keys in (json or {}).items():
        if column in shown.columns:
            shown[column] = shown[column].map(lambda v, p=keys: readable_json(v, p), na_action="ignore")
    for column in money:
        if column in shown.columns:
            shown[column] = shown[column].map(money_text, na_action="ignore").astype(object)
    for column in shown.columns:
        values = shown[column]
        text = _without_gaps(values)
        if text is not values:  # assigning every column again cost more than the check
            shown[column] = text
    # the shared names only when headers are asked for (callers that label columns through
    # st.column_config by their stored names get them unchanged)
    header_prefixes, names = _prefix_list(headers) + ([SHARED_HEADERS] if headers else []), []
    for column in shown.columns:
        name = _label(header_prefixes, column)
        # two headers with the same text would make an ambiguous table (and Arrow refuses it)
        names.append(name if name not in names else str(column))
    shown.columns = names
    return shown


def _without_gaps(values: pd.Series) -> pd.Series:
    """The column with every missing value shown as EMPTY (unchanged when nothing is missing)."""
    import numpy as np
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

    missing = values.isna().to_numpy()
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        # a plain loop: Series.map over a short column cost ~0.3 ms each, on every table shown
        missing = missing | np.fromiter(
            (isinstance(v, str) and not v.strip() for v in values.tolist()), dtype=bool, count=len(values)
        )
    if not missing.any():
        return values
    if is_datetime64_any_dtype(values):
        present = values.dropna()
        whole_days = bool(len(present)) and bool((present == present.dt.normalize()).all())
        fmt = "%Y-%m-%d" if whole_days else "%Y-%m-%d %H:%M"
        text = values.dt.strftime(fmt)
    elif is_numeric_dtype(values) and not is_bool_dtype(values):
        text = values.map(number_text, na_action="ignore")
    else:
        text = values
    cells = text.to_numpy(dtype=object, copy=True)  # filled in place (Series.where cost more)
    cells[missing] = EMPTY
    return pd.Series(cells, index=values.index, name=values.name, dtype=object)


def number_text(value: Any) -> str:
    """A number for a table cell: whole numbers with separators, others with two decimals."""
    v = float(value)
    return f"{int(v):,}" if v.is_integer() else f"{v:,.2f}"


def money_text(value: Any) -> str:
    """An amount in yuan with separators ("¥192,719,946"); EMPTY when missing."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return EMPTY
    return EMPTY if v != v else MONEY_FORMAT.format(v)


# Stored values shown in words (common.value.unmasked -> "Unmasked"); ISO times to the minute.
VALUE_PREFIXES = ["common.value"]
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def readable_json(value: Any, prefixes: Prefixes = ()) -> str:
    """JSON text (an audit entry's details, a quarantined row) as "Key: value; Key: value" in
    the current language: keys through the given key prefixes, nested objects in brackets,
    lists comma-separated, missing values as EMPTY. Text that is not a JSON object is returned
    as it is."""
    if isinstance(value, (dict, list)):
        data = value
    else:
        try:
            data = json.loads(value)
        except (TypeError, ValueError):
            return value
    prefix_list = _prefix_list(prefixes) + [SHARED_HEADERS]

    def text(v: Any) -> str:
        if v is None or v == "":
            return EMPTY
        if isinstance(v, bool):
            return t("common.yes") if v else t("common.no")
        if isinstance(v, float):
            return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        if isinstance(v, dict):
            return "(" + pairs(v) + ")"
        if isinstance(v, list):
            return ", ".join(text(x) for x in v) or EMPTY
        if isinstance(v, str) and _ISO_TIME.match(v):
            return v[:16].replace("T", " ")  # "2026-12-03T08:09:59.123" -> "2026-12-03 08:09"
        return str(_label(VALUE_PREFIXES, v))

    def pairs(d: dict) -> str:
        return "; ".join(f"{key_text(k)}: {text(v)}" for k, v in d.items())

    def key_text(k: Any) -> Any:
        label = _label(prefix_list, k)
        if label is not k or not isinstance(k, str):
            return label
        return code_text((), k)  # a key without a label made readable: "flags_opened" -> "Flags opened"

    if isinstance(data, dict):
        return pairs(data) or EMPTY
    if isinstance(data, list):
        return text(data)
    return value


def code_label(prefixes: Prefixes, code: Any) -> Any:
    """A stored code in the current language (the first prefix with a key), else as stored."""
    return _label(_prefix_list(prefixes), code)


def code_text(prefixes: Prefixes, code: Any) -> Any:
    """Like `code_label`, but a code without a key is made readable rather than shown raw:
    "user.password_reset" -> "User password reset" (for open-ended codes such as audit actions)."""
    label = code_label(prefixes, code)
    if label is not code or not isinstance(code, str):
        return label
    words = code.replace(".", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def plural_key(key: str, n: int) -> str:
    """`key.one` for exactly 1 (when the catalog has it), else `key`."""
    return f"{key}.one" if n == 1 and has(f"{key}.one") else key


def plural(key: str, n: int, lang: str | None = None, **params) -> str:
    """A counted phrase (`plural_key`). `{n}` is filled with the count, separators included
    ("1 result", "1,234 results")."""
    return t(plural_key(key, n), lang, n=f"{n:,}", **params)


def sentences(messages: Iterable[str], lang: str | None = None) -> str:
    """Several messages as one text: "Name is required; a valid email is needed." (each
    message's own full stop dropped, one at the end) - never "required., A valid"."""
    zh = (lang or language()) == "zh"
    parts = [m.strip().rstrip(".。;；").strip() for m in messages if m and m.strip()]
    if not parts:
        return ""
    if not zh:  # "...; a valid email" (not "; A valid"), acronyms ("ID ...") kept
        parts = parts[:1] + [p if _acronym(p.split()[0]) else p[0].lower() + p[1:] for p in parts[1:]]
    return ("；" if zh else "; ").join(parts) + ("。" if zh else ".")


def _acronym(word: str) -> bool:
    return len(word) > 1 and word.isupper()


def _prefix_list(prefixes: Prefixes) -> list[str]:
    return [prefixes] if isinstance(prefixes, str) else list(prefixes)


def _label(prefixes: list[str], code: Any) -> Any:
    key = next((f"{p}.{code}" for p in prefixes if has(f"{p}.{code}")), None)
    return t(key) if key else code


def _code_label(prefixes: list[str]) -> Callable[[Any], Any]:
    return lambda code: _label(prefixes, code)
