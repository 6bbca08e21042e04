"""UI strings in English and Simplified Chinese.

Strings live in `lib/locale/*.yaml`, one file per feature area, each key mapping to
`{en: ..., zh: ...}`. `t("nav.overview")` returns the text in the current language;
`{placeholders}` are filled from keyword arguments. A missing key is a bug: tests check that
every key has both languages, and `t` falls back to English, then to the key itself.

The current language is per session: lib/ui.py sets it at the start of every script run
(a ContextVar, so concurrent Streamlit sessions in threads do not see each other's choice).
"""
from __future__ import annotations

import contextvars
from functools import lru_cache
from pathlib import Path

import yaml

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
