"""The duplicate model, derived from the identifying fields a warehouse actually holds.

`lib/stewardship/dedup.py` copies the live customers' matching columns into a private DuckDB table
(`dedup_input`, columns below); this module looks at which of them are present and non-null and
builds everything splink needs from those alone:

* comparisons — one per present field (name, birth date, address, postcode, mobile, email, ID);
* prediction blocking rules — from a fixed list of candidate rules, those whose columns are
  all present and whose number of pairs is above zero and below a cap (so a 1M-record file
  is not blocked on birth date alone, while a 5,000-record file may be);
* deterministic rules for the prior (`estimate_probability_two_random_records_match`) — only
  those that generate pairs; with none, the prior is set to 1 / records;
* two EM sessions — one blocked on a name rule (trains every other field), one blocked on a
  rule without names (trains the name comparison); a session with no rule is skipped.

Names. `fam` / `giv` are the family and given name as lower-case pinyin (Chinese characters,
Traditional folded to Simplified) or Latin letters; `py` is the two run together; `name_key` the
two sorted, so "Zhang Wei", "Wei Zhang" and 张伟 share one key (given/family in either order);
`name_s` the Simplified characters. The name comparison's levels: same characters, same name in
either order, one part equal and the other similar (typos), one part missing, both parts similar,
else.

Households. Family members share a phone, an address, a postcode or an email; twins share a birth
date, a surname and an address. Splink's independence assumption would add those agreements up
into a match. So every "shared contact/location" field has two exact levels: "same, names
agree" (trained) and "same, names differ" (neutral: m = u, weight 0). A shared phone between
two different names and birth dates therefore scores like two strangers with different names
and birth dates — no match — while a shared phone between similar names counts fully.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from lib.core import warehouse

M_FLOOR = 0.01  # no single disagreement may veto a match (EM can learn m = 0)
NEUTRAL = "names differ"  # label suffix of the levels whose weight is fixed at 0

# Fields of dedup_input that identify a person, in the order comparisons are built.
FIELDS = ("name", "birth_date", "address_n", "postcode", "mobile_key", "email_norm", "id_hash")
NAME_COLUMNS = ("py", "fam", "giv", "name_key", "name_s", "name_fz", "cjk")

FIELD_LABELS = {
    "name": "full_name",
    "mobile": "mobile",
    "email_norm": "email",
    "birth_date": "birth_date",
    "address_n": "address",
    "postcode": "postcode",
    "id_hash": "id_number",
}

# The names of two records "agree" (or cannot be compared): shared contacts count then. Chinese
# names (either side in characters) agree only when they are the same name — same characters,
# same pinyin in either order, or the same up to a fuzzy-pinyin slip (zh/z, ch/c, sh/s, ng/n):
# siblings often share one character of the given name (a generation name), so "similar"
# Chinese names are no evidence that a shared phone or address is one person's. Two Latin
# names also agree when both parts are similar (typos). Written on copies of the name columns
# (h_*): splink switches off, in an EM session, every comparison that reads a column of the
# session's blocking rule, and the household fields must stay on while a session blocks on names.
# A record without a name agrees only when the birth dates are equal (records without names
# next to a family member's at one address are common in exports).
# Two more cases say "not another member of the household", whatever the names: the same ID
# number (family members never share one; a value on more than MAX_SHARED records is already
# left out of matching), and the same given name (3+ letters) with the same birth date under
# another family name (a name change on marriage, a replaced or mistyped surname: household
# members differ in their given names, twins too).
NAME_AGREE = (
    "(h_id_l = h_id_r"
    " OR h_giv_l = h_giv_r AND length(h_giv_l) >= 3 AND h_bd_l = h_bd_r"
    " OR (h_py_l IS NULL OR h_py_r IS NULL) AND h_bd_l = h_bd_r"
    " OR h_name_s_l = h_name_s_r OR h_key_l = h_key_r"
    " OR h_fz_l = h_fz_r"
    " OR h_fam_l = h_fam_r AND (h_giv_l IS NULL OR h_giv_r IS NULL)"
    " OR h_giv_l = h_giv_r AND (h_fam_l IS NULL OR h_fam_r IS NULL)"
    " OR NOT h_cjk_l AND NOT h_cjk_r AND ("
    "jaro_winkler_similarity(h_fam_l, h_fam_r) >= 0.8 AND jaro_winkler_similarity(h_giv_l, h_giv_r) >= 0.8"
    " OR jaro_winkler_similarity(h_fam_l, h_giv_r) >= 0.8 AND jaro_winkler_similarity(h_giv_l, h_fam_r) >= 0.8))"
)
HOUSEHOLD_COPIES = (
    "py AS h_py, name_s AS h_name_s, name_key AS h_key, name_fz AS h_fz, "
    "fam AS h_fam, giv AS h_giv, coalesce(cjk, false) AS h_cjk, birth_date AS h_bd, "
    "id_hash AS h_id"
)


def _one_part_similar(a: str, b: str, t: float) -> str:
    """One name part equal, the other similar, in the given order (a_l ~ a_r, b_l ~ b_r)."""
    return (
        f"({a}_l = {a}_r AND jaro_winkler_similarity({b}_l, {b}_r) >= {t}"
        f" OR {b}_l = {b}_r AND jaro_winkler_similarity({a}_l, {a}_r) >= {t})"
    )


def _name_comparison():
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    swapped_equal_one = (
        "(fam_l = giv_r AND jaro_winkler_similarity(giv_l, fam_r) >= 0.88"
        " OR giv_l = fam_r AND jaro_winkler_similarity(fam_l, giv_r) >= 0.88)"
    )
    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("py"),
            cll.ExactMatchLevel("name_s").configure(label_for_charts="same characters"),
            cll.ExactMatchLevel("name_key").configure(label_for_charts="same name (pinyin/Latin, either order)"),
            cll.ExactMatchLevel("name_fz").configure(
                label_for_charts="same name up to fuzzy pinyin (zh/z, ch/c, sh/s, ng/n)"
            ),
            cll.CustomLevel(
                f"{_one_part_similar('fam', 'giv', 0.88)} OR {swapped_equal_one}",
                label_for_charts="one part equal, the other similar",
            ),
            cll.CustomLevel(
                "(fam_l = fam_r OR fam_l = giv_r OR giv_l = giv_r OR giv_l = fam_r) AND "
                "(giv_l IS NULL OR giv_r IS NULL OR fam_l IS NULL OR fam_r IS NULL)",
                label_for_charts="one part equal, the other missing",
            ),
            cll.CustomLevel(
                "jaro_winkler_similarity(fam_l, fam_r) >= 0.8 AND "
                "jaro_winkler_similarity(giv_l, giv_r) >= 0.8 OR "
                "jaro_winkler_similarity(fam_l, giv_r) >= 0.8 AND "
                "jaro_winkler_similarity(giv_l, fam_r) >= 0.8",
                label_for_charts="both parts similar",
            ),
            cll.CustomLevel(
                "giv_l = giv_r AND length(giv_l) >= 3", label_for_charts="same given name, family name differs"
            ),
            cll.ElseLevel(),
        ],
        comparison_description="name",
    )


def _birth_date_comparison():
    """Birth dates on their parts (cheap date arithmetic, no string edit distance): exact, day
    and month swapped, one of year/month/day differs (a typo), within a year, else."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    y, m, d = ("year(birth_date_{s})", "month(birth_date_{s})", "day(birth_date_{s})")
    same = {k: f"{v.format(s='l')} = {v.format(s='r')}" for k, v in (("y", y), ("m", m), ("d", d))}
    return cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date").configure(label_for_charts="same birth date"),
            cll.CustomLevel(
                f"{same['y']} AND month(birth_date_l) = day(birth_date_r) AND day(birth_date_l) = month(birth_date_r)",
                label_for_charts="day and month swapped",
            ),
            cll.CustomLevel(
                f"({same['y']} AND {same['m']}) OR ({same['y']} AND {same['d']}) OR ({same['m']} AND {same['d']})",
                label_for_charts="one of year, month, day differs",
            ),
            cll.CustomLevel(
                "abs(datediff('day', birth_date_l, birth_date_r)) <= 366", label_for_charts="within a year"
            ),
            cll.ElseLevel(),
        ],
        comparison_description="birth date",
    )


