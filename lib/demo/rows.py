"""Event collection, defect variants and the SQL that loads generated blocks."""

from __future__ import annotations


import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lib.core import warehouse
from lib.demo.spec import (
    CATEGORIES,
    DemoError,
    EVENT_CHANNELS,
    EVENT_TYPES,
    NOTES,
    ORDER_CHANNELS,
    ORDER_SOURCE_PREFIX,
    ORDER_STATUSES,
    SOURCES,
)
from lib.demo.pools import _pinyin


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

        self.parts.append(
            {
                "cust": np.asarray(cust, dtype=np.int64),
                "t": np.asarray(t, dtype=np.int64),
                "type": full(etype),
                "channel": full(channel),
                "cat": full(cat),
                "amount": full(amount),
                "order": full(order),
                "source": full(source),
                "note": full(note),
                "sri": full(sri),
            }
        )

    def build(self) -> dict:
        keys = ["cust", "t", "type", "channel", "cat", "amount", "order", "source", "note", "sri"]
        if not self.parts:
            return {k: np.zeros(0, dtype=np.int64) for k in keys}
        return {k: np.concatenate([p[k] for p in self.parts]) for k in keys}


def _online_source(channel: np.ndarray) -> np.ndarray:
    return np.where(channel == 2, 2, 1)  # wechat -> wechat_mall, web/app -> shop


# ============================================================== defect helpers

EMAIL_DEFECTS = [
    "missing @",
    "double @",
    "no top-level domain",
    "space in address",
    "comma instead of dot",
    "dot before @",
    "no local part",
]
MOBILE_DEFECTS = ["too short", "too long", "invalid prefix", "placeholder digits", "truncated"]


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
    digits = mobile or f"+86138{fill:08d}"
    if variant == 0:  # too short
        return digits[:-3] if digits.startswith("+86") else digits[:6]
    if variant == 1:  # too long (more than 15 digits)
        return digits + f"{fill % 1_000_000:06d}"
    if variant == 2:  # no such mobile prefix in China
        return f"+8612{fill:08d}0"
    if variant == 3:  # placeholder typed to pass a form
        return "+8611111111111"
    return digits[: max(4, len(digits) - 6)]  # truncated


def _format_variant(mobile: str, u: float) -> str:
    """The same number as another system typed it (still a valid number, not E.164)."""
    if mobile.startswith("+86") and len(mobile) == 14:
        nat = mobile[3:]
        forms = [
            f"{nat[:3]} {nat[3:7]} {nat[7:]}",
            f"{nat[:3]}-{nat[3:7]}-{nat[7:]}",
            nat,
            f"+86 {nat[:3]} {nat[3:7]} {nat[7:]}",
            f"0086{nat}",
        ]
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
    return given[:i] + options[int(u * 7919) % len(options)] + given[i + 1 :]


def _letter_typo(text: str, u: float) -> str:
    if not text or len(text) < 3:
        return (text or "") + "e"
    i = 1 + int(u * (len(text) - 2)) % (len(text) - 2)
    if u < 0.5:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]  # swap two letters
    return text[:i] + text[i + 1 :]  # drop one


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
    return pa.array((t0_epoch + np.asarray(seconds, dtype=np.int64)) * 1_000_000, type=pa.int64()).cast(
        pa.timestamp("us")
    )
