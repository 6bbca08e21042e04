"""Injected defects: duplicate records of the same person, invalid fields, stale records."""

from __future__ import annotations


import numpy as np
import pyarrow as pa

from lib.demo.spec import DAY, MONTH, SOURCES, STALE_MONTHS, STALE_RATE
from lib.demo.pools import _common_chars_by_pinyin, _initials, _opencc, _pinyin, _replace_rows
from lib.demo.rows import (
    EMAIL_DEFECTS,
    MOBILE_DEFECTS,
    _bad_email,
    _bad_mobile,
    _format_variant,
    _homophone_typo,
    _is_cjk,
    _letter_typo,
)


class Defects:
    """Injected defects: duplicate records of the same person, invalid fields, stale records. Mixed into generator._Build."""

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
        for c in (
            "family_name",
            "given_name",
            "full_name",
            "name_pinyin",
            "gender",
            "country",
            "province",
            "city",
            "district",
            "address",
            "postcode",
            "customer_type",
            "company",
            "industry",
            "uscc",
            "job_title",
        ):
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
        new = {c: [] for c in ("family_name", "given_name", "full_name", "name_pinyin", "mobile", "email")}
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
                else:  # no traditional form: a homophone
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
            if m is None and e is None:  # keep the record contactable
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
        truth += [
            (r, "invalid_email", "email", f"{EMAIL_DEFECTS[v]}: {b}", None)
            for r, v, b in zip(rows.tolist(), variants.tolist(), bad)
        ]

        # invalid mobiles
        rows = np.flatnonzero(self.defect == 3)
        mob = cols["mobile"].take(pa.array(rows)).to_pylist()
        variants = rng.integers(0, 5, len(rows))
        fill = rng.integers(0, 10**8, len(rows))
        bad = [_bad_mobile(m, int(v), int(f)) for m, v, f in zip(mob, variants, fill)]
        cols["mobile"] = _replace_rows(cols["mobile"], rows, bad)
        truth += [
            (r, "invalid_mobile", "mobile", f"{MOBILE_DEFECTS[v]}: {b}", None)
            for r, v, b in zip(rows.tolist(), variants.tolist(), bad)
        ]

        # missing required: no contact at all, or no name
        rows = np.flatnonzero(self.defect == 4)
        no_name = rng.random(len(rows)) < 0.4
        for c in ("mobile", "email"):
            cols[c] = _replace_rows(cols[c], rows[~no_name], [None] * int((~no_name).sum()))
        for c in ("family_name", "given_name", "full_name", "name_pinyin"):
            cols[c] = _replace_rows(cols[c], rows[no_name], [None] * int(no_name.sum()))
        truth += [
            (
                r,
                "missing_required",
                "full_name" if nn else "mobile,email",
                "no name" if nn else "neither mobile nor email",
                None,
            )
            for r, nn in zip(rows.tolist(), no_name.tolist())
        ]

        # impossible dates
        rows = np.flatnonzero(self.defect == 5)
        kind = rng.integers(0, 3, len(rows))
        as_of_d = np.datetime64(self.as_of, "D")
        reg_d = (self.t0 + self.reg[rows].astype("timedelta64[s]")).astype("datetime64[D]")
        future = as_of_d + rng.integers(30, 3000, len(rows)).astype("timedelta64[D]")
        ancient = np.datetime64("1800-01-01") + rng.integers(0, 36_000, len(rows)).astype("timedelta64[D]")
        after_reg = reg_d + rng.integers(1, 600, len(rows)).astype("timedelta64[D]")
        new = np.where(kind == 0, future, np.where(kind == 1, ancient, after_reg))
        self.birth[rows] = new
        labels = ["birth date in the future", "birth date before 1900", "registered before birth"]
        truth += [
            (r, "impossible_date", "birth_date", f"{labels[k]}: {b}", None)
            for r, k, b in zip(rows.tolist(), kind.tolist(), new.astype(str).tolist())
        ]
        self.truth = truth

    def _freshness(self, rng: np.random.Generator, cols: dict) -> None:
        """updated_at / verified_at: recent for most rows, older than STALE_MONTHS for a few."""
        n, end = self.n, self.end
        fresh_from = end - int((STALE_MONTHS - 1) * MONTH)  # a month of margin
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
            self.truth.append(
                (r, "stale", "updated_at", f"updated and verified more than {STALE_MONTHS} months ago", None)
            )
