"""Demo warehouse generator: a deterministic, realistic Customer 360 warehouse.

    python -m lib.demo --customers 50000 --seed 42 [--warehouse PATH] [--as-of 2026-11-01] [--replace]

What it builds (see docs/demo-data.md for the full description and the measured speed):
  * customers: ~90 % Chinese (Faker zh_CN name pools with frequency weights, E.164 mobiles,
    consistent province/city/district, valid 18-digit resident IDs, pinyin search keys),
    ~10 % international; ~15 % B2B contacts with a company and a valid USCC;
  * orders and events with heavy-tailed purchase frequency, Double 11 / 618 / Spring Festival
    seasonality, registration growth, churn, prospects, consults, complaints and refunds,
    stored sorted by customer_id, then time;
  * consents per channel with withdrawal history;
  * data-quality defects at the rates below, each recorded in ``demo_ground_truth``.

Same ``(n_customers, seed, as_of)`` gives the same data (except ``id_number_enc``: Fernet
tokens carry a random IV and a timestamp; ``id_number_hash`` depends on the hash key).

Speed: every column is built with numpy / pyarrow vectorised operations; orders and events
are generated per block of customers and bulk-loaded with ``INSERT INTO ... SELECT`` from
registered Arrow tables. Python loops run only over small pools (distinct names, companies),
over the ~3 % duplicate records, and over resident IDs for encryption (the privacy helper).
"""
from __future__ import annotations

import importlib
import argparse
import functools
import sys
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lib.security import privacy
from lib.core import warehouse
from lib.core.config import ConfigError

# ============================================================== defect rates (documented)
# Exact shares of all customer rows; the number of affected rows is round(rate * n).
# The first five are mutually exclusive per row; STALE_RATE is drawn independently.
DUPLICATE_RATE = 0.03          # second record of an existing person from another source
INVALID_EMAIL_RATE = 0.02      # email present but syntactically invalid
INVALID_MOBILE_RATE = 0.02     # mobile present but not a valid phone number
MISSING_REQUIRED_RATE = 0.01   # no name, or neither mobile nor email
IMPOSSIBLE_DATE_RATE = 0.005   # birth date in the future / before 1900 / after registration
STALE_RATE = 0.05              # updated_at and verified_at older than STALE_MONTHS
STALE_MONTHS = 24

DEFECT_RATES = {
    "duplicate": DUPLICATE_RATE,
    "invalid_email": INVALID_EMAIL_RATE,
    "invalid_mobile": INVALID_MOBILE_RATE,
    "missing_required": MISSING_REQUIRED_RATE,
    "impossible_date": IMPOSSIBLE_DATE_RATE,
    "stale": STALE_RATE,
}

# ============================================================== population and behaviour
DEFAULT_AS_OF = date(2026, 11, 1)   # fixed for determinism; the last day with data
HISTORY_DAYS = 3 * 365              # registrations start this many days before as-of
INTERNATIONAL_SHARE = 0.10
B2B_SHARE = 0.15                    # of all customers; B2B contacts are Chinese companies
RESIDENT_ID_SHARE = 0.80            # Chinese customers whose source captured the resident ID
EMAIL_SHARE_CN = 0.62               # Chinese B2C customers who gave an email (B2B: all)
MOBILE_SHARE_INTL = 0.85
PROSPECT_SHARE = 0.18               # never ordered, no intent events
INTENT_SHARE = 0.10                 # carts / consults, never ordered
ONE_TIME_SHARE = 0.36               # of buyers: exactly one order in their life
CHURNER_SHARE = 0.30                # of buyers registered > 430 days ago: stop buying early
CHURN_REASON_SHARE = 0.60           # of those churners: a recorded churn_reason
TARGET_ORDERS_PER_CUSTOMER = 8.0
TARGET_EVENTS_PER_CUSTOMER = 20.0
REGISTRATION_GROWTH = 1.6           # registrations per day grow this much per year
CHURN_DAYS = 365                    # churned = purchases, none in the last 365 days
INTENT_DAYS = 90                    # intent = no purchase, cart/consult in the last 90 days
PURCHASE_STATUSES = (0, 2)          # paid, partially_refunded count as purchases (lifecycle.py)
BLOCK_CUSTOMERS = 25_000            # orders/events are generated and loaded per block

CHANNELS = ["web", "app", "wechat", "store", "referral", "ads", "partner"]
CHANNEL_SHARES = [0.20, 0.26, 0.25, 0.12, 0.06, 0.08, 0.03]
SOURCES = ["crm", "shop", "wechat_mall", "store_pos", "tmall"]
ORDER_SOURCE_PREFIX = ["CRM-SO-", "SO", "WX", "POS", "TM"]
ORDER_CHANNELS = ["web", "app", "wechat", "store", "partner"]      # a subset of CHANNELS
EVENT_CHANNELS = ORDER_CHANNELS + ["phone"]
EVENT_TYPES = ["browse", "add_to_cart", "purchase", "consult", "complaint", "return"]
ORDER_STATUSES = ["paid", "refunded", "partially_refunded", "cancelled"]
REFUND_SHARE = 0.035                # of orders older than two days: fully refunded
PARTIAL_REFUND_SHARE = 0.03
CANCEL_SHARE = 0.025                # only non-last orders of customers with >= 3 orders
STAGES = ["prospect", "intent", "customer", "repeat", "churned"]
CATEGORIES = ["apparel", "beauty", "electronics", "home", "grocery", "baby", "sports", "books"]
CATEGORY_SHARES = [0.22, 0.15, 0.12, 0.13, 0.16, 0.07, 0.09, 0.06]
CATEGORY_MEDIAN_CNY = [189, 239, 1099, 299, 79, 199, 269, 49]
CHURN_REASONS = ["price", "competitor", "service", "quality", "delivery", "moved",
                 "no_longer_needed"]
CHURN_REASON_SHARES = [0.24, 0.18, 0.16, 0.12, 0.10, 0.08, 0.12]
INDUSTRIES = ["manufacturing", "retail", "it_services", "finance", "healthcare", "education",
              "logistics", "construction", "hospitality", "professional_services"]
JOB_TITLES_ZH = ["采购经理", "采购专员", "行政主管", "行政专员", "总经理", "副总经理", "IT经理",
                 "财务经理", "运营总监", "办公室主任", "项目经理", "供应链经理", "人事经理",
                 "市场总监", "店长"]
CONSULT_NOTES = ["咨询发货时间", "询问尺码怎么选", "咨询优惠券使用规则", "问能否开具增值税专用发票",
                 "咨询会员积分兑换", "询问商品是否有现货", "咨询退换货政策", "问能否修改收货地址",
                 "咨询以旧换新活动", "询问保修期多长", "咨询双十一预售定金规则", "问门店营业时间",
                 "咨询企业批量采购价格", "询问物流到哪了"]
COMPLAINT_NOTES = ["物流太慢，一周还没到", "收到的商品有破损", "客服回复太慢", "少发了配件",
                   "退款迟迟没有到账", "商品与描述不符", "快递员态度差", "发票一直没开",
                   "优惠券无法使用", "尺码严重偏小", "重复扣款", "门店店员态度不好",
                   "安装师傅爽约", "质量有问题，用了两天就坏了"]
CONSULT_NOTES_EN = ["Asked about delivery time abroad", "Question about sizing",
                    "How to use a coupon", "Asked for an invoice",
                    "Asked about international shipping fees", "Is this item in stock?"]
COMPLAINT_NOTES_EN = ["Parcel delayed for two weeks", "Item arrived damaged",
                      "Refund not received yet", "Wrong item delivered",
                      "Customs fee was not mentioned", "Support did not reply"]
NOTES = CONSULT_NOTES + COMPLAINT_NOTES + CONSULT_NOTES_EN + COMPLAINT_NOTES_EN

# Chinese mobile prefixes (phonenumbers-valid with any 8-digit tail), weighted by usage.
CN_MOBILE_PREFIXES = {
    **{p: 3.0 for p in range(130, 140)}, 145: 0.3, 147: 0.5,
    **{p: 2.0 for p in (150, 151, 152, 153, 155, 156, 157, 158, 159)},
    162: 0.1, 165: 0.1, 166: 0.4, 167: 0.1, 170: 0.2, 171: 0.2, 172: 0.1, 173: 0.5,
    175: 0.3, 176: 0.6, 177: 0.6, 178: 0.6,
    **{p: 2.5 for p in range(180, 190)},
    190: 0.2, 191: 0.3, 192: 0.2, 193: 0.3, 195: 0.2, 196: 0.2, 197: 0.2, 198: 0.5, 199: 0.6,
}
CN_EMAIL_DOMAINS = {"163.com": 0.35, "126.com": 0.12, "sina.com": 0.06, "foxmail.com": 0.08,
                    "gmail.com": 0.05, "outlook.com": 0.10, "hotmail.com": 0.04,
                    "icloud.com": 0.10, "139.com": 0.06, "yeah.net": 0.04}
QQ_EMAIL_SHARE = 0.35

# International customers: country, name pool, address locale, share, email domains,
# mobile plans (E.164 prefix, random digits, lowest first random digit) that
# phonenumbers accepts as valid for any tail.
_US_AREAS = ["212", "213", "310", "312", "415", "617", "646", "702", "206", "305", "404",
             "512", "713", "214", "303"]
COUNTRIES = [
    ("US", "en_US", "en_US", 0.30, ["gmail.com", "yahoo.com", "outlook.com", "icloud.com"],
     [(f"+1{a}", 7, 2) for a in _US_AREAS]),
    ("GB", "en_GB", "en_GB", 0.14, ["gmail.com", "outlook.com", "btinternet.com", "yahoo.co.uk"],
     [(f"+447{d}", 8, 0) for d in "13458"]),
    ("DE", "de_DE", "de_DE", 0.12, ["gmx.de", "web.de", "gmail.com", "t-online.de"],
     [(f"+49{p}", 8, 0) for p in ("151", "152", "157", "160", "162", "170", "171", "172",
                                  "175", "176", "177", "178", "179")]),
    ("FR", "fr_FR", "fr_FR", 0.10, ["orange.fr", "gmail.com", "free.fr", "laposte.net"],
     [(f"+33{p}", 7, 0) for p in ("61", "62", "63", "64", "65", "66", "67", "68",
                                  "75", "76", "77", "78")]),
    ("JP", "ja_JP", "ja_JP", 0.20, ["gmail.com", "yahoo.co.jp", "docomo.ne.jp", "icloud.com"],
     [("+8180", 8, 0)] + [(f"+8190{d}", 7, 0) for d in "123456789"]),
    ("AU", "en_GB", "en_AU", 0.14, ["gmail.com", "bigpond.com", "outlook.com"],
     [(f"+614{d}", 7, 0) for d in "123"]),
]

