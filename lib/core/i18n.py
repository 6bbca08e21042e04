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


Prefixes = str | Iterable[str]  # a key prefix, or several tried in order


def display_frame(
    frame: pd.DataFrame, codes: Mapping[str, Prefixes | Callable[[Any], Any]] | None = None, headers: Prefixes = ()
) -> pd.DataFrame:
    """A copy of `frame` to show on screen, in the current language.

    `codes` maps a column to the key prefix(es) of its values: a stored code `c` is shown as
    `t(f"{prefix}.{c}")` of the first prefix with such a key (a callable is applied instead).
    Unknown codes are shown as stored (free text, a channel added later); a NULL text is
    shown as an empty string.
    `headers` names the key prefix(es) of the column names, tried in order (a table's own
    prefix first, then a shared one such as "dash.col"); a column without a key keeps its name.

    Only for display: CSV downloads and lib/ callers keep the stored codes and column names.
    """
    shown = frame.copy()
    for column, prefixes in (codes or {}).items():
        if column in shown.columns:
            label = prefixes if callable(prefixes) else _code_label(_prefix_list(prefixes))
            shown[column] = shown[column].map(label, na_action="ignore")
    from pandas.api.types import is_string_dtype

    for column in shown.columns:
        # st.dataframe prints a missing text as the English word "None" (in every language):
        # a missing text is shown empty; numbers and dates keep their type
        if is_string_dtype(shown[column]) or shown[column].dtype == object:
            if shown[column].isna().any():
                shown[column] = shown[column].astype(object).where(shown[column].notna(), "")
    header_prefixes, names = _prefix_list(headers), []
    for column in shown.columns:
        name = _label(header_prefixes, column)
        # two headers with the same text would make an ambiguous table (and Arrow refuses it)
        names.append(name if name not in names else str(column))
    shown.columns = names
    return shown


def _prefix_list(prefixes: Prefixes) -> list[str]:
    return [prefixes] if isinstance(prefixes, str) else list(prefixes)


def _label(prefixes: list[str], code: Any) -> Any:
    key = next((f"{p}.{code}" for p in prefixes if has(f"{p}.{code}")), None)
    return t(key) if key else code


def _code_label(prefixes: list[str]) -> Callable[[Any], Any]:
    return lambda code: _label(prefixes, code)
