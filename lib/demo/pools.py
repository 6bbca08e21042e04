"""Array helpers and the pools the generator draws from: areas, names, pinyin, seasonal curves."""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lib.demo.spec import (
    DAY,
    DemoError,
    HOUR_WEIGHTS,
    MUNICIPALITIES,
    POSTCODE_PREFIX,
    PROVINCE_WEIGHTS,
    SPRING_FESTIVAL,
    SURNAME_PINYIN,
)


# ============================================================== small helpers

NULL_STR = pa.scalar(None, pa.string())


def _strs(values) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def _take(pool: pa.Array, idx: np.ndarray) -> pa.Array:
    return pool.take(pa.array(np.asarray(idx, dtype=np.int64)))


def _cat(*parts) -> pa.Array:
    """Concatenate string arrays / scalars element-wise (null if any part is null)."""
    return pc.binary_join_element_wise(
        *[p if isinstance(p, (pa.Array, pa.ChunkedArray)) else pa.scalar(p, pa.string()) for p in parts], ""
    )


def _num(arr: np.ndarray, width: int | None = None) -> pa.Array:
    out = pc.cast(pa.array(np.asarray(arr, dtype=np.int64)), pa.string())
    return pc.utf8_lpad(out, width, "0") if width else out


def _where(mask: np.ndarray, a, b) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), a, b)


def _null_where(mask: np.ndarray, arr: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), pa.nulls(len(arr), arr.type), arr)


def _per_distinct(arr: pa.Array, fn) -> pa.Array:
    """Apply a Python function once per distinct value (names, cities), then spread back."""
    enc = pc.dictionary_encode(arr)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    mapped = _strs(fn(v) for v in enc.dictionary.to_pylist())
    return mapped.take(enc.indices)


def _scatter(base: pa.Array, rows: np.ndarray, values: pa.Array) -> pa.Array:
    """base with base[rows[i]] = values[i] (values: an Arrow array as long as rows)."""
    if len(rows) == 0:
        return base
    idx = np.arange(len(base), dtype=np.int64)
    idx[rows] = len(base) + np.arange(len(rows))
    if isinstance(base, pa.ChunkedArray):
        base = base.combine_chunks()
    return pa.concat_arrays([base, values.cast(base.type)]).take(pa.array(idx))