def _shared(col: str, output: str, what: str, extra_levels=(), names: bool = True):
    """A household field: same value with agreeing names / same value with different names
    (neutral) / optional similarity levels / else. Without any names in the file: same / else."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    if not names:
        return cl.CustomComparison(
            output_column_name=output,
            comparison_levels=[
                cll.NullLevel(col),
                cll.ExactMatchLevel(col).configure(label_for_charts=f"same {what}"),
                *extra_levels,
                cll.ElseLevel(),
            ],
            comparison_description=what,
        )
    return cl.CustomComparison(
        output_column_name=output,
        comparison_levels=[
            cll.NullLevel(col),
            cll.CustomLevel(f"{col}_l = {col}_r AND {NAME_AGREE}", label_for_charts=f"same {what}, names agree"),
            cll.ExactMatchLevel(col).configure(label_for_charts=f"same {what}, {NEUTRAL}"),
            *extra_levels,
            cll.ElseLevel(),
        ],
        comparison_description=what,
    )


def comparisons(present: set[str]) -> list:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    out = []
    names = "name" in present
    if names:
        out.append(_name_comparison())
    if "birth_date" in present:
        out.append(_birth_date_comparison())
    if "address_n" in present:
        # (no edit-distance level: DuckDB's levenshtein on Chinese text costs ~15 µs a pair,
        # 10x Jaro-Winkler, and u sampling alone compares millions of pairs)
        out.append(
            _shared(
                "address_n",
                "address_n",
                "address",
                names=names,
                extra_levels=[
                    cll.CustomLevel(
                        "length(address_n_l) >= 6 AND length(address_n_r) >= 6 AND "
                        "(starts_with(address_n_l, address_n_r) OR starts_with(address_n_r, address_n_l))",
                        label_for_charts="one address starts the other (building/unit left out)",
                    ),
                    cll.JaroWinklerLevel("address_n", 0.92).configure(label_for_charts="address similar (JW ≥ 0.92)"),
                    cll.JaroWinklerLevel("address_n", 0.8).configure(label_for_charts="address close (JW ≥ 0.8)"),
                ],
            )
        )
    if "postcode" in present:
        out.append(_shared("postcode", "postcode", "postcode", names=names))
    if "mobile_key" in present:
        one_digit = "levenshtein(mobile_key_l, mobile_key_r) <= 1" + (f" AND {NAME_AGREE}" if names else "")
        out.append(
            _shared(
                "mobile_key",
                "mobile",
                "number",
                names=names,
                extra_levels=[
                    cll.CustomLevel(
                        one_digit, label_for_charts="one digit differs" + (", names agree" if names else "")
                    )
                ],
            )
        )
    if "email_norm" in present:
        out.append(_shared("email_norm", "email_norm", "email", names=names))
    if "id_hash" in present:
        out.append(cl.ExactMatch("id_hash"))
    return out


# Candidate rules, most specific first. A rule is used when all its columns are present.
PREDICTION_RULES = (
    ("id_hash",),
    ("mobile_key",),
    ("email_norm",),
    ("name_key", "birth_date"),
    ("name_key", "postcode"),
    ("name_key", "address_n"),
    ("fam", "birth_date"),
    ("giv", "birth_date"),
    ("birth_date", "postcode"),
    ("fam", "postcode"),
    ("giv", "postcode"),
    ("name_key", "city"),
    ("address_n",),
    ("birth_date", "city"),
    ("name_key",),
)
PRIOR_RULES = (
    ("id_hash",),
    ("mobile_key", "name_key"),
    ("email_norm", "name_key"),
    ("name_key", "birth_date"),
    ("name_key", "address_n"),
)
EM_NAME_RULES = (
    ("name_key", "birth_date"),
    ("name_key", "postcode"),
    ("name_key", "address_n"),
    ("name_key", "city"),
    ("name_key",),
)
EM_OTHER_RULES = (
    ("mobile_key",),
    ("email_norm",),
    ("id_hash",),
    ("birth_date", "postcode"),
    ("address_n",),
    ("birth_date", "city"),
    ("birth_date",),
    ("postcode",),
)


@dataclass
class Plan:
    """What the model is built from, for logs, the run record and tests."""

    records: int
    present: set[str]
    prediction_rules: list[tuple[str, ...]]
    prior_rules: list[tuple[str, ...]]
    em_rules: list[tuple[str, ...]]
    pair_counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "records": self.records,
            "fields": sorted(self.present),
            "prediction_rules": [list(r) for r in self.prediction_rules],
            "prior_rules": [list(r) for r in self.prior_rules],
            "em_rules": [list(r) for r in self.em_rules],
            "pair_counts": self.pair_counts,
        }


def _pairs(con, cols: tuple[str, ...]) -> int:
    """Pairs a blocking rule on equal `cols` generates (both sides non-null)."""
    where = " AND ".join(f"{c} IS NOT NULL" for c in cols)
    group = ", ".join(cols)
    return int(
        con.execute(
            f"SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM (SELECT count(*) AS n "
            f"FROM dedup_input WHERE {where} GROUP BY {group})"
        ).fetchone()[0]
    )


def plan(con, table: str = "dedup_input") -> Plan:
    """Fields present (≥ 2 non-null values) and the rules derived from them."""
    cols = [
        "py",
        "birth_date",
        "address_n",
        "postcode",
        "mobile_key",
        "email_norm",
        "id_hash",
        "city",
        "fam",
        "giv",
        "name_key",
    ]
    counts = con.execute("SELECT count(*), " + ", ".join(f"count({c})" for c in cols) + f" FROM {table}").fetchone()
    n = int(counts[0])
    nonnull = dict(zip(cols, counts[1:]))
    have = {c for c, k in nonnull.items() if k >= 2}
    present = {f for f in FIELDS if (f == "name" and "py" in have) or f in have}
    cap = max(300_000, n // 4)  # pairs per prediction rule (predict costs ~10 µs a pair)
    counted: dict[str, int] = {}

    def count(rule):
        key = "+".join(rule)
        if key not in counted:
            counted[key] = _pairs(con, rule) if set(rule) <= have else 0
        return counted[key]

    prediction: list[tuple[str, ...]] = [r for r in PREDICTION_RULES if 0 < count(r) <= cap]
    prior: list[tuple[str, ...]] = [r for r in PRIOR_RULES if 0 < count(r) <= cap]
    em_cap = max(1_000_000, 4 * n)
    # splink switches off the comparisons that read a blocking column; a session must keep one on.
    reads = {
        "name": set(NAME_COLUMNS),
        "birth_date": {"birth_date"},
        "address_n": {"address_n"},
        "postcode": {"postcode"},
        "city": {"city"},
        "mobile_key": {"mobile_key"},
        "email_norm": {"email_norm"},
        "id_hash": {"id_hash"},
    }

    def trains_something(rule):
        return any(not (reads[f] & set(rule)) for f in present)

    first: list[tuple[str, ...] | None] = [
        next((r for r in rules if 0 < count(r) <= em_cap and trains_something(r)), None)
        for rules in (EM_NAME_RULES, EM_OTHER_RULES)
    ]
    # every present field is trained in some session: add one for a field both sessions block on
    # (a file without phone/email/ID blocks both on birth date: name + birth date, birth date +
    # postcode)
    chosen: list[tuple[str, ...]] = [r for r in first if r]
    for f in sorted(present):
        if chosen and all(reads[f] & set(r) for r in chosen):
            extra = next(
                (r for r in EM_NAME_RULES + EM_OTHER_RULES if not (reads[f] & set(r)) and 0 < count(r) <= em_cap), None
            )
            if extra:
                chosen.append(extra)
    return Plan(n, present, prediction, prior, chosen, counted)


def settings(p: Plan, prior: float | None = None):
    from splink import SettingsCreator, block_on

    comps = comparisons(p.present)
    if not comps:
        raise ValueError(
            "No identifying field (name, birth date, address, postcode, phone, "
            "email, ID number) has values: nothing to match on."
        )
    rules: list = [block_on(*r) for r in p.prediction_rules] or [block_on("unique_id")]
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comps,
        blocking_rules_to_generate_predictions=rules,
        probability_two_random_records_match=prior or min(0.5, 1.0 / max(p.records, 2)),
        retain_intermediate_calculation_columns=True,  # per-field weights (why)
        retain_matching_columns=False,
    )


def regularise(model: dict) -> dict:
    """Floor every m probability at M_FLOOR (untrained levels included), fix the household
    levels ("same …, names differ") at m = u (weight 0), and renormalise the rest to sum to 1.

    EM on data where duplicates copy a field verbatim learns m = 0 for "fields differ", which
    would make any real-world difference (a moved address, a typo) an absolute veto."""
    for comp in model["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        for lv in levels:
            lv["u_probability"] = max(lv.get("u_probability") or 0.0, 1e-7)
        neutral = [lv for lv in levels if str(lv.get("label_for_charts", "")).endswith(NEUTRAL)]
        free = [lv for lv in levels if lv not in neutral]
        fixed = 0.0
        for lv in neutral:
            lv["m_probability"] = lv["u_probability"]
            fixed += lv["u_probability"]
        ms = [max(lv.get("m_probability") or 0.0, M_FLOOR) for lv in free]
        total = sum(ms)
        for lv, m in zip(free, ms):
            lv["m_probability"] = m / total * (1.0 - fixed)
    return model


U_FLOOR = 1e-7
UNMIX_MAX = 10.0  # u is lowered at most tenfold: on a small sample u and λ are both rough


def unmix_u(model: dict) -> dict:
    """Take the true matches out of the u probabilities.

    splink estimates u on random pairs, which include the duplicates themselves: the rate of
    agreement it measures is λ·m + (1 − λ)·u. On a file where half the records are duplicates
    (FEBRL), λ·m is as large as u for an ID or a rare name, and an agreeing ID weighs 10 bits
    instead of 20. Solve for u (at most UNMIX_MAX times lower, since on a small file u and λ
    are both rough); on large files (λ ~ 1e-6) nothing changes."""
    lam = float(model.get("probability_two_random_records_match") or 0.0)
    for comp in model["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        for lv in levels:
            u, m = lv.get("u_probability"), lv.get("m_probability")
            if u is None or m is None:
                continue
            lv["u_probability"] = max((u - lam * m) / (1.0 - lam), u / UNMIX_MAX, U_FLOOR)
        total = sum(lv["u_probability"] for lv in levels if lv.get("u_probability") is not None)
        for lv in levels:
            if lv.get("u_probability") is not None:
                lv["u_probability"] /= total
    return model


def levels(model: dict) -> dict[str, list[tuple[int, str, float]]]:
    """Per comparison: (gamma, label, match weight) of each level, numbered as splink does."""
    out = {}
    for comp in model["comparisons"]:
        lvls = comp["comparison_levels"]
        counter = sum(1 for lv in lvls if not lv.get("is_null_level")) - 1
        rows = []
        for lv in lvls:
            if lv.get("is_null_level"):
                rows.append((-1, "missing", 0.0))
            else:
                m, u = lv.get("m_probability"), lv.get("u_probability")
                w = math.log2(m / u) if m and u else 0.0
                rows.append((counter, lv.get("label_for_charts") or lv.get("sql_condition", ""), w))
                counter -= 1
        out[comp["output_column_name"]] = rows
    return out


def tf_columns(model: dict) -> list[str]:
    """Columns the model adjusts for term frequency (their tables are needed to predict)."""
    cols = set()
    for comp in model["comparisons"]:
        for lv in comp["comparison_levels"]:
            if lv.get("tf_adjustment_column"):
                cols.add(lv["tf_adjustment_column"])
    return sorted(cols)


FUZZY = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("ng", "n"))


def fuzzy(pinyin: str | None) -> str | None:
    """Pinyin with the usual input-method slips folded: zh/z, ch/c, sh/s, ng/n."""
    if not pinyin:
        return pinyin
    for a, b in FUZZY:
        pinyin = pinyin.replace(a, b)
    return pinyin


_KANA = "\u3040-\u30ff\uac00-\ud7af"  # kana and hangul: kept as characters (pypinyin drops them)


@lru_cache(maxsize=400_000)
def part_key(part: str | None, is_family: bool) -> tuple[str | None, bool]:
    """(key, is_cjk) of one name part: Chinese characters as toneless pinyin (Traditional folded,
    surname readings), kana/hangul kept, Latin letters lower-cased without accents or spaces."""
    import re
    import unicodedata

    from lib.core import normalize

    part = normalize.text(part)
    if not part:
        return None, False
    if normalize.has_cjk(part):
        from pypinyin import lazy_pinyin

        simple = normalize.simplified(part) or part
        if is_family and simple in normalize.SURNAME_READINGS:
            return normalize.SURNAME_READINGS[simple], True
        words = lazy_pinyin(simple, errors=lambda chunk: chunk)  # no reading: kept as written
        key = re.sub(f"[^0-9a-z{_KANA}]+", "", "".join(words).lower().replace("ü", "v"))
        return key or None, True
    plain = unicodedata.normalize("NFKD", part).encode("ascii", "ignore").decode().lower()
    key = re.sub(f"[^0-9a-z{_KANA}]+", "", plain or part.lower())
    return key or None, bool(re.search(f"[{_KANA}]", part))


def fuzzy_sql(col: str) -> str:
    out = col
    for a, b in FUZZY:
        out = f"replace({out}, '{a}', '{b}')"
    return out


def name_columns(con, table: str) -> None:
    """Add the name keys to `table` (columns unique_id, full_name, family_name, given_name) as
    `{table}_names`: pypinyin and opencc run once per distinct name part / character, the rest
    is SQL."""
    import pandas as pd

    from lib.core import normalize

    # a row with only a full name: split it (once per distinct name)
    only_full = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT full_name FROM {table} WHERE full_name IS NOT NULL "
            "AND family_name IS NULL AND given_name IS NULL"
        ).fetchall()
    ]
    splits = pd.DataFrame(
        {
            "full_name": only_full,
            "f": [normalize.split_name(n)[0] for n in only_full],
            "g": [normalize.split_name(n)[1] for n in only_full],
        },
        dtype="string",
    )
    con.register("mm_splits", splits)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE mm_parts AS SELECT t.unique_id, t.full_name, "
        "coalesce(t.family_name, s.f) AS family_name, "
        "CASE WHEN t.family_name IS NULL AND t.given_name IS NULL THEN s.g ELSE t.given_name END AS given_name "
        f"FROM {table} t LEFT JOIN mm_splits s ON t.family_name IS NULL AND t.given_name IS NULL "
        "AND s.full_name = t.full_name"
    )
    con.unregister("mm_splits")
    maps = {}
    for col, is_family in (("family_name", True), ("given_name", False)):
        values = [r[0] for r in con.execute(f"SELECT DISTINCT {col} FROM mm_parts WHERE {col} IS NOT NULL").fetchall()]
        keys = [part_key(v, is_family) for v in values]
        maps[col] = pd.DataFrame(
            {
                "v": pd.array(values, dtype="string"),
                "k": pd.array([k[0] for k in keys], dtype="string"),
                "c": pd.array([k[1] for k in keys], dtype="boolean"),
            }
        )
    # Traditional -> Simplified per character (names: character-level conversion suffices)
    chars = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT unnest(string_split(full_name, '')) FROM mm_parts "
            "WHERE regexp_matches(full_name, '[\u3400-\u9fff\uf900-\ufaff]')"
        ).fetchall()
    ]
    pairs = [(c, normalize.simplified(c)) for c in chars if c]
    trad = "".join(a for a, b in pairs if b and b != a and a not in "]\\'^-")
    # names with a Traditional character: converted in Python, once per distinct name
    names = (
        [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT full_name FROM mm_parts WHERE regexp_matches(full_name, '[{trad}]')"
            ).fetchall()
        ]
        if trad
        else []
    )
    con.register(
        "mm_simple",
        pd.DataFrame(
            {
                "full_name": pd.array(names, dtype="string"),
                "s": pd.array([normalize.simplified(n) for n in names], dtype="string"),
            }
        ),
    )
    con.register("mm_fam", maps["family_name"])
    con.register("mm_giv", maps["given_name"])
    fam, giv = "f.k", "g.k"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {table}_names AS
        SELECT p.unique_id,
               nullif(regexp_replace(lower(coalesce(t.s, p.full_name, concat(p.family_name, p.given_name))),
                                     '[\\s·.''\\-]+', '', 'g'), '') AS name_s,
               {fam} AS fam, {giv} AS giv,
               nullif(concat(coalesce({fam}, ''), coalesce({giv}, '')), '') AS py,
               CASE WHEN {fam} IS NULL THEN {giv} WHEN {giv} IS NULL THEN {fam}
                    WHEN {fam} <= {giv} THEN {fam} || ' ' || {giv} ELSE {giv} || ' ' || {fam} END AS name_key,
               CASE WHEN {fam} IS NULL THEN {fuzzy_sql(giv)} WHEN {giv} IS NULL THEN {fuzzy_sql(fam)}
                    WHEN {fuzzy_sql(fam)} <= {fuzzy_sql(giv)} THEN {fuzzy_sql(fam)} || ' ' || {fuzzy_sql(giv)}
                    ELSE {fuzzy_sql(giv)} || ' ' || {fuzzy_sql(fam)} END AS name_fz,
               coalesce(f.c, false) OR coalesce(g.c, false) AS cjk
        FROM mm_parts p LEFT JOIN mm_fam f ON f.v = p.family_name LEFT JOIN mm_giv g ON g.v = p.given_name
        LEFT JOIN mm_simple t ON t.full_name = p.full_name
    """)
    con.unregister("mm_simple")
    con.unregister("mm_fam")
    con.unregister("mm_giv")
    con.execute("DROP TABLE mm_parts")