# Province population (millions, 2020 census) for where Chinese customers live; the
# richer coastal provinces are weighted up for online retail.
PROVINCE_WEIGHTS = {
    11: 21.9 * 1.6, 12: 13.9, 13: 74.6, 14: 34.9, 15: 24.0, 21: 42.6, 22: 24.1, 23: 31.9,
    31: 24.9 * 1.6, 32: 84.7 * 1.3, 33: 64.6 * 1.4, 34: 61.0, 35: 41.5 * 1.2, 36: 45.2,
    37: 101.5, 41: 99.4, 42: 57.8, 43: 66.4, 44: 126.0 * 1.4, 45: 50.1, 46: 10.1,
    50: 32.1, 51: 83.7, 52: 38.6, 53: 47.2, 54: 3.6, 61: 39.5, 62: 25.0, 63: 5.9,
    64: 7.2, 65: 25.9,
}
MUNICIPALITIES = {11, 12, 31, 50}
POSTCODE_PREFIX = {11: "10", 12: "30", 13: "05", 14: "03", 15: "01", 21: "11", 22: "13",
                   23: "15", 31: "20", 32: "21", 33: "31", 34: "23", 35: "35", 36: "33",
                   37: "25", 41: "45", 42: "43", 43: "41", 44: "51", 45: "53", 46: "57",
                   50: "40", 51: "61", 52: "55", 53: "65", 54: "85", 61: "71", 62: "73",
                   63: "81", 64: "75", 65: "83"}
# Surnames whose reading as a surname differs from pypinyin's default reading.
SURNAME_PINYIN = {"单": "shan", "曾": "zeng", "仇": "qiu", "区": "ou", "查": "zha", "解": "xie",
                  "朴": "piao", "覃": "qin", "翟": "zhai", "乐": "yue", "缪": "miao",
                  "召": "shao", "盖": "ge", "秘": "bi", "长孙": "zhang sun", "尉迟": "yu chi",
                  "万俟": "mo qi", "员": "yun", "宿": "su", "柏": "bai", "句": "gou"}
SPRING_FESTIVAL = {2015: "02-19", 2016: "02-08", 2017: "01-28", 2018: "02-16", 2019: "02-05",
                   2020: "01-25", 2021: "02-12", 2022: "02-01", 2023: "01-22", 2024: "02-10",
                   2025: "01-29", 2026: "02-17", 2027: "02-06", 2028: "01-26", 2029: "02-13",
                   2030: "02-03", 2031: "01-23", 2032: "02-11", 2033: "01-31", 2034: "02-19",
                   2035: "02-08"}
HOUR_WEIGHTS = np.array([1.2, 0.7, 0.4, 0.25, 0.2, 0.25, 0.5, 1.2, 2.2, 3.0, 3.6, 3.8, 3.9,
                         3.6, 3.6, 3.7, 3.6, 3.5, 3.6, 4.3, 5.2, 5.6, 4.8, 2.8])
DAY = 86_400
YEAR = 365.25 * DAY
MONTH = YEAR / 12
DEFECT_CODES = ["none", "duplicate", "invalid_email", "invalid_mobile", "missing_required",
                "impossible_date"]


class DemoError(RuntimeError):
    """The demo warehouse cannot be built as asked (message meant for people)."""


# ============================================================== small helpers

NULL_STR = pa.scalar(None, pa.string())


def _strs(values) -> pa.Array:
    return pa.array(list(values), type=pa.string())


def _take(pool: pa.Array, idx: np.ndarray) -> pa.Array:
    return pool.take(pa.array(np.asarray(idx, dtype=np.int64)))