def _replace_rows(arr: pa.Array, rows: np.ndarray, values: list) -> pa.Array:
    """Return arr with arr[rows[i]] = values[i] (for the few hand-edited rows)."""
    if len(rows) == 0:
        return arr
    rows = np.asarray(rows, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    mask = np.zeros(len(arr), dtype=bool)
    mask[rows] = True
    vals = pa.array([values[i] for i in order], type=arr.type)
    return pc.replace_with_mask(arr, pa.array(mask), vals)


def _choice(rng: np.random.Generator, n: int, weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(w), size=n, p=w / w.sum())


def _weights(pool) -> tuple[list[str], np.ndarray]:
    """Names and frequency weights from a Faker pool (weighted dict, or a list in rank order)."""
    if isinstance(pool, dict):
        names = list(pool.keys())
        w = np.array([float(v) for v in pool.values()])
    else:
        names = list(pool)
        w = 1.0 / (np.arange(len(names)) + 8.0)  # Zipf-like: Faker lists are rank-ordered
    return names, w / w.sum()


def _unique_ints(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """n distinct random integers in [low, high)."""
    out = rng.integers(low, high, size=n)
    for _ in range(50):
        _, first = np.unique(out, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if not dup.any():
            return out
        out[dup] = rng.integers(low, high, size=int(dup.sum()))
    raise DemoError("could not draw distinct numbers (range too small)")


def _ascii(text: str) -> str:
    text = text.replace("ß", "ss").replace("æ", "ae").replace("ø", "o")
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum() or ch in "'-")


# ============================================================== reference data


@dataclass(frozen=True)
class Areas:
    """County-level divisions: ``code`` for resident IDs (valid in given birth years),
    current names for addresses (``current`` rows only)."""

    code: np.ndarray  # int, 6-digit division code
    province: pa.Array
    city: pa.Array  # prefecture-level city (or the county itself when province-run)
    district: pa.Array
    postprefix: pa.Array
    weight: np.ndarray  # where people live / were born (province population)
    current: np.ndarray  # bool: the code exists today (usable as an address)
    valid: np.ndarray  # bool [code, year - first_year]: stdnum accepts it for that year
    first_year: int


def _spans(entry: str) -> list[tuple[int, int, str]]:
    """loc.dat county entries: '[1983-]长安区' or '[-1991]东郊区,[1992-]东丽区' or '海淀区'."""
    out = []
    for part in entry.split(","):
        if not part.startswith("["):
            return [(0, 9999, part)]
        span, name = part[1:].split("]")
        start, end = span.split("-")
        out.append((int(start) if start else 0, int(end) if end else 9999, name))
    return out


def _name_in(entry: str | None, year: int) -> str | None:
    for start, end, name in _spans(entry or ""):
        if start <= year <= end:
            return name
    return None


@functools.lru_cache(maxsize=4)
def _areas(first_year: int, this_year: int) -> Areas:
    """Faker's zh_CN area codes, checked against python-stdnum's division table."""
    from faker.providers.ssn.zh_CN import Provider as Ssn
    from stdnum import numdb

    db = numdb.get("cn/loc")

    def lookup(code: str) -> tuple[str | None, str | None]:
        info = {k: v for _part, props in db.info(code) for k, v in props.items()}
        return info.get("county"), info.get("province")

    years = np.arange(first_year, this_year + 1)
    rows = []
    for code in sorted(set(Ssn.area_codes)):
        prov = int(code[:2])
        if prov not in PROVINCE_WEIGHTS or code[4:] == "00":
            continue
        entry, province = lookup(code)
        if not entry or not province:
            continue
        spans = [sp for sp in _spans(entry) if sp[2] not in ("县", "市辖区")]
        valid = np.zeros(len(years), dtype=bool)
        for start, end, _name in spans:
            valid |= (years >= start) & (years <= end)
        if not valid.any():
            continue
        district = _name_in(entry, this_year)
        if district in ("县", "市辖区"):
            district = None
        if prov in MUNICIPALITIES:
            city = province
        else:
            city = _name_in(lookup(code[:4] + "00")[0], this_year)
            if not city or "直辖" in city or city in ("县", "市辖区"):
                city = district
        current = bool(district and city)
        rows.append((int(code), province, city, district, POSTCODE_PREFIX[prov], valid, current))
    per_prov: dict[int, int] = {}
    for r in rows:
        per_prov[r[0] // 10000] = per_prov.get(r[0] // 10000, 0) + 1
    weight = np.array(
        [
            PROVINCE_WEIGHTS[r[0] // 10000] / per_prov[r[0] // 10000] * (2.0 if (r[3] or "").endswith("区") else 1.0)
            for r in rows
        ]
    )
    return Areas(
        np.array([r[0] for r in rows]),
        _strs(r[1] for r in rows),
        _strs(r[2] for r in rows),
        _strs(r[3] for r in rows),
        _strs(r[4] for r in rows),
        weight / weight.sum(),
        np.array([r[6] for r in rows]),
        np.array([r[5] for r in rows]),
        first_year,
    )


def _birthplaces(rng: np.random.Generator, areas: Areas, years: np.ndarray) -> np.ndarray:
    """Area indices (weighted) whose code python-stdnum accepts for each birth year."""
    idx = np.zeros(len(years), dtype=np.int64)
    col = np.clip(years - areas.first_year, 0, areas.valid.shape[1] - 1)
    for c in np.unique(col):
        rows = np.flatnonzero(col == c)
        w = np.where(areas.valid[:, c], areas.weight, 0.0)
        if w.sum() == 0:
            raise DemoError(f"no division code valid for birth year {areas.first_year + c}")
        idx[rows] = _choice(rng, len(rows), w)
    return idx


def _residences(rng: np.random.Generator, areas: Areas, n: int) -> np.ndarray:
    w = np.where(areas.current, areas.weight, 0.0)
    return _choice(rng, n, w)


@functools.lru_cache(maxsize=1)
def _zh_names():
    from faker.providers.person.zh_CN import Provider as P

    fam, fam_w = _weights(P.last_names)
    male, male_w = _weights(P.first_names_male)
    female, female_w = _weights(P.first_names_female)
    return fam, fam_w, male, male_w, female, female_w


@functools.lru_cache(maxsize=1)
def _common_chars_by_pinyin() -> dict[str, list[str]]:
    """GB2312 level-1 characters (the 3,755 most common) grouped by toneless pinyin:
    the homophones a pinyin input method offers, for realistic typos."""
    from pypinyin import Style, lazy_pinyin

    groups: dict[str, list[str]] = {}
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                ch = bytes([hi, lo]).decode("gb2312")
            except UnicodeDecodeError:
                continue
            groups.setdefault(lazy_pinyin(ch, style=Style.NORMAL)[0], []).append(ch)
    return groups


def _lazy_pinyin(text: str) -> list[str]:
    global _LAZY_PINYIN
    if _LAZY_PINYIN is None:
        from pypinyin import Style, lazy_pinyin

        _LAZY_PINYIN = functools.partial(lazy_pinyin, style=Style.NORMAL, errors="ignore")
    return _LAZY_PINYIN(text)


_LAZY_PINYIN = None


@functools.lru_cache(maxsize=200_000)
def _pinyin(text: str | None, surname: bool = False) -> str:
    if not text:
        return ""
    if surname and text in SURNAME_PINYIN:
        return SURNAME_PINYIN[text]
    return " ".join(_lazy_pinyin(text))


def _initials(py: str) -> str:
    return "".join(s[0] for s in py.split() if s)


@functools.lru_cache(maxsize=1)
def _opencc():
    import opencc

    return opencc.OpenCC("s2t")


# ============================================================== calendar curves


class Curve:
    """A daily intensity over the history window; samples timestamps (seconds from the
    window start) inside per-row intervals, following the curve, with an hour-of-day profile."""

    def __init__(self, weights: np.ndarray):
        self.cum = np.concatenate([[0.0], np.cumsum(weights)])
        self.x = np.arange(len(self.cum), dtype=float)
        self.hours = np.cumsum(HOUR_WEIGHTS) / HOUR_WEIGHTS.sum()

    def sample(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        lo = np.asarray(lo, dtype=np.float64)
        hi = np.asarray(hi, dtype=np.float64)
        clo = np.interp(lo / DAY, self.x, self.cum)
        chi = np.interp(hi / DAY, self.x, self.cum)
        u = clo + rng.random(len(lo)) * (chi - clo)
        days = np.floor(np.interp(u, self.cum, self.x))
        hour = np.searchsorted(self.hours, rng.random(len(lo)))
        t = days * DAY + hour * 3600 + rng.integers(0, 3600, len(lo))
        return np.clip(t, lo, np.maximum(lo, hi - 1)).astype(np.int64)


def _season(days: np.ndarray) -> np.ndarray:
    """Relative daily shopping intensity: Double 11, 618, Double 12, 520, Spring Festival."""
    d = days.astype("datetime64[D]")
    years = d.astype("datetime64[Y]").astype(int) + 1970
    month = d.astype("datetime64[M]").astype(int) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(int) + 1
    md = month * 100 + day
    w = np.ones(len(d))
    dow = (d.astype(np.int64) + 3) % 7  # 0 = Monday
    w[dow >= 5] *= 1.15
    w[(md >= 1020) & (md <= 1031)] *= 1.5  # Double 11 pre-sale
    w[(md >= 1101) & (md <= 1110)] *= 2.0
    w[md == 1111] *= 8.0
    w[md == 1112] *= 1.5
    w[(md >= 601) & (md <= 617)] *= 1.6  # 618
    w[md == 618] *= 5.0
    w[md == 1212] *= 2.5
    w[md == 520] *= 1.5
    for y in np.unique(years):
        sf = np.datetime64(f"{y}-{SPRING_FESTIVAL.get(int(y), '02-05')}")
        off = (d - sf).astype(int)
        w[(off >= -21) & (off < -7)] *= 1.35  # new-year shopping
        w[(off >= -7) & (off <= 6)] *= 0.45  # couriers and shops closed
    return w