def name_keys(full_name, family, given) -> tuple:
    """(name_s, fam, giv, py, name_key, name_fz, cjk) of one name (tests, small inputs)."""
    con = warehouse.scratch()
    con.execute("CREATE TABLE one (unique_id BIGINT, full_name VARCHAR, family_name VARCHAR, given_name VARCHAR)")
    con.execute("INSERT INTO one VALUES (1, ?, ?, ?)", [full_name, family, given])
    name_columns(con, "one")
    row = con.execute("SELECT name_s, fam, giv, py, name_key, name_fz, cjk FROM one_names").fetchone()
    con.close()
    return row


_EXACT = re.compile(r"^exact match (?:on|of) (?P<col>[a-z_]+)$", re.I)
# The levels this model labels itself (above), each with its key under stewards.dd.level.
_LEVEL_KEYS = {
    "same characters": "same_characters",
    "same name (pinyin/Latin, either order)": "same_name_key",
    "same name up to fuzzy pinyin (zh/z, ch/c, sh/s, ng/n)": "fuzzy_pinyin",
    "one part equal, the other similar": "part_similar",
    "one part equal, the other missing": "part_missing",
    "both parts similar": "parts_similar",
    "same given name, family name differs": "same_given_name",
    "same birth date": "same_birth_date",
    "day and month swapped": "day_month_swapped",
    "one of year, month, day differs": "one_date_part",
    "within a year": "within_a_year",
    "one address starts the other (building/unit left out)": "address_prefix",
    "address similar (JW ≥ 0.92)": "address_similar",
    "address close (JW ≥ 0.8)": "address_close",
    "one digit differs": "one_digit",
    "one digit differs, names agree": "one_digit_names_agree",
}
# "same email", "same email, names agree", "same number, names differ" (_shared's levels)
_SHARED = re.compile(r"^same (?P<what>address|postcode|number|email)(?:, names (?P<names>agree|differ))?$")
_COLUMN = re.compile(r"\b(" + "|".join(sorted(FIELD_LABELS, key=len, reverse=True)) + r"|mobile_key|name_pinyin)\b")


