"""Text normalisation before validation and matching: trim, full-width to half-width, names.

Everything here is a pure function of its input, so the same code serves one form field and a
million-row import (the `*_series` variants work on pandas Series and only call the slow
libraries once per distinct value).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np
import pandas as pd

_SPACES = re.compile(r"\s+")
# Characters that are never part of a customer's data and can make text lie about itself:
# C0/C1 control characters (NUL ...) except tab and line breaks, DEL, bidirectional
# overrides and isolates (U+202E shows "gpj.exe" as "exe.jpg"), LRM/RLM/ALM, zero-width space
# and a stray byte-order mark. Zero-width (non-)joiners stay: scripts and emoji need them.
CONTROL_CHARS = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
_CONTROL = re.compile(CONTROL_CHARS)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

# Two-character family names (复姓) that must not be split after the first character.
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 令狐 端木 独孤 南宫 西门 百里 呼延 轩辕".split()
)

# Surnames whose reading differs from the character's most common reading (pypinyin reads
# characters, not names: 单 would come out as "dan", 曾 as "ceng").
SURNAME_READINGS = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "区": "ou",
    "朴": "piao",
    "查": "zha",
    "覃": "qin",
    "盖": "ge",
    "缪": "miao",
    "乐": "yue",
    "秘": "bi",
    "种": "chong",
    "翟": "zhai",
    "员": "yun",
    "纪": "ji",
    "黑": "he",
    "那": "na",
    "繁": "po",
    "褚": "chu",
    "尉迟": "yuchi",
    "长孙": "zhangsun",
    "万俟": "moqi",
    "重": "chong",
    "召": "shao",
    "华": "hua",
    "任": "ren",
    "沈": "shen",
    "曲": "qu",
    "宿": "su",
    "折": "she",
    "郇": "xun",
    "藏": "zang",
}


def strip_controls(value: str) -> str:
    """`value` without the characters of CONTROL_CHARS."""
    return _CONTROL.sub("", value)


def text(value) -> str | None:
    """Trimmed, whitespace-collapsed, full-width folded to half-width (NFKC), control and
    bidirectional-override characters removed; '' -> None."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if not isinstance(value, str):
        value = str(value)
    value = _SPACES.sub(" ", strip_controls(unicodedata.normalize("NFKC", value))).strip()
    return value or None


def text_series(values: pd.Series) -> pd.Series:
    """`text` for a column of strings, vectorised in Arrow; empty strings become NA.

    Collapsing inner whitespace is a regex replace, the slowest step, so it only runs on the
    values that need it (two whitespace characters in a row, or a tab/newline/ideographic space)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(values, type=pa.string(), from_pandas=True)
    arr = pc.utf8_normalize(arr, "NFKC")
    arr = strip_controls_arrow(arr)
    needs = pc.fill_null(pc.match_substring_regex(arr, r"\s\s|[^\S ]"), False)
    if pc.any(needs).as_py():
        if isinstance(arr, pa.ChunkedArray):
            arr, needs = arr.combine_chunks(), needs.combine_chunks()
        arr = pc.replace_with_mask(arr, needs, pc.replace_substring_regex(pc.filter(arr, needs), r"\s+", " "))
    arr = pc.utf8_trim_whitespace(arr)
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    return pd.Series(
        pd.arrays.ArrowStringArray(pa.chunked_array([arr]) if isinstance(arr, pa.Array) else arr),
        index=values.index,
        dtype=pd.StringDtype("pyarrow"),
    )


def strip_controls_arrow(arr):
    """`strip_controls` over an Arrow string array; the regex replace runs only when a value
    holds such a character."""
    import pyarrow.compute as pc

    if pc.any(pc.fill_null(pc.match_substring_regex(arr, CONTROL_CHARS), False)).as_py():
        arr = pc.replace_substring_regex(arr, CONTROL_CHARS, "")
    return arr


def has_cjk(value: str | None) -> bool:
    return bool(value) and bool(_CJK.search(value))


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=200_000)
def simplified(value: str | None) -> str | None:
    """Traditional Chinese characters converted to Simplified (張偉 -> 张伟), for matching."""
    if not value:
        return value
    return _t2s().convert(value) if has_cjk(value) else value


def split_name(full_name: str | None) -> tuple[str | None, str | None]:
    """(family, given) of a name: 欧阳娜娜 -> (欧阳, 娜娜); 张伟 -> (张, 伟); Anna Smith -> (Smith, Anna);
    Smith, Anna -> (Smith, Anna). Latin names keep both parts apart so that matching can compare
    them in either order; files with given and family name columns keep them as given."""
    name = text(full_name)
    if not name:
        return None, None
    if has_cjk(name):
        compact = name.replace(" ", "").replace("·", "")
        n = 2 if simplified(compact[:2]) in COMPOUND_SURNAMES and len(compact) > 2 else 1
        return compact[:n], compact[n:] or None
    if "," in name:  # "Smith, Anna": family name first
        family, _, given = name.partition(",")
        return text(family), text(given)
    parts = name.split(" ")
    if len(parts) == 1:
        return None, parts[0]
    return parts[-1], " ".join(parts[:-1])


def join_name(family: str | None, given: str | None) -> str | None:
    """Display name in the name's own order: 张 + 伟 -> 张伟; Smith + Anna -> Anna Smith."""
    family, given = text(family), text(given)
    if not family and not given:
        return None
    if has_cjk(family or "") or has_cjk(given or ""):
        return f"{family or ''}{given or ''}"
    return " ".join(p for p in (given, family) if p)