def _cat(*parts) -> pa.Array:
    """Concatenate string arrays / scalars element-wise (null if any part is null)."""
    return pc.binary_join_element_wise(*[p if isinstance(p, (pa.Array, pa.ChunkedArray))
                                         else pa.scalar(p, pa.string()) for p in parts], "")


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
        w = 1.0 / (np.arange(len(names)) + 8.0)     # Zipf-like: Faker lists are rank-ordered
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
    code: np.ndarray        # int, 6-digit division code
    province: pa.Array
    city: pa.Array          # prefecture-level city (or the county itself when province-run)
    district: pa.Array
    postprefix: pa.Array
    weight: np.ndarray      # where people live / were born (province population)
    current: np.ndarray     # bool: the code exists today (usable as an address)
    valid: np.ndarray       # bool [code, year - first_year]: stdnum accepts it for that year
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
    weight = np.array([PROVINCE_WEIGHTS[r[0] // 10000] / per_prov[r[0] // 10000]
                       * (2.0 if (r[3] or "").endswith("区") else 1.0) for r in rows])
    return Areas(np.array([r[0] for r in rows]), _strs(r[1] for r in rows),
                 _strs(r[2] for r in rows), _strs(r[3] for r in rows),
                 _strs(r[4] for r in rows), weight / weight.sum(),
                 np.array([r[6] for r in rows]), np.array([r[5] for r in rows]), first_year)


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
    dow = (d.astype(np.int64) + 3) % 7                       # 0 = Monday
    w[dow >= 5] *= 1.15
    w[(md >= 1020) & (md <= 1031)] *= 1.5                    # Double 11 pre-sale
    w[(md >= 1101) & (md <= 1110)] *= 2.0
    w[md == 1111] *= 8.0
    w[md == 1112] *= 1.5
    w[(md >= 601) & (md <= 617)] *= 1.6                      # 618
    w[md == 618] *= 5.0
    w[md == 1212] *= 2.5
    w[md == 520] *= 1.5
    for y in np.unique(years):
        sf = np.datetime64(f"{y}-{SPRING_FESTIVAL.get(int(y), '02-05')}")
        off = (d - sf).astype(int)
        w[(off >= -21) & (off < -7)] *= 1.35                 # new-year shopping
        w[(off >= -7) & (off <= 6)] *= 0.45                  # couriers and shops closed
    return w


# ============================================================== the generator

class _Build:
    def __init__(self, n: int, seed: int, as_of: date):
        if n < 100:
            raise DemoError("Build at least 100 customers (defect rates need a population).")
        self.n, self.seed, self.as_of = n, seed, as_of
        self.t0 = np.datetime64(as_of - timedelta(days=HISTORY_DAYS), "s")
        self.t0_epoch = int(self.t0.astype(np.int64))
        # Data runs through the end of the as-of day (lib/marketing/lifecycle.py's cutoff = as_of + 1 day).
        self.end = (HISTORY_DAYS + 1) * DAY
        days = np.datetime64(as_of - timedelta(days=HISTORY_DAYS), "D") + np.arange(HISTORY_DAYS + 1)
        season = _season(days)
        growth = np.exp(np.log(REGISTRATION_GROWTH) / 365 * np.arange(HISTORY_DAYS + 1))
        self.reg_curve = Curve(growth * season ** 0.5)
        self.order_curve = Curve(season)
        self.browse_curve = Curve(season ** 0.7)

    def rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *key])

    # ---------------------------------------------------------------- customers
    def customers(self) -> None:
        n, rng = self.n, self.rng(1)
        # Registration times first: rows are ordered by registration, ids follow that order.
        self.reg = np.sort(self.reg_curve.sample(rng, np.zeros(n), np.full(n, self.end)))
        self.intl = rng.random(n) < INTERNATIONAL_SHARE
        cn = ~self.intl
        b2b_p = B2B_SHARE / max(cn.mean(), 1e-9)
        self.b2b = cn & (rng.random(n) < b2b_p)

        self._assign_defects(rng)
        cols: dict[str, pa.Array] = {}
        self._people(rng, cols)
        self._channels(rng, cols)
        self._companies(rng, cols)
        self._emails(rng, cols)
        self._duplicates(rng, cols)
        self._field_defects(rng, cols)
        self._freshness(rng, cols)
        self.cols = cols

    def _assign_defects(self, rng: np.random.Generator) -> None:
        n = self.n
        counts = {d: int(round(DEFECT_RATES[d] * n)) for d in DEFECT_CODES[1:]}
        code = np.zeros(n, dtype=np.int8)
        # Duplicates are later records of someone seen before: never among the first rows.
        first_ok = max(1, n // 50)
        dup_rows = rng.choice(np.arange(first_ok, n), size=counts["duplicate"], replace=False)
        code[dup_rows] = 1
        free = np.flatnonzero(code == 0)
        picks = rng.permutation(free)
        at = 0
        for i, d in enumerate(DEFECT_CODES[2:], start=2):
            code[picks[at:at + counts[d]]] = i
            at += counts[d]
        self.defect = code
        # Originals: clean rows registered before the duplicate.
        clean = np.flatnonzero(code == 0)
        dups = np.flatnonzero(code == 1)
        n_before = np.searchsorted(clean, dups)                # clean rows with index < dup
        self.dup_rows = dups
        self.dup_of = clean[(rng.random(len(dups)) * n_before).astype(np.int64)]

    def _people(self, rng: np.random.Generator, cols: dict) -> None:
        n, cn, intl = self.n, ~self.intl, self.intl
        as_of_d = np.datetime64(self.as_of, "D")
        # Ages: online shoppers skew to 25-44; B2B contacts are 25-60.
        ages = np.arange(18, 81)
        age_w = np.select([ages < 25, ages < 35, ages < 45, ages < 55, ages < 65],
                          [0.8, 1.6, 1.3, 0.9, 0.5], 0.2)
        age = ages[_choice(rng, n, age_w)]
        age = np.where(self.b2b, np.clip(age, 25, 60), age)
        birth = (as_of_d - (age * 365.25).astype(np.int64)
                 - rng.integers(0, 365, n)).astype("datetime64[D]")
        male = rng.random(n) < 0.5
        self.male = male
        gender = np.where(male, "M", "F").astype(object)

        # ---- Chinese names
        fam, fam_w, mnames, mw, fnames, fw = _zh_names()
        fam_idx = _choice(rng, n, fam_w)
        family = _take(_strs(fam), fam_idx)
        single_m = [x for x in mnames if len(x) == 1]
        single_f = [x for x in fnames if len(x) == 1]
        g_pool = _strs(mnames + fnames + single_m + single_f)
        off_f, off_sm = len(mnames), len(mnames) + len(fnames)
        off_sf = off_sm + len(single_m)
        whole = np.where(male, _choice(rng, n, mw), off_f + _choice(rng, n, fw))
        sm_w = np.array([mw[mnames.index(x)] for x in single_m])
        sf_w = np.array([fw[fnames.index(x)] for x in single_f])
        c1 = np.where(male, off_sm + _choice(rng, n, sm_w), off_sf + _choice(rng, n, sf_w))
        c2 = np.where(male, off_sm + _choice(rng, n, sm_w), off_sf + _choice(rng, n, sf_w))
        c2 = np.where(c2 == c1, np.where(male, off_sm, off_sf) + (c2 + 1 - np.where(
            male, off_sm, off_sf)) % np.where(male, len(single_m), len(single_f)), c2)
        composed = rng.random(n) < 0.55
        given_zh = _where(composed, _cat(_take(g_pool, c1), _take(g_pool, c2)),
                          _take(g_pool, whole))

        fam_py = _per_distinct(family, lambda s: _pinyin(s, surname=True))
        giv_py = _per_distinct(given_zh, _pinyin)
        fam_ini = _per_distinct(fam_py, _initials)
        giv_ini = _per_distinct(giv_py, _initials)
        zh_full = _cat(family, given_zh)
        fam_c = pc.replace_substring(fam_py, " ", "")
        giv_c = pc.replace_substring(giv_py, " ", "")
        zh_pinyin = _cat(fam_py, " ", giv_py, "|", fam_ini, giv_ini, "|", fam_c, giv_c)

        # ---- international names, addresses, mobiles (computed for their rows only)
        ctry_idx = np.where(intl, _choice(rng, n, [c[3] for c in COUNTRIES]), -1)
        self.country_idx = ctry_idx
        keys = ("family", "given", "full", "py", "fam_c", "giv_c", "address", "city",
                "province", "postcode", "mobile", "domain")
        parts: dict[str, list[pa.Array]] = {k: [] for k in keys}
        order: list[np.ndarray] = []
        from faker import Faker
        for ci, (_ctry, name_loc, addr_loc, _share, domains, plans) in enumerate(COUNTRIES):
            rows = np.flatnonzero(ctry_idx == ci)
            m = len(rows)
            if m == 0:
                continue
            order.append(rows)
            mm = male[rows]
            P = importlib.import_module(f"faker.providers.person.{name_loc}").Provider
            if name_loc == "ja_JP":
                fams_p, fams_w = _weights(P.last_name_pairs)
                mp, fp = list(P.first_name_male_pairs), list(P.first_name_female_pairs)
                fi = _choice(rng, m, fams_w)
                gi = np.where(mm, rng.integers(0, len(mp), m), len(mp) + rng.integers(0, len(fp), m))
                f_s = _take(_strs(p[0] for p in fams_p), fi)
                g_s = _take(_strs([p[0] for p in mp] + [p[0] for p in fp]), gi)
                fc = pc.utf8_lower(_take(_strs(p[2] for p in fams_p), fi))
                gc = pc.utf8_lower(_take(_strs([p[2] for p in mp] + [p[2] for p in fp]), gi))
                full, py = _cat(f_s, g_s), _cat(fc, " ", gc)
            else:
                fl, fw_ = _weights(P.last_names)
                ml, mw_ = _weights(P.first_names_male)
                wl, ww_ = _weights(P.first_names_female)
                f_s = _take(_strs(fl), _choice(rng, m, fw_))
                g_s = _where(mm, _take(_strs(ml), _choice(rng, m, mw_)),
                             _take(_strs(wl), _choice(rng, m, ww_)))
                full = _cat(g_s, " ", f_s)
                py = pc.utf8_lower(full)
                fc, gc = _per_distinct(f_s, _ascii), _per_distinct(g_s, _ascii)
            for k, v in zip(keys[:6], (f_s, g_s, full, py, fc, gc)):
                parts[k].append(v)
            # addresses: a pool drawn with Faker for this locale, sampled per row
            fk = Faker(addr_loc)
            fk.seed_instance(self.seed * 1000 + ci)
            pool = [self._faker_address(fk, addr_loc) for _ in range(min(400, 20 + m))]
            pidx = rng.integers(0, len(pool), m)
            for j, k in enumerate(("address", "city", "province", "postcode")):
                parts[k].append(_take(_strs(p[j] for p in pool), pidx))
            parts["mobile"].append(self._mobiles(rng, m, plans))
            parts["domain"].append(_take(_strs(domains), rng.integers(0, len(domains), m)))
        irows = np.concatenate(order) if order else np.zeros(0, dtype=np.int64)
        nulls = pa.nulls(n, pa.string())
        intl_col = {k: _scatter(nulls, irows, pa.concat_arrays(v) if v else pa.nulls(0, pa.string()))
                    for k, v in parts.items()}
        i_family, i_given, i_full, i_py = (intl_col[k] for k in ("family", "given", "full", "py"))
        i_fam_c, i_giv_c, i_mobile, i_domain = (intl_col[k] for k in ("fam_c", "giv_c", "mobile",
                                                                     "domain"))
        i_addr = {k: intl_col[k] for k in ("address", "city", "province", "postcode")}

        # ---- Chinese birthplace, residence, resident ID, mobile
        areas = _areas(self.as_of.year - 100, self.as_of.year)
        byear = birth.astype("datetime64[Y]").astype(np.int64) + 1970
        born = _birthplaces(rng, areas, byear)
        moved = (rng.random(n) < 0.25) | ~areas.current[born]      # most live where born
        home = np.where(moved, _residences(rng, areas, n), born)
        seq = rng.integers(0, 500, n) * 2 + male.astype(np.int64)   # odd = male
        area_code = areas.code[born]
        bdays = birth.astype(np.int64)
        for _ in range(20):                                          # resident IDs are unique
            key = (area_code.astype(np.int64) * 200_000 + (bdays + 100_000)) * 1000 + seq
            key = np.where(cn, key, -np.arange(n) - 1)
            _, first = np.unique(key, return_index=True)
            clash = np.ones(n, dtype=bool)
            clash[first] = False
            if not clash.any():
                break
            seq[clash] = rng.integers(0, 500, int(clash.sum())) * 2 + male[clash]
        ymd = self._ymd(birth)
        body = np.char.add(np.char.add(area_code.astype("U6"), ymd.astype("U8")),
                           np.char.zfill(seq.astype("U3"), 3))
        id_numbers = np.char.add(body, _ric_check(body))
        has_id = cn & (rng.random(n) < RESIDENT_ID_SHARE)
        self.id_number = np.where(has_id, id_numbers, None).astype(object)
        self.birth_true = birth

        cn_mobile = self._cn_mobiles(rng, n)
        street_pool = _strs(sorted(set(self._street_names())))
        street = _take(street_pool, rng.integers(0, len(street_pool), n))
        no = _num(rng.integers(1, 400, n))
        unit = _where(rng.random(n) < 0.75,
                      _cat(_num(rng.integers(1, 30, n)), "栋", _num(rng.integers(1, 33, n)),
                           _num(rng.integers(1, 9, n), 2), "室"), pa.scalar("", pa.string()))
        zh_addr = _cat(street, no, "号", unit)
        postcode = _cat(_take(areas.postprefix, home), _num(rng.integers(0, 10_000, n), 4))

        cols["family_name"] = _where(cn, family, i_family)
        cols["given_name"] = _where(cn, given_zh, i_given)
        cols["full_name"] = _where(cn, zh_full, i_full)
        cols["name_pinyin"] = _where(cn, zh_pinyin, i_py)
        cols["gender"] = pa.array(np.where(intl & (rng.random(n) < 0.04), "U", gender).tolist(),
                                  type=pa.string())
        self.birth = birth.copy()
        cols["mobile"] = _where(cn, cn_mobile, i_mobile)
        country = np.array([c[0] for c in COUNTRIES] + ["CN"], dtype=object)
        cols["country"] = pa.array(country[ctry_idx].tolist(), type=pa.string())
        cols["province"] = _where(cn, _take(areas.province, home), i_addr["province"])
        cols["city"] = _where(cn, _take(areas.city, home), i_addr["city"])
        cols["district"] = _where(cn, _take(areas.district, home), pa.nulls(n, pa.string()))
        cols["address"] = _where(cn, zh_addr, i_addr["address"])
        cols["postcode"] = _where(cn, postcode, i_addr["postcode"])
        # compact latin forms of the name, for email local parts
        self.fam_c = _where(cn, fam_c, i_fam_c)
        self.giv_c = _where(cn, giv_c, i_giv_c)
        self.ini = _where(cn, _cat(fam_ini, giv_ini), pa.nulls(n, pa.string()))
        self.i_domain = i_domain
        # intl: some have no mobile (email only)
        no_mob = intl & (rng.random(n) >= MOBILE_SHARE_INTL)
        cols["mobile"] = _null_where(no_mob, cols["mobile"])

    @staticmethod
    def _faker_address(fk, loc: str) -> tuple[str, str, str, str]:
        if loc == "ja_JP":
            return (f"{fk.town()}{fk.chome()}{fk.ban()}{fk.gou()}", fk.city(), fk.prefecture(),
                    fk.zipcode())
        if loc in ("en_US", "en_AU"):
            return fk.street_address(), fk.city(), fk.state_abbr(), fk.postcode()
        if loc == "en_GB":
            return fk.street_address(), fk.city(), fk.county(), fk.postcode()
        return fk.street_address(), fk.city(), fk.administrative_unit(), fk.postcode()

    @staticmethod
    def _street_names() -> list[str]:
        from faker.providers.address.zh_CN import Provider as A
        fam, *_ = _zh_names()
        bases = list(A.cities) + list(A.districts)[:200] + fam[:60]
        out = []
        for i, b in enumerate(bases):
            out.append(b + ("路", "街", "大道", "路", "巷")[i % 5])
        return out

    @staticmethod
    def _ymd(d: np.ndarray) -> np.ndarray:
        y = d.astype("datetime64[Y]").astype(np.int64) + 1970
        m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
        day = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
        return y * 10000 + m * 100 + day

    def _cn_mobiles(self, rng: np.random.Generator, n: int) -> pa.Array:
        """Distinct valid mobiles; none looks like a placeholder (1111111, 12345678)."""
        prefixes = np.array(list(CN_MOBILE_PREFIXES.keys()), dtype=np.int64)
        pre = prefixes[_choice(rng, n, list(CN_MOBILE_PREFIXES.values()))]
        nums = pre * 100_000_000 + rng.integers(0, 100_000_000, n)
        for _ in range(50):
            _, first = np.unique(nums, return_index=True)
            redo = np.ones(n, dtype=bool)
            redo[first] = False
            redo |= _placeholder_like(_num(nums))
            if not redo.any():
                break
            nums[redo] = pre[redo] * 100_000_000 + rng.integers(0, 100_000_000, int(redo.sum()))
        return _cat("+86", _num(nums))

    @staticmethod
    def _mobiles(rng: np.random.Generator, n: int, plans) -> pa.Array:
        """Numbers in E.164 following the country's valid mobile plans (prefix + digits)."""
        pick = rng.integers(0, len(plans), n)
        out = pa.nulls(n, pa.string())
        redo = np.ones(n, dtype=bool)
        for _ in range(50):
            for j, (prefix, digits, lowest) in enumerate(plans):
                first = rng.integers(lowest, 10, n)
                rest = rng.integers(0, 10 ** (digits - 1), n)
                num = _cat(prefix, _num(first), _num(rest, digits - 1))
                out = _where(redo & (pick == j), num, out)
            redo = _placeholder_like(out)
            if not redo.any():
                break
        return out

    def _channels(self, rng: np.random.Generator, cols: dict) -> None:
        n = self.n
        ch = _choice(rng, n, CHANNEL_SHARES)
        ch = np.where(self.intl, np.where(rng.random(n) < 0.5, 0, 1), ch)   # web or app
        b2b_ch = np.array([0, 4, 6, 3, 5])[_choice(rng, n, [0.30, 0.20, 0.30, 0.10, 0.10])]
        ch = np.where(self.b2b, b2b_ch, ch)
        # source system per acquisition channel
        r = rng.random(n)
        src = np.select(
            [ch == 0, ch == 1, ch == 2, ch == 3, ch == 4, ch == 5, ch == 6],
            [np.where(r < 0.8, 1, 4), np.full(n, 1), np.full(n, 2), np.full(n, 3),
             np.where(r < 0.6, 2, 1), np.where(r < 0.5, 1, 4), np.where(r < 0.5, 0, 4)], 1)
        src = np.where(self.b2b, np.where(r < 0.7, 0, 1), src)
        self.channel, self.source = ch, src
        # preferred order channel (index into ORDER_CHANNELS)
        pref = np.array([0, 1, 2, 3, 2, 0, 4])[ch]
        pref = np.where((ch == 4) & (r < 0.5), 1, pref)
        pref = np.where((ch == 5) & (r < 0.5), 1, pref)
        pref = np.where((ch == 6) & ~self.b2b, 0, pref)
        self.pref_channel = pref
        self.online_channel = np.where(pref <= 2, pref, np.where(r < 0.6, 1, 2))

    def _companies(self, rng: np.random.Generator, cols: dict) -> None:
        from faker.providers.company.zh_CN import Provider as C
        n = self.n
        n_b2b = int(self.b2b.sum())
        m = max(1, n_b2b // 3)
        areas = _areas(self.as_of.year - 100, self.as_of.year)
        # companies sit in cities ("北京", "苏州"): short city name + trade name + form
        city_names = np.array(areas.city.to_pylist(), dtype=object)
        ok = areas.current & np.array([bool(c) and c.endswith("市") and len(c) <= 4
                                       for c in city_names])
        big = np.array([PROVINCE_WEIGHTS[c // 10000] for c in areas.code]) * ok
        a_idx = _choice(rng, m, np.where(ok, areas.weight * (1 + 3 * (big > 60)), 0.0))
        short = pc.utf8_replace_slice(_take(areas.city, a_idx), -1, 100, "")
        pre_i = rng.integers(0, len(C.company_prefixes), m)
        prefix = _take(_strs(C.company_prefixes), pre_i)
        name = _cat(short, prefix, _take(_strs(C.company_suffixes),
                                         rng.integers(0, len(C.company_suffixes), m)))
        # USCC: 9 (SAIC) + 1 (enterprise) + region + organisation code (GB 11714) + check
        org = rng.integers(0, 10, (m, 8))
        ow = np.array([3, 7, 9, 10, 5, 8, 4, 2])
        c9 = 11 - (org * ow).sum(axis=1) % 11
        c9s = np.where(c9 == 10, "X", np.where(c9 == 11, "0", c9.astype("U2")))
        body = np.char.add(np.char.add(np.char.add("91", areas.code[a_idx].astype("U6")),
                                       np.array(["".join(map(str, o)) for o in org.tolist()])),
                           c9s)
        codes = np.char.add(body, _uscc_check(body))
        industry = _take(_strs(INDUSTRIES), rng.integers(0, len(INDUSTRIES), m))
        city_ini = _per_distinct(short, lambda s: _initials(_pinyin(s)))
        pre_c = _per_distinct(prefix, lambda s: _pinyin(s).replace(" ", ""))
        tld = _take(_strs([".com", ".com.cn", ".cn"]), rng.integers(0, 3, m))
        domain = _cat(city_ini, pre_c, tld)
        # contacts -> companies (a few big accounts with many contacts)
        w = 1.0 / (np.arange(m) + 3.0) ** 0.6
        comp = np.where(self.b2b, _choice(rng, n, w), 0)
        b2b = self.b2b

        def spread(values: pa.Array) -> pa.Array:
            return _null_where(~b2b, _take(values, comp))
        cols["company"] = spread(name)
        cols["industry"] = spread(industry)
        cols["uscc"] = spread(_strs(codes.tolist()))
        cols["job_title"] = _null_where(~b2b, _take(_strs(JOB_TITLES_ZH),
                                                    rng.integers(0, len(JOB_TITLES_ZH), n)))
        cols["customer_type"] = pa.array(np.where(b2b, "B2B", "B2C").tolist(), type=pa.string())
        self.work_domain = spread(domain)

    def _emails(self, rng: np.random.Generator, cols: dict) -> None:
        n, cn, intl, b2b = self.n, ~self.intl, self.intl, self.b2b
        num = rng.integers(0, 10_000, n)
        digits = _where(rng.random(n) < 0.45, pa.scalar("", pa.string()),
                        _where(rng.random(n) < 0.5, _num(1970 + num % 40), _num(num % 1000)))
        style = rng.integers(0, 3, n)
        local = _where(style == 0, _cat(self.fam_c, self.giv_c),
                       _where(style == 1, _cat(self.giv_c, ".", self.fam_c),
                              _where(cn, self.ini, _cat(pc.utf8_slice_codeunits(self.giv_c, 0, 1),
                                                        self.fam_c))))
        local = _cat(local, digits)
        domains = list(CN_EMAIL_DOMAINS)
        cn_dom = _take(_strs(domains), _choice(rng, n, list(CN_EMAIL_DOMAINS.values())))
        qq = cn & ~b2b & (rng.random(n) < QQ_EMAIL_SHARE)
        qq_num = _num(_unique_ints(rng, n, 10_000, 3_999_999_999))
        local = _where(qq, qq_num, local)
        domain = _where(qq, pa.scalar("qq.com", pa.string()),
                        _where(intl, self.i_domain, cn_dom))
        work_local = _cat(self.giv_c, ".", self.fam_c)
        local = _where(b2b, work_local, local)
        domain = _where(b2b, self.work_domain, domain)
        # make every address unique: append digits to later collisions
        extra = _num(_unique_ints(rng, n, 10, 10 * n + 1000))
        email = _cat(local, "@", domain)
        for _ in range(5):
            dup = _duplicated(email)
            if not dup.any():
                break
            local = _where(dup, _cat(local, extra), local)
            email = _cat(local, "@", domain)
        has = np.where(intl | b2b, True, rng.random(n) < EMAIL_SHARE_CN)
        cols["email"] = _null_where(~has, email)
        self.email_local, self.email_domain = local, domain

    # ---------------------------------------------------------------- duplicates
    def _duplicates(self, rng: np.random.Generator, cols: dict) -> None:
        """Turn the chosen rows into second records of earlier people (another source)."""
        rows, orig = self.dup_rows, self.dup_of
        k = len(rows)
        self.dup_detail = []
        if k == 0:
            return
        src_idx = np.arange(self.n)
        src_idx[rows] = orig
        take = pa.array(src_idx)
        for c in ("family_name", "given_name", "full_name", "name_pinyin", "gender", "country",
                  "province", "city", "district", "address", "postcode", "customer_type",
                  "company", "industry", "uscc", "job_title"):
            cols[c] = cols[c].take(take)
        for attr in ("birth", "birth_true", "intl", "b2b", "male", "country_idx"):
            arr = getattr(self, attr)
            arr[rows] = arr[orig]
        keep_id = rng.random(k) < 0.5
        self.id_number[rows] = np.where(keep_id, self.id_number[orig], None)
        # another source than the original's (and the acquisition channel that fits it)
        self.source[rows] = (self.source[orig] + rng.integers(1, len(SOURCES), k)) % len(SOURCES)
        self.channel[rows] = np.array([6, 0, 2, 3, 5])[self.source[rows]]

        sel = pa.array(orig)
        fam = cols["family_name"].take(sel).to_pylist()
        giv = cols["given_name"].take(sel).to_pylist()
        pys = cols["name_pinyin"].take(sel).to_pylist()
        mob = cols["mobile"].take(sel).to_pylist()
        eml = cols["email"].take(sel).to_pylist()
        homophones = _common_chars_by_pinyin()
        cc = _opencc()
        u = rng.random((k, 6))
        new = {c: [] for c in ("family_name", "given_name", "full_name", "name_pinyin",
                               "mobile", "email")}
        for i, r in enumerate(rows.tolist()):
            f, g, py, m, e = fam[i], giv[i], pys[i], mob[i], eml[i]
            culture = "zh" if not self.intl[r] else ("ja" if _is_cjk(f + g) else "latin")
            what = []
            # name: same, a typo (homophone for Chinese), or the traditional characters
            if u[i, 0] < 0.40 or culture == "ja":
                what.append("name:same")
            elif culture == "latin":
                f = _letter_typo(f, u[i, 5])
                what.append("name:typo")
            elif u[i, 0] < 0.70:
                g2 = _homophone_typo(g, homophones, u[i, 5])
                what.append("name:homophone" if g2 != g else "name:same")
                g = g2
            else:
                f2, g2 = cc.convert(f), cc.convert(g)
                if f2 + g2 != f + g:
                    f, g = f2, g2
                    what.append("name:traditional")
                else:                                     # no traditional form: a homophone
                    g = _homophone_typo(g, homophones, u[i, 5])
                    what.append("name:homophone" if g != giv[i] else "name:same")
            if culture == "latin":
                full, py = f"{g} {f}", f"{g} {f}".lower()
            else:
                full = f + g
                if culture == "zh":
                    fpy, gpy = _pinyin(f, surname=True), _pinyin(g)
                    words = f"{fpy} {gpy}"
                    py = f"{words}|{_initials(fpy)}{_initials(gpy)}|{words.replace(' ', '')}"
            # mobile: same, formatted as another system typed it, or not captured
            if m and u[i, 1] < 0.45:
                what.append("mobile:same")
            elif m and u[i, 1] < 0.75:
                m = _format_variant(m, u[i, 4])
                what.append("mobile:formatted")
            else:
                m = None
                what.append("mobile:missing")
            # email: same, different letter case, a typo, or not captured
            if e and u[i, 2] < 0.40:
                what.append("email:same")
            elif e and u[i, 2] < 0.60:
                loc, dom = e.rsplit("@", 1)
                e = f"{loc.capitalize() if u[i, 3] < 0.5 else loc.upper()}@{dom}"
                what.append("email:case" if e != eml[i] else "email:same")
            elif e and u[i, 2] < 0.75:
                loc, dom = e.rsplit("@", 1)
                e = f"{_letter_typo(loc, u[i, 3])}@{dom}"
                what.append("email:typo")
            else:
                e = None
                what.append("email:missing")
            if m is None and e is None:                   # keep the record contactable
                if mob[i]:
                    m, what[-2] = mob[i], "mobile:same"
                else:
                    e, what[-1] = eml[i], "email:same"
            for c, v in zip(new, (f, g, full, py, m, e)):
                new[c].append(v)
            self.dup_detail.append(";".join(what + [f"source:{SOURCES[self.source[r]]}"]))
        for c, values in new.items():
            cols[c] = _replace_rows(cols[c], rows, values)

    # ---------------------------------------------------------------- other defects
    def _field_defects(self, rng: np.random.Generator, cols: dict) -> None:
        truth: list[tuple[int, str, str | None, str, int | None]] = []
        for r, o, d in zip(self.dup_rows.tolist(), self.dup_of.tolist(), self.dup_detail):
            truth.append((r, "duplicate", None, d, o))

        # invalid emails: every such row gets an email, then breaks it
        rows = np.flatnonzero(self.defect == 2)
        local = self.email_local.take(pa.array(rows)).to_pylist()
        dom = self.email_domain.take(pa.array(rows)).to_pylist()
        variants = rng.integers(0, 7, len(rows))
        bad = [_bad_email(loc, dm, v) for loc, dm, v in zip(local, dom, variants)]
        cols["email"] = _replace_rows(cols["email"], rows, bad)
        truth += [(r, "invalid_email", "email", f"{EMAIL_DEFECTS[v]}: {b}", None)
                  for r, v, b in zip(rows.tolist(), variants.tolist(), bad)]

        # invalid mobiles
        rows = np.flatnonzero(self.defect == 3)
        mob = cols["mobile"].take(pa.array(rows)).to_pylist()
        variants = rng.integers(0, 5, len(rows))
        fill = rng.integers(0, 10 ** 8, len(rows))
        bad = [_bad_mobile(m, int(v), int(f)) for m, v, f in zip(mob, variants, fill)]
        cols["mobile"] = _replace_rows(cols["mobile"], rows, bad)
        truth += [(r, "invalid_mobile", "mobile", f"{MOBILE_DEFECTS[v]}: {b}", None)
                  for r, v, b in zip(rows.tolist(), variants.tolist(), bad)]

        # missing required: no contact at all, or no name
        rows = np.flatnonzero(self.defect == 4)
        no_name = rng.random(len(rows)) < 0.4
        for c in ("mobile", "email"):
            cols[c] = _replace_rows(cols[c], rows[~no_name], [None] * int((~no_name).sum()))
        for c in ("family_name", "given_name", "full_name", "name_pinyin"):
            cols[c] = _replace_rows(cols[c], rows[no_name], [None] * int(no_name.sum()))
        truth += [(r, "missing_required", "full_name" if nn else "mobile,email",
                   "no name" if nn else "neither mobile nor email", None)
                  for r, nn in zip(rows.tolist(), no_name.tolist())]

        # impossible dates
        rows = np.flatnonzero(self.defect == 5)
        kind = rng.integers(0, 3, len(rows))
        as_of_d = np.datetime64(self.as_of, "D")
        reg_d = (self.t0 + self.reg[rows].astype("timedelta64[s]")).astype("datetime64[D]")
        future = as_of_d + rng.integers(30, 3000, len(rows)).astype("timedelta64[D]")
        ancient = (np.datetime64("1800-01-01") + rng.integers(0, 36_000, len(rows))
                   .astype("timedelta64[D]"))
        after_reg = reg_d + rng.integers(1, 600, len(rows)).astype("timedelta64[D]")
        new = np.where(kind == 0, future, np.where(kind == 1, ancient, after_reg))
        self.birth[rows] = new
        labels = ["birth date in the future", "birth date before 1900",
                  "registered before birth"]
        truth += [(r, "impossible_date", "birth_date", f"{labels[k]}: {b}", None)
                  for r, k, b in zip(rows.tolist(), kind.tolist(), new.astype(str).tolist())]
        self.truth = truth

    def _freshness(self, rng: np.random.Generator, cols: dict) -> None:
        """updated_at / verified_at: recent for most rows, older than STALE_MONTHS for a few."""
        n, end = self.n, self.end
        fresh_from = end - int((STALE_MONTHS - 1) * MONTH)          # a month of margin
        stale_before = end - int((STALE_MONTHS + 1) * MONTH)
        eligible = np.flatnonzero(self.reg < stale_before - 7 * DAY)
        k = min(int(round(STALE_RATE * n)), len(eligible))
        stale = np.zeros(n, dtype=bool)
        stale[rng.choice(eligible, size=k, replace=False)] = True
        lo = np.maximum(self.reg, fresh_from)
        upd = lo + (rng.random(n) * (end - lo)).astype(np.int64)
        ver = lo + (rng.random(n) * (upd - lo)).astype(np.int64)
        s_upd = self.reg + (rng.random(n) * (stale_before - self.reg)).astype(np.int64)
        s_ver = self.reg + (rng.random(n) * (s_upd - self.reg)).astype(np.int64)
        self.updated = np.where(stale, s_upd, upd)
        self.verified = np.where(stale, s_ver, ver)
        self.stale = stale
        for r in np.flatnonzero(stale).tolist():
            self.truth.append((r, "stale", "updated_at",
                               f"updated and verified more than {STALE_MONTHS} months ago", None))

    # ---------------------------------------------------------------- behaviour plan
    def plan(self) -> None:
        """Per customer: class (prospect / intent / buyer), activity window, order count."""
        n, rng, end = self.n, self.rng(2), self.end
        u = rng.random(n)
        cls = np.where(u < PROSPECT_SHARE, 0, np.where(u < PROSPECT_SHARE + INTENT_SHARE, 1, 2))
        delay = np.where(rng.random(n) < 0.5, rng.exponential(3600, n),
                         rng.exponential(20 * DAY, n)).astype(np.int64)
        # would-be buyers whose first order would come after as-of have not bought yet
        late = (cls == 2) & (self.reg + delay >= end)
        cls = np.where(late, np.where(rng.random(n) < 0.5, 1, 0), cls)
        buyer = cls == 2
        start = np.minimum(self.reg + delay, end - 1)
        # explicit churners: registered long enough ago, stop at a random point in time
        last_allowed = end - (CHURN_DAYS + 1) * DAY
        can_churn = buyer & (start + 30 * DAY < last_allowed) & (self.reg < end - 430 * DAY)
        churner = can_churn & (rng.random(n) < CHURNER_SHARE)
        churn_end = start + 30 * DAY + (rng.random(n) * np.maximum(
            last_allowed - start - 30 * DAY, 1)).astype(np.int64)
        stop = np.where(churner, churn_end, end)
        reason = np.where(churner & (rng.random(n) < CHURN_REASON_SHARE),
                          _choice(rng, n, CHURN_REASON_SHARES), -1)
        one_time = buyer & (rng.random(n) < ONE_TIME_SHARE)
        repeat = buyer & ~one_time
        b2b_f = np.where(self.b2b, 0.6, 1.0)
        rate = rng.lognormal(np.log(4.0), 1.15, n) * b2b_f          # orders per year
        wy = (stop - start) / YEAR
        lam = rate * wy
        fixed = one_time.sum() + 2 * repeat.sum()
        scale = max(0.0, (TARGET_ORDERS_PER_CUSTOMER * n - fixed) / max(lam[repeat].sum(), 1e-9))
        k = np.where(repeat, 2 + rng.poisson(np.minimum(lam * scale, 3000)), 0)
        k = np.where(one_time, 1, k)
        self.cls, self.k, self.start, self.stop = cls, k.astype(np.int64), start, stop
        self.churner, self.reason = churner, reason
        # favourite category (gender-tilted) and event volume calibration
        base = np.array(CATEGORY_SHARES)
        tilt_f = base * np.array([1.3, 2.2, 0.6, 1.0, 1.0, 1.5, 0.7, 1.0])
        tilt_m = base * np.array([0.8, 0.4, 2.2, 1.0, 1.0, 0.8, 1.6, 1.0])
        fav = np.where(self.male, _choice(rng, n, tilt_m), _choice(rng, n, tilt_f))
        self.fav = fav
        kf = k.astype(float)
        per_order = 1 + 0.3 + 0.5 + (REFUND_SHARE + PARTIAL_REFUND_SHARE)
        buyers_fixed = (kf * per_order + 0.15 * kf ** 0.8 + 0.2 + 0.04 * kf
                        + 0.05 + 0.012 * kf)[buyer].sum() + churner.sum() * 0.5
        others = (cls == 1).sum() * (2.5 + 2.2 + 0.5) + (cls == 0).sum() * 0.8
        want = TARGET_EVENTS_PER_CUSTOMER * n - buyers_fixed - others
        self.beta = max(0.0, want / max((1 + kf[buyer] ** 0.8).sum(), 1e-9))

    # ---------------------------------------------------------------- orders and events
    def block(self, a: int, b: int):
        """Orders and events of customers [a, b), sorted by customer then time. Their ids
        are numbered from 0 here; the loader adds the first id drawn from the sequence."""
        rng = self.rng(3, a)
        end = self.end
        K = self.k[a:b]
        n_o = int(K.sum())
        cust = np.repeat(np.arange(a, b), K)
        offs = np.cumsum(K) - K
        pos = np.arange(n_o) - np.repeat(offs, K)
        lo, hi = self.start[cust], self.stop[cust]
        t = self.order_curve.sample(rng, lo, hi)
        t = np.where(pos == 0, lo, t)
        srt = np.argsort((cust.astype(np.int64) << 28) | t, kind="stable")
        t = t[srt]                                    # cust and pos are unchanged by the sort
        last = pos == np.repeat(K, K) - 1
        # orders
        cat = np.where(rng.random(n_o) < 0.55, self.fav[cust], _choice(rng, n_o, CATEGORY_SHARES))
        b2b = self.b2b[cust]
        items = np.where(b2b, 1 + rng.poisson(6, n_o), 1 + rng.poisson(0.5, n_o))
        unit = rng.lognormal(np.log(np.array(CATEGORY_MEDIAN_CNY)[cat]), 0.6) \
            * np.where(b2b, 1.5, 1.0)
        amount = np.maximum(100, np.round(unit * items ** 0.85 * 100)).astype(np.int64)
        r = rng.random(n_o)
        refundable = t < end - 2 * DAY
        status = np.where(refundable & (r < REFUND_SHARE), 1,
                          np.where(refundable & (r < REFUND_SHARE + PARTIAL_REFUND_SHARE), 2, 0))
        cancel = (np.repeat(K, K) >= 3) & ~last & (rng.random(n_o) < CANCEL_SHARE)
        status = np.where(cancel, 3, status)
        refund = np.where(status == 1, amount, np.where(
            status == 2, np.round(amount * rng.uniform(0.1, 0.7, n_o)), 0)).astype(np.int64)
        ch = np.where(rng.random(n_o) < 0.7, self.pref_channel[cust],
                      _choice(rng, n_o, [0.25, 0.35, 0.25, 0.12, 0.03]))
        ch = np.where(b2b & (rng.random(n_o) < 0.6), 4, ch)
        src = np.array([1, 1, 2, 3, 0])[ch]
        src = np.where((ch == 0) & (rng.random(n_o) < 0.25), 4, src)
        oid = np.arange(n_o, dtype=np.int64)
        orders = pa.table({
            "order_id": oid, "customer_id": cust, "source": src.astype(np.int8),
            "ts": (self.t0_epoch + t) * 1_000_000, "status": status.astype(np.int8),
            "amount_cents": amount, "refund_cents": refund, "channel": ch.astype(np.int8),
            "category": cat.astype(np.int8), "item_count": items.astype(np.int32)})

        # events ------------------------------------------------------
        ev = _Events()
        reg = self.reg
        # purchase: one per order, same id / amount / time
        ev.add(cust, t, 2, ch, cat, amount, np.arange(n_o), src, -1, 0)
        # funnel: add_to_cart and browse shortly before an order
        m = rng.random(n_o) < 0.3
        tt = np.maximum(reg[cust[m]], t[m] - rng.exponential(2 * 3600, m.sum()).astype(np.int64))
        oc = self.online_channel[cust[m]]
        ev.add(cust[m], tt, 1, oc, cat[m], np.round(amount[m] / items[m]).astype(np.int64),
               None, _online_source(oc), -1, 0)
        m = rng.random(n_o) < 0.5
        tt = np.maximum(reg[cust[m]], t[m] - rng.exponential(1.5 * DAY, m.sum()).astype(np.int64))
        oc = self.online_channel[cust[m]]
        ev.add(cust[m], tt, 0, oc, cat[m], None, None, _online_source(oc), -1, 0)
        # returns: one per (partially) refunded order
        m = (status == 1) | (status == 2)
        tt = np.minimum(end - 1, t[m] + rng.integers(DAY, 15 * DAY, m.sum()))
        ev.add(cust[m], tt, 5, ch[m], cat[m], refund[m], np.flatnonzero(m), src[m], -1, 3)

        cs = np.arange(a, b)
        cls, k = self.cls[cs], self.k[cs]
        kf = k.astype(float)
        act_end = np.minimum(end, self.stop[cs] + 30 * DAY)
        buyer = cls == 2

        def times(c: np.ndarray, curve: Curve) -> np.ndarray:
            return curve.sample(rng, reg[c], act_end[c - a])

        def intent_times(c: np.ndarray) -> np.ndarray:
            """Intent customers' carts and consults fall in the last INTENT_DAYS."""
            t_any = times(c, self.browse_curve)
            recent = self.browse_curve.sample(rng, np.maximum(reg[c], end - INTENT_DAYS * DAY + 1),
                                              np.full(len(c), end))
            return np.where(self.cls[c] == 1, recent, t_any)

        def per_customer(counts: np.ndarray) -> np.ndarray:
            return np.repeat(cs, counts)

        # browsing: buyers proportional to their activity, intent customers, prospects
        nb = np.where(buyer, rng.poisson(self.beta * (1 + kf ** 0.8)),
                      np.where(cls == 1, rng.poisson(2.5, len(cs)), rng.poisson(0.8, len(cs))))
        c = per_customer(nb)
        oc = self.online_channel[c]
        ev.add(c, times(c, self.browse_curve), 0, oc, self._cat_pick(rng, c), None, None,
               _online_source(oc), -1, 0)
        # carts without an order: abandoned carts of buyers, intent customers' carts
        intent = cls == 1
        want_cart = rng.random(len(cs)) < 0.85
        nc = np.where(buyer, rng.poisson(0.15 * kf ** 0.8),
                      np.where(intent & want_cart, 1 + rng.poisson(1.2, len(cs)), 0))
        c = per_customer(nc)
        oc = self.online_channel[c]
        cc = self._cat_pick(rng, c)
        price = np.maximum(100, np.round(rng.lognormal(
            np.log(np.array(CATEGORY_MEDIAN_CNY)[cc]), 0.6) * 100)).astype(np.int64)
        ev.add(c, intent_times(c), 1, oc, cc, price, None, _online_source(oc), -1, 0)
        # consults (with a short note)
        ncons = np.where(buyer, rng.poisson(0.2 + 0.04 * np.minimum(kf, 50)),
                         np.where(intent, np.where(want_cart, rng.poisson(0.3, len(cs)),
                                                   1 + rng.poisson(0.3, len(cs))), 0))
        c = per_customer(ncons)
        note = self._notes(rng, c, consult=True)
        ev.add(c, intent_times(c), 3, np.where(rng.random(len(c)) < 0.5, 5, 2),
               self._cat_pick(rng, c), None, None, np.zeros(len(c), dtype=np.int64), note, 2)
        # complaints: about one of the customer's orders
        ncomp = np.where(buyer, rng.poisson(0.05 + 0.012 * np.minimum(kf, 100)), 0)
        ncomp = ncomp + np.where(self.churner[cs] & np.isin(self.reason[cs], [2, 3, 4]), 1, 0)
        c = per_customer(ncomp)
        if len(c):
            first = (np.cumsum(K) - K)[c - a]
            o = first + (rng.random(len(c)) * K[c - a]).astype(np.int64)
            tt = np.minimum(end - 1, t[o] + rng.exponential(2 * DAY, len(c)).astype(np.int64))
            ev.add(c, tt, 4, np.where(rng.random(len(c)) < 0.6, 5, 2), cat[o], None, o,
                   np.zeros(len(c), dtype=np.int64), self._notes(rng, c, consult=False), 2)

        e = ev.build()
        srt = np.argsort((e["cust"] << 28) | e["t"], kind="stable")
        e = {kk: v[srt] for kk, v in e.items()}
        n_e = len(e["t"])
        events = pa.table({
            "event_id": np.arange(n_e, dtype=np.int64),
            "customer_id": e["cust"],
            "event_type": e["type"].astype(np.int8),
            "ts": (self.t0_epoch + e["t"]) * 1_000_000,
            "channel": e["channel"].astype(np.int8), "category": e["cat"].astype(np.int8),
            "amount_cents": e["amount"],
            "order_id": e["order"],
            "source": e["source"].astype(np.int8), "note": e["note"].astype(np.int16),
            "sri": e["sri"].astype(np.int8)})
        # per-customer summary for the lifecycle stage (lib/marketing/lifecycle.py's rules)
        purchase = np.isin(status, PURCHASE_STATUSES)
        summary = {"purchases": np.bincount(cust[purchase] - a, minlength=b - a),
                   "last_purchase": np.full(b - a, -1, dtype=np.int64),
                   "last_intent": np.full(b - a, -1, dtype=np.int64)}
        np.maximum.at(summary["last_purchase"], cust[purchase] - a, t[purchase])
        is_intent = (e["type"] == 1) | (e["type"] == 3)
        np.maximum.at(summary["last_intent"], e["cust"][is_intent] - a, e["t"][is_intent])
        return orders, events, summary

    def _cat_pick(self, rng: np.random.Generator, c: np.ndarray) -> np.ndarray:
        return np.where(rng.random(len(c)) < 0.55, self.fav[c],
                        _choice(rng, len(c), CATEGORY_SHARES))

    def _notes(self, rng: np.random.Generator, c: np.ndarray, consult: bool) -> np.ndarray:
        zh = CONSULT_NOTES if consult else COMPLAINT_NOTES
        en = CONSULT_NOTES_EN if consult else COMPLAINT_NOTES_EN
        zh0 = 0 if consult else len(CONSULT_NOTES)
        en0 = len(CONSULT_NOTES) + len(COMPLAINT_NOTES) + (0 if consult else len(CONSULT_NOTES_EN))
        return np.where(self.intl[c], en0 + rng.integers(0, len(en), len(c)),
                        zh0 + rng.integers(0, len(zh), len(c)))


class _Events:
    """Collects event arrays of several kinds, then concatenates them."""

    def __init__(self):
        self.parts: list[dict] = []

    def add(self, cust, t, etype, channel, cat, amount, order, source, note, sri) -> None:
        n = len(cust)
        if n == 0:
            return

        def full(v, dtype=np.int64):
            if v is None:
                return np.full(n, -1, dtype=dtype)
            if np.isscalar(v):
                return np.full(n, v, dtype=dtype)
            return np.asarray(v, dtype=dtype)
        self.parts.append({"cust": np.asarray(cust, dtype=np.int64),
                           "t": np.asarray(t, dtype=np.int64), "type": full(etype),
                           "channel": full(channel), "cat": full(cat), "amount": full(amount),
                           "order": full(order), "source": full(source), "note": full(note),
                           "sri": full(sri)})

    def build(self) -> dict:
        keys = ["cust", "t", "type", "channel", "cat", "amount", "order", "source", "note", "sri"]
        if not self.parts:
            return {k: np.zeros(0, dtype=np.int64) for k in keys}
        return {k: np.concatenate([p[k] for p in self.parts]) for k in keys}


def _online_source(channel: np.ndarray) -> np.ndarray:
    return np.where(channel == 2, 2, 1)            # wechat -> wechat_mall, web/app -> shop


# ============================================================== defect helpers

EMAIL_DEFECTS = ["missing @", "double @", "no top-level domain", "space in address",
                 "comma instead of dot", "dot before @", "no local part"]
MOBILE_DEFECTS = ["too short", "too long", "invalid prefix", "placeholder digits",
                  "truncated"]


def _bad_email(local: str, domain: str, variant: int) -> str:
    local = local or "user"
    domain = domain or "163.com"
    if variant == 0:
        return f"{local}{domain}"
    if variant == 1:
        return f"{local}@@{domain}"
    if variant == 2:
        return f"{local}@{domain.split('.')[0]}"
    if variant == 3:
        cut = max(1, len(local) // 2)
        return f"{local[:cut]} {local[cut:]}@{domain}"
    if variant == 4:
        return f"{local}@{domain.replace('.', ',', 1)}"
    if variant == 5:
        return f"{local}.@{domain}"
    return f"@{domain}"


def _bad_mobile(mobile: str | None, variant: int, fill: int) -> str:
    """An invalid number for phonenumbers and for a plain E.164 length check alike."""
    digits = (mobile or f"+86138{fill:08d}")
    if variant == 0:                                   # too short
        return digits[:-3] if digits.startswith("+86") else digits[:6]
    if variant == 1:                                   # too long (more than 15 digits)
        return digits + f"{fill % 1_000_000:06d}"
    if variant == 2:                                   # no such mobile prefix in China
        return f"+8612{fill:08d}0"
    if variant == 3:                                   # placeholder typed to pass a form
        return "+8611111111111"
    return digits[: max(4, len(digits) - 6)]           # truncated


def _format_variant(mobile: str, u: float) -> str:
    """The same number as another system typed it (still a valid number, not E.164)."""
    if mobile.startswith("+86") and len(mobile) == 14:
        nat = mobile[3:]
        forms = [f"{nat[:3]} {nat[3:7]} {nat[7:]}", f"{nat[:3]}-{nat[3:7]}-{nat[7:]}", nat,
                 f"+86 {nat[:3]} {nat[3:7]} {nat[7:]}", f"0086{nat}"]
        return forms[int(u * len(forms)) % len(forms)]
    import phonenumbers
    num = phonenumbers.parse(mobile)
    fmt = phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(num, fmt)


def _homophone_typo(given: str, groups: dict[str, list[str]], u: float) -> str:
    if not given:
        return given
    i = int(u * len(given)) % len(given)
    py = _pinyin(given[i])
    options = [c for c in groups.get(py, []) if c != given[i]]
    if not options:
        return given
    return given[:i] + options[int(u * 7919) % len(options)] + given[i + 1:]


def _letter_typo(text: str, u: float) -> str:
    if not text or len(text) < 3:
        return (text or "") + "e"
    i = 1 + int(u * (len(text) - 2)) % (len(text) - 2)
    if u < 0.5:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]       # swap two letters
    return text[:i] + text[i + 1:]                                   # drop one


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _ric_check(body: np.ndarray) -> np.ndarray:
    """ISO 7064 MOD 11-2 check characters for an array of 17-digit strings."""
    digits = body.astype("S17").view(np.uint8).reshape(-1, 17).astype(np.int64) - 48
    weights = np.array([2 ** (17 - i) % 11 for i in range(17)])
    s = (digits * weights).sum(axis=1) % 11
    return np.array(list("10X98765432"))[s]


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _uscc_check(body: np.ndarray) -> np.ndarray:
    """GB 32100 check characters for an array of 17-character USCC bodies."""
    lut = np.full(128, -1, dtype=np.int64)
    for i, ch in enumerate(_USCC_ALPHABET):
        lut[ord(ch)] = i
    vals = lut[body.astype("S17").view(np.uint8).reshape(-1, 17)]
    weights = np.array([pow(3, i, 31) for i in range(17)])
    return np.array(list(_USCC_ALPHABET))[(31 - (vals * weights).sum(axis=1) % 31) % 31]


PLACEHOLDER_PATTERN = r"(0{7}|1{7}|2{7}|3{7}|4{7}|5{7}|6{7}|7{7}|8{7}|9{7}|12345678|23456789|87654321)"


def _placeholder_like(arr: pa.Array) -> np.ndarray:
    """Digits a data-quality rule would take for a placeholder number."""
    hit = pc.match_substring_regex(arr, PLACEHOLDER_PATTERN)
    return pc.fill_null(hit, False).to_numpy(zero_copy_only=False)


def _duplicated(arr: pa.Array) -> np.ndarray:
    """True for every value (case-insensitive) already seen earlier; nulls never."""
    low = pc.utf8_lower(arr).to_pandas()
    dup = low.duplicated(keep="first").to_numpy()
    return dup & low.notna().to_numpy()


# ============================================================== loading

def _lit(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _orders_sql(view: str, first_id: int) -> str:
    prefix = _lit(ORDER_SOURCE_PREFIX)
    return f"""
        INSERT INTO orders
        SELECT order_id + {int(first_id)}, customer_id, {_lit(SOURCES)}[source + 1],
               {prefix}[source + 1] || lpad((order_id + {int(first_id)})::VARCHAR, 10, '0'),
               make_timestamp(ts), {_lit(ORDER_STATUSES)}[status + 1],
               (amount_cents / 100.0)::DECIMAL(12, 2), (refund_cents / 100.0)::DECIMAL(12, 2),
               {_lit(ORDER_CHANNELS)}[channel + 1], {_lit(CATEGORIES)}[category + 1], item_count
        FROM {view}"""


def _events_sql(view: str, first_id: int, first_order_id: int) -> str:
    return f"""
        INSERT INTO events
        SELECT event_id + {int(first_id)}, customer_id, {_lit(EVENT_TYPES)}[event_type + 1], make_timestamp(ts),
               {_lit(EVENT_CHANNELS)}[channel + 1],
               CASE WHEN category >= 0 THEN {_lit(CATEGORIES)}[category + 1] END,
               CASE WHEN amount_cents >= 0 THEN (amount_cents / 100.0)::DECIMAL(12, 2) END,
               CASE WHEN order_id >= 0 THEN order_id + {int(first_order_id)} END,
               {_lit(SOURCES)}[source + 1],
               CASE sri WHEN 2 THEN 'TK' || (event_id + {int(first_id)})
                        WHEN 3 THEN 'RMA' || (event_id + {int(first_id)}) END,
               CASE WHEN note >= 0 THEN {_lit(NOTES)}[note + 1] END
        FROM {view}"""


def _draw_ids(tx: warehouse.Tx, sequence: str, n: int) -> int:
    """Advance a sequence by n (SELECT nextval FROM range(n)) and return the first id."""
    if n == 0:
        return 0
    row = tx.one("demo_draw_ids", sequence=sequence, n=int(n))
    if row["hi"] - row["lo"] + 1 != n:
        raise DemoError(f"{sequence} did not hand out a contiguous block of ids")
    return int(row["lo"])


def _is_empty(tx: warehouse.Tx) -> bool:
    return not tx.scalar("demo_has_data")


def _ts(t0_epoch: int, seconds: np.ndarray) -> pa.Array:
    return pa.array((t0_epoch + np.asarray(seconds, dtype=np.int64)) * 1_000_000,
                    type=pa.int64()).cast(pa.timestamp("us"))


def build(n_customers: int, seed: int = 42, as_of: date = DEFAULT_AS_OF,
          path: str | None = None, *, replace: bool = False, progress=None) -> dict:
    """Build the demo warehouse; returns counts, defect counts, timings and the file size.

    ``path`` points this process at that warehouse first (``warehouse.use(path)``); without
    it the configured warehouse is used. A warehouse that already holds customers, orders,
    events, consents or ground truth is refused unless ``replace`` (the file is deleted).
    """
    say = progress or (lambda _msg: None)
    started, cpu_started = time.perf_counter(), time.process_time()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 2)
        say(f"{name}: {timings[name]:.1f}s")
        return now

    privacy.cipher()                     # fail now, not after minutes, when keys are missing
    privacy.id_hash("0")
    if path is not None:
        warehouse.use(str(path))
    loc = warehouse.current_location()
    if replace:
        if loc.kind != "file" or loc.path is None:
            raise DemoError("--replace only works for a warehouse file.")
        warehouse.dispose()
        for p in (loc.path, Path(str(loc.path) + ".wal")):
            if p.exists():
                p.unlink()
    warehouse.migrate()
    with warehouse.transaction() as tx:
        if not _is_empty(tx):
            raise DemoError(f"The warehouse {loc.describe()} already holds customer data; "
                            "use --replace (replace=True) to delete it and build anew.")
    t = time.perf_counter()
    g = _Build(int(n_customers), int(seed), as_of)
    g.customers()
    g.plan()
    t = lap("generate_customers", t)
    # Python-heavy work (encrypting resident IDs, generating the next block) runs in worker
    # threads while DuckDB, which releases the GIL, loads the current block.
    ids = g.id_number.tolist()
    n = g.n
    counts = {"orders": 0, "events": 0}
    blocks = [(a, min(n, a + BLOCK_CUSTOMERS)) for a in range(0, n, BLOCK_CUSTOMERS)]
    with ThreadPoolExecutor(max_workers=2) as pool, warehouse.transaction() as tx:
        crypto = pool.submit(lambda: (privacy.encrypt_many(ids), _id_hashes(ids)))
        g.ids = _draw_ids(tx, "customer_id_seq", n) + np.arange(n, dtype=np.int64)
        purchases = np.zeros(n, dtype=np.int64)
        last_purchase = np.full(n, -1, dtype=np.int64)
        last_intent = np.full(n, -1, dtype=np.int64)
        t_wait = 0.0
        pending = pool.submit(g.block, *blocks[0])
        for i, (a, b) in enumerate(blocks):
            k0 = time.perf_counter()
            orders, events, summary = pending.result()
            t_wait += time.perf_counter() - k0
            if i + 1 < len(blocks):
                pending = pool.submit(g.block, *blocks[i + 1])
            purchases[a:b] = summary["purchases"]
            last_purchase[a:b] = summary["last_purchase"]
            last_intent[a:b] = summary["last_intent"]
            oid0 = _draw_ids(tx, "order_id_seq", orders.num_rows)
            eid0 = _draw_ids(tx, "event_id_seq", events.num_rows)
            orders = orders.set_column(1, "customer_id", pa.array(g.ids[orders["customer_id"]
                                                                         .to_numpy()]))
            events = events.set_column(1, "customer_id", pa.array(g.ids[events["customer_id"]
                                                                         .to_numpy()]))
            tx.register("demo_orders_block", orders)
            tx.run(warehouse.raw_sql(_orders_sql("demo_orders_block", oid0)))
            tx.unregister("demo_orders_block")
            tx.register("demo_events_block", events)
            tx.run(warehouse.raw_sql(_events_sql("demo_events_block", eid0, oid0)))
            tx.unregister("demo_events_block")
            counts["orders"] += orders.num_rows
            counts["events"] += events.num_rows
            say(f"customers {b:,}/{n:,}: {counts['orders']:,} orders, "
                f"{counts['events']:,} events")
        timings["waited_for_generator"] = round(t_wait, 2)
        t = lap("orders_events", t)
        k0 = time.perf_counter()
        enc, hashes = crypto.result()
        timings["waited_for_encryption"] = round(time.perf_counter() - k0, 2)

        # lifecycle stage from what was generated, by lib/marketing/lifecycle.py's rules
        churned = (purchases > 0) & (last_purchase < g.end - CHURN_DAYS * DAY)
        intent = last_intent >= g.end - INTENT_DAYS * DAY
        stage = np.where(purchases == 0, np.where(intent, 1, 0),
                         np.where(churned, 4, np.where(purchases == 1, 2, 3)))
        reason = np.where(churned & (g.reason >= 0), g.reason, -1)
        cols = g.cols
        cust = pa.table({
            "customer_id": g.ids,
            "source": _take(_strs(SOURCES), g.source),
            "source_record_id": _source_record_ids(g),
            "family_name": cols["family_name"], "given_name": cols["given_name"],
            "full_name": cols["full_name"], "name_pinyin": cols["name_pinyin"],
            "gender": cols["gender"],
            "birth_date": pa.array(g.birth.astype("datetime64[D]").astype(np.int32),
                                   type=pa.int32()).cast(pa.date32()),
            "mobile": cols["mobile"], "email": cols["email"],
            "id_number_enc": pa.array(enc, type=pa.string()),
            "id_number_hash": pa.array(hashes, type=pa.string()),
            "id_number_last4": pa.array([v[-4:] if v else None for v in ids], type=pa.string()),
            "country": cols["country"], "province": cols["province"], "city": cols["city"],
            "district": cols["district"], "address": cols["address"],
            "postcode": cols["postcode"], "customer_type": cols["customer_type"],
            "company": cols["company"], "industry": cols["industry"],
            "job_title": cols["job_title"], "uscc": cols["uscc"],
            "channel": _take(_strs(CHANNELS), g.channel),
            "registered_at": _ts(g.t0_epoch, g.reg),
            "updated_at": _ts(g.t0_epoch, g.updated),
            "verified_at": _ts(g.t0_epoch, g.verified),
            "lifecycle_stage": _take(_strs(STAGES), stage),
            "churn_reason": _null_where(reason < 0, _take(_strs(CHURN_REASONS),
                                                          np.maximum(reason, 0))),
        })
        tx.register("demo_customers", cust)
        tx.run(warehouse.raw_sql("INSERT INTO customers BY NAME SELECT * FROM demo_customers"))
        tx.unregister("demo_customers")
        t = lap("load_customers", t)

        cons = _consents(g, cols)
        tx.register("demo_consents", cons)
        tx.run(warehouse.raw_sql("INSERT INTO consents (customer_id, channel, status, source, recorded_at,"
               " recorded_by) SELECT customer_id, channel, status, source, recorded_at,"
               " recorded_by FROM demo_consents ORDER BY customer_id, recorded_at, channel"))
        tx.unregister("demo_consents")
        counts["consents"] = cons.num_rows

        truth = sorted(g.truth, key=lambda r: (r[0], r[1]))
        gt = pa.table({
            "customer_id": pa.array([int(g.ids[r[0]]) for r in truth], type=pa.int64()),
            "defect": pa.array([r[1] for r in truth], type=pa.string()),
            "field": pa.array([r[2] for r in truth], type=pa.string()),
            "detail": pa.array([r[3] for r in truth], type=pa.string()),
            "duplicate_of": pa.array([int(g.ids[r[4]]) if r[4] is not None else None
                                      for r in truth], type=pa.int64())})
        tx.register("demo_truth", gt)
        tx.run(warehouse.raw_sql("INSERT INTO demo_ground_truth SELECT * FROM demo_truth"))
        tx.unregister("demo_truth")
        t = lap("load_consents_truth", t)
    warehouse.checkpoint()
    t = lap("checkpoint", t)

    defects: dict[str, int] = {}
    for r in g.truth:
        defects[r[1]] = defects.get(r[1], 0) + 1
    stages = {s: int((stage == i).sum()) for i, s in enumerate(STAGES)}
    timings["total"] = round(time.perf_counter() - started, 2)
    timings["cpu_total"] = round(time.process_time() - cpu_started, 2)   # all threads
    size = loc.path.stat().st_size if loc.kind == "file" and loc.path and loc.path.exists() else None
    return {"warehouse": loc.describe(), "customers": n, **counts,
            "ground_truth": len(g.truth), "defects": defects, "stages": stages,
            "seed": seed, "as_of": as_of.isoformat(), "seconds": timings, "file_bytes": size}


def _id_hashes(values: list[str | None]) -> list[str | None]:
    """privacy.id_hash for a column (the key is read once and cached by lib.core.config)."""
    return [privacy.id_hash(v) if v else None for v in values]


def _source_record_ids(g: _Build) -> pa.Array:
    """A key per source system, unique within the source, in that system's own style."""
    rng = g.rng(4)
    n = g.n
    out = pa.nulls(n, pa.string())
    for s, name in enumerate(SOURCES):
        rows = np.flatnonzero(g.source == s)
        if len(rows) == 0:
            continue
        mask = g.source == s
        serial = np.zeros(n, dtype=np.int64)
        serial[rows] = _unique_ints(rng, len(rows), 1, max(10 * len(rows), 1_000_000))
        if name == "crm":
            val = _cat("C", _num(serial, 8))
        elif name == "shop":
            val = _cat("U", _num(serial + 10_000_000))
        elif name == "wechat_mall":
            # openid-like: "o" + 21 random url-safe characters + a unique serial
            alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789-_"))
            chars = np.ascontiguousarray(alphabet[rng.integers(0, 64, (n, 21))])
            head = _strs(chars.view("<U21").reshape(n).tolist())
            val = _cat("o", head, _num(serial, 6))
        elif name == "store_pos":
            val = _cat("S", _num(serial % 997 + 1, 4), "-", _num(serial, 7))
        else:
            val = _cat("tb", _num(serial + 2_200_000_000))
        out = _where(mask, val, out)
    return out


def _consents(g: _Build, cols: dict) -> pa.Table:
    """Grant at registration for most contactable customers; some withdraw later; a few of
    those grant again through the preference centre."""
    rng = g.rng(5)
    n, end = g.n, g.end
    has_mobile = pc.is_valid(cols["mobile"]).to_numpy(zero_copy_only=False)
    has_email = pc.is_valid(cols["email"]).to_numpy(zero_copy_only=False)
    signup_source = np.array(["call_centre", "signup_form", "wechat", "store", "marketplace"])
    parts = []
    for channel, p_grant, has, withdraw_src in (
            ("sms", 0.78, has_mobile, "sms_reply_td"),
            ("email", 0.66, has_email, "unsubscribe_link"),
            ("phone", 0.55, has_mobile, "call_centre")):
        grant = has & (rng.random(n) < p_grant)
        rows = np.flatnonzero(grant)
        t_grant = g.reg[rows] + rng.integers(0, 120, len(rows))
        parts.append((rows, channel, "granted", signup_source[g.source[rows]], t_grant, "system"))
        w = rng.random(len(rows)) < 0.12
        wr = rows[w]
        t_w = t_grant[w] + (rng.random(len(wr)) * (end - 1 - t_grant[w])).astype(np.int64)
        parts.append((wr, channel, "withdrawn", np.full(len(wr), withdraw_src), t_w, "system"))
        rg = rng.random(len(wr)) < 0.10
        t_rg = t_w[rg] + (rng.random(int(rg.sum())) * (end - 1 - t_w[rg])).astype(np.int64)
        parts.append((wr[rg], channel, "granted", np.full(int(rg.sum()), "preference_centre"),
                      t_rg, "system"))
    rows = np.concatenate([p[0] for p in parts])
    return pa.table({
        "customer_id": pa.array(g.ids[rows]),
        "channel": pa.array(np.concatenate([np.full(len(p[0]), p[1]) for p in parts]).tolist(),
                            type=pa.string()),
        "status": pa.array(np.concatenate([np.full(len(p[0]), p[2]) for p in parts]).tolist(),
                           type=pa.string()),
        "source": pa.array(np.concatenate([np.asarray(p[3], dtype=object) for p in parts])
                           .tolist(), type=pa.string()),
        "recorded_at": _ts(g.t0_epoch, np.concatenate([p[4] for p in parts])),
        "recorded_by": pa.array(["system"] * len(rows), type=pa.string()),
    })


# ============================================================== inspection helpers

FINGERPRINT_EXCLUDES = {"id_number_enc"}   # Fernet tokens carry a random IV and a timestamp


FINGERPRINT_TABLES = {"customers": "customer_id", "orders": "order_id", "events": "event_id"}


def fingerprint() -> dict[str, str]:
    """md5 of every deterministic column of customers, orders and events (in id order):
    the same (n, seed, as_of) must give the same fingerprints."""
    out = {}
    for table, key in FINGERPRINT_TABLES.items():
        # Identifiers: the table and key from the whitelist above, columns from the catalog.
        names = [c for c in warehouse.read("demo_table_columns", table=table)["column_name"]
                 if c not in FINGERPRINT_EXCLUDES]
        expr = ", ".join("coalesce(CAST(" + c + " AS VARCHAR), '∅')" for c in names)
        out[table] = warehouse.scalar(
            warehouse.raw_sql("SELECT md5(string_agg(concat_ws('|', " + expr + "), chr(10) ORDER BY " + key + ")) "
            "FROM " + table))
    return out


# ============================================================== command line

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.demo",
                                     description="Build the deterministic demo warehouse.")
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--warehouse", help="warehouse file (default: C360_WAREHOUSE / secrets)")
    parser.add_argument("--as-of", type=date.fromisoformat, default=DEFAULT_AS_OF,
                        help="last day covered is the day before (default %(default)s)")
    parser.add_argument("--replace", action="store_true",
                        help="delete an existing warehouse file first")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    say = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        stats = build(args.customers, args.seed, args.as_of, args.warehouse,
                      replace=args.replace, progress=say)
    except (DemoError, warehouse.WarehouseError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        warehouse.dispose()
    size = stats["file_bytes"]
    print(f"built {stats['warehouse']}: {stats['customers']:,} customers, "
          f"{stats['orders']:,} orders, {stats['events']:,} events, "
          f"{stats['consents']:,} consents, {stats['ground_truth']:,} ground-truth rows "
          f"in {stats['seconds']['total']:.1f}s"
          + (f" ({size / 1e6:.0f} MB)" if size else ""))
    print(f"stages: {stats['stages']}")
    print(f"defects: {stats['defects']}")
    print(f"timings: {stats['seconds']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