def level_text(label: str) -> str:
    """A comparison level's label (splink's chart label such as "Exact match on email_norm")
    in words for stewards, in the current language: "Same email"; other labels keep their
    wording with the matching columns named as fields ("email_norm" -> "Email")."""
    from lib.core import i18n, validation

    def field(col: str) -> str:
        return validation.field_label(
            {"mobile_key": "mobile", "name_pinyin": "full_name"}.get(col, FIELD_LABELS.get(col, col))
        )

    text = (label or "").strip()
    if text.lower() in ("missing", "null") or text.lower().endswith(" is null"):
        return i18n.t("stewards.dd.level.missing")
    if text.lower().startswith("all other"):
        return i18n.t("stewards.dd.level.other")
    exact = _EXACT.match(text)
    if exact:
        return i18n.t("stewards.dd.level.exact", field=field(exact.group("col")))
    if text in _LEVEL_KEYS:
        return i18n.t(f"stewards.dd.level.{_LEVEL_KEYS[text]}")
    shared = _SHARED.match(text)
    if shared:
        names = shared.group("names")
        key = "stewards.dd.level.exact" if names is None else f"stewards.dd.level.same_names_{names}"
        return i18n.t(key, field=field({"number": "mobile"}.get(shared.group("what"), shared.group("what"))))
    return _COLUMN.sub(lambda m: field(m.group(1)), text)