@lru_cache(maxsize=200_000)
def _syllables(part: str, is_family: bool) -> tuple[str, ...]:
    from pypinyin import lazy_pinyin

    part = simplified(part) or ""
    if is_family and part in SURNAME_READINGS:
        return (SURNAME_READINGS[part],)
    out: list[str] = []
    for syl in lazy_pinyin(part, errors="ignore"):
        syl = syl.lower().replace("ü", "v")
        out.extend(w for w in re.split(r"[^a-z0-9v]+", syl) if w)
    return tuple(out)


def pinyin(family: str | None, given: str | None) -> str | None:
    """`name_pinyin`: syllables, initials and the syllables run together, '|'-separated:
    张伟 -> 'zhang wei|zw|zhangwei', so that one substring test finds "zhang w", "zw" and
    "zhangwei" (customer search).

    Latin names are lower-cased words in given-family order (Anna Smith -> 'anna smith|as|annasmith').
    """
    family, given = text(family), text(given)
    if not family and not given:
        return None
    if has_cjk(family or "") or has_cjk(given or ""):
        words = list(_syllables(family, True) if family else ()) + list(_syllables(given, False) if given else ())
    else:
        words = [w for w in re.split(r"[^a-z0-9]+", f"{given or ''} {family or ''}".lower()) if w]
    return _pinyin_text(words)


def _pinyin_text(words) -> str | None:
    if not words:
        return None
    return f"{' '.join(words)}|{''.join(w[0] for w in words)}|{''.join(words)}"


def _part_words(part: str | None, is_family: bool) -> tuple[tuple[str, ...], bool]:
    """(words, is_cjk) of one name part, as `pinyin` splits it."""
    part = text(part)
    if not part:
        return (), False
    if has_cjk(part):
        return _syllables(part, is_family), True
    return tuple(w for w in re.split(r"[^a-z0-9]+", part.lower()) if w), False


def pinyin_series(family: pd.Series, given: pd.Series) -> pd.Series:
    """`pinyin` for two columns: pypinyin runs once per distinct family name and once per
    distinct given name, the string once per distinct (family, given) pair; rows take theirs."""
    f_codes, f_uniques = _factorize(family)
    g_codes, g_uniques = _factorize(given)
    fam_words = [_part_words(v, True) for v in [None] + f_uniques]
    giv_words = [_part_words(v, False) for v in [None] + g_uniques]
    width = len(giv_words)
    pair_keys, rows = np.unique((f_codes + 1) * width + (g_codes + 1), return_inverse=True)
    out = []
    for k in pair_keys.tolist():
        fw, fc = fam_words[k // width]
        gw, gc = giv_words[k % width]
        words = fw + gw if (fc or gc) else gw + fw
        out.append(_pinyin_text(words))
    per_pair = pd.array(out, dtype="string")
    return pd.Series(per_pair.take(rows.reshape(-1)), index=family.index, dtype="string")


def split_name_series(full: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(family, given) columns of `split_name`, computed once per distinct name."""
    codes, uniques = _factorize(full)
    parts = [split_name(v) for v in uniques]
    rows = np.where(codes < 0, len(parts), codes)
    family = pd.array([p[0] for p in parts] + [None], dtype="string")
    given = pd.array([p[1] for p in parts] + [None], dtype="string")
    return (
        pd.Series(family.take(rows), index=full.index, dtype="string"),
        pd.Series(given.take(rows), index=full.index, dtype="string"),
    )


def _factorize(values: pd.Series) -> tuple[np.ndarray, list]:
    """(codes with -1 for NA, distinct values as Python objects), first-seen order."""
    codes, uniques = pd.factorize(values)
    return codes.astype("int64"), list(uniques)
