"""The customer rows: people, channels, companies, e-mails (a part of the generator)."""

from __future__ import annotations

import importlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lib.demo.spec import (
    B2B_SHARE,
    CHANNEL_SHARES,
    CN_EMAIL_DOMAINS,
    CN_MOBILE_PREFIXES,
    COUNTRIES,
    DEFECT_CODES,
    DEFECT_RATES,
    EMAIL_SHARE_CN,
    INDUSTRIES,
    INTERNATIONAL_SHARE,
    JOB_TITLES_ZH,
    MOBILE_SHARE_INTL,
    PROVINCE_WEIGHTS,
    QQ_EMAIL_SHARE,
    RESIDENT_ID_SHARE,
)
from lib.demo.pools import (
    _areas,
    _ascii,
    _birthplaces,
    _cat,
    _choice,
    _initials,
    _null_where,
    _num,
    _per_distinct,
    _pinyin,
    _residences,
    _scatter,
    _strs,
    _take,
    _unique_ints,
    _weights,
    _where,
    _zh_names,
)
from lib.demo.rows import _duplicated, _placeholder_like, _ric_check, _uscc_check


class Customers:
    """The customer rows: people, channels, companies, e-mails (a part of the generator). Mixed into generator._Build."""

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
            code[picks[at : at + counts[d]]] = i
            at += counts[d]
        self.defect = code
        # Originals: clean rows registered before the duplicate.
        clean = np.flatnonzero(code == 0)
        dups = np.flatnonzero(code == 1)
        n_before = np.searchsorted(clean, dups)  # clean rows with index < dup
        self.dup_rows = dups
        self.dup_of = clean[(rng.random(len(dups)) * n_before).astype(np.int64)]

    def _people(self, rng: np.random.Generator, cols: dict) -> None:
        n, cn, intl = self.n, ~self.intl, self.intl
        as_of_d = np.datetime64(self.as_of, "D")
        # Ages: online shoppers skew to 25-44; B2B contacts are 25-60.
        ages = np.arange(18, 81)
        age_w = np.select([ages < 25, ages < 35, ages < 45, ages < 55, ages < 65], [0.8, 1.6, 1.3, 0.9, 0.5], 0.2)
        age = ages[_choice(rng, n, age_w)]
        age = np.where(self.b2b, np.clip(age, 25, 60), age)
        birth = (as_of_d - (age * 365.25).astype(np.int64) - rng.integers(0, 365, n)).astype("datetime64[D]")
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
        c2 = np.where(
            c2 == c1,
            np.where(male, off_sm, off_sf)
            + (c2 + 1 - np.where(male, off_sm, off_sf)) % np.where(male, len(single_m), len(single_f)),
            c2,
        )
        composed = rng.random(n) < 0.55
        given_zh = _where(composed, _cat(_take(g_pool, c1), _take(g_pool, c2)), _take(g_pool, whole))

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
        keys = (
            "family",
            "given",
            "full",
            "py",
            "fam_c",
            "giv_c",
            "address",
            "city",
            "province",
            "postcode",
            "mobile",
            "domain",
        )
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
                g_s = _where(mm, _take(_strs(ml), _choice(rng, m, mw_)), _take(_strs(wl), _choice(rng, m, ww_)))
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
        intl_col = {
            k: _scatter(nulls, irows, pa.concat_arrays(v) if v else pa.nulls(0, pa.string())) for k, v in parts.items()
        }
        i_family, i_given, i_full, i_py = (intl_col[k] for k in ("family", "given", "full", "py"))
        i_fam_c, i_giv_c, i_mobile, i_domain = (intl_col[k] for k in ("fam_c", "giv_c", "mobile", "domain"))
        i_addr = {k: intl_col[k] for k in ("address", "city", "province", "postcode")}

        # ---- Chinese birthplace, residence, resident ID, mobile
        areas = _areas(self.as_of.year - 100, self.as_of.year)
        byear = birth.astype("datetime64[Y]").astype(np.int64) + 1970
        born = _birthplaces(rng, areas, byear)
        moved = (rng.random(n) < 0.25) | ~areas.current[born]  # most live where born
        home = np.where(moved, _residences(rng, areas, n), born)
        seq = rng.integers(0, 500, n) * 2 + male.astype(np.int64)  # odd = male
        area_code = areas.code[born]
        bdays = birth.astype(np.int64)
        for _ in range(20):  # resident IDs are unique
            key = (area_code.astype(np.int64) * 200_000 + (bdays + 100_000)) * 1000 + seq
            key = np.where(cn, key, -np.arange(n) - 1)
            _, first = np.unique(key, return_index=True)
            clash = np.ones(n, dtype=bool)
            clash[first] = False
            if not clash.any():
                break
            seq[clash] = rng.integers(0, 500, int(clash.sum())) * 2 + male[clash]
        ymd = self._ymd(birth)
        body = np.char.add(np.char.add(area_code.astype("U6"), ymd.astype("U8")), np.char.zfill(seq.astype("U3"), 3))
        id_numbers = np.char.add(body, _ric_check(body))
        has_id = cn & (rng.random(n) < RESIDENT_ID_SHARE)
        self.id_number = np.where(has_id, id_numbers, None).astype(object)
        self.birth_true = birth

        cn_mobile = self._cn_mobiles(rng, n)
        street_pool = _strs(sorted(set(self._street_names())))
        street = _take(street_pool, rng.integers(0, len(street_pool), n))
        no = _num(rng.integers(1, 400, n))
        unit = _where(
            rng.random(n) < 0.75,
            _cat(
                _num(rng.integers(1, 30, n)), "栋", _num(rng.integers(1, 33, n)), _num(rng.integers(1, 9, n), 2), "室"
            ),
            pa.scalar("", pa.string()),
        )
        zh_addr = _cat(street, no, "号", unit)
        postcode = _cat(_take(areas.postprefix, home), _num(rng.integers(0, 10_000, n), 4))

        cols["family_name"] = _where(cn, family, i_family)
        cols["given_name"] = _where(cn, given_zh, i_given)
        cols["full_name"] = _where(cn, zh_full, i_full)
        cols["name_pinyin"] = _where(cn, zh_pinyin, i_py)
        cols["gender"] = pa.array(np.where(intl & (rng.random(n) < 0.04), "U", gender).tolist(), type=pa.string())
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
            return (f"{fk.town()}{fk.chome()}{fk.ban()}{fk.gou()}", fk.city(), fk.prefecture(), fk.zipcode())
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
        ch = np.where(self.intl, np.where(rng.random(n) < 0.5, 0, 1), ch)  # web or app
        b2b_ch = np.array([0, 4, 6, 3, 5])[_choice(rng, n, [0.30, 0.20, 0.30, 0.10, 0.10])]
        ch = np.where(self.b2b, b2b_ch, ch)
        # source system per acquisition channel
        r = rng.random(n)
        src = np.select(
            [ch == 0, ch == 1, ch == 2, ch == 3, ch == 4, ch == 5, ch == 6],
            [
                np.where(r < 0.8, 1, 4),
                np.full(n, 1),
                np.full(n, 2),
                np.full(n, 3),
                np.where(r < 0.6, 2, 1),
                np.where(r < 0.5, 1, 4),
                np.where(r < 0.5, 0, 4),
            ],
            1,
        )
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
        ok = areas.current & np.array([bool(c) and c.endswith("市") and len(c) <= 4 for c in city_names])
        big = np.array([PROVINCE_WEIGHTS[c // 10000] for c in areas.code]) * ok
        a_idx = _choice(rng, m, np.where(ok, areas.weight * (1 + 3 * (big > 60)), 0.0))
        short = pc.utf8_replace_slice(_take(areas.city, a_idx), -1, 100, "")
        pre_i = rng.integers(0, len(C.company_prefixes), m)
        prefix = _take(_strs(C.company_prefixes), pre_i)
        name = _cat(short, prefix, _take(_strs(C.company_suffixes), rng.integers(0, len(C.company_suffixes), m)))
        # USCC: 9 (SAIC) + 1 (enterprise) + region + organisation code (GB 11714) + check
        org = rng.integers(0, 10, (m, 8))
        ow = np.array([3, 7, 9, 10, 5, 8, 4, 2])
        c9 = 11 - (org * ow).sum(axis=1) % 11
        c9s = np.where(c9 == 10, "X", np.where(c9 == 11, "0", c9.astype("U2")))
        body = np.char.add(
            np.char.add(
                np.char.add("91", areas.code[a_idx].astype("U6")),
                np.array(["".join(map(str, o)) for o in org.tolist()]),
            ),
            c9s,
        )
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
        cols["job_title"] = _null_where(~b2b, _take(_strs(JOB_TITLES_ZH), rng.integers(0, len(JOB_TITLES_ZH), n)))
        cols["customer_type"] = pa.array(np.where(b2b, "B2B", "B2C").tolist(), type=pa.string())
        self.work_domain = spread(domain)

    def _emails(self, rng: np.random.Generator, cols: dict) -> None:
        n, cn, intl, b2b = self.n, ~self.intl, self.intl, self.b2b
        num = rng.integers(0, 10_000, n)
        digits = _where(
            rng.random(n) < 0.45,
            pa.scalar("", pa.string()),
            _where(rng.random(n) < 0.5, _num(1970 + num % 40), _num(num % 1000)),
        )
        style = rng.integers(0, 3, n)
        local = _where(
            style == 0,
            _cat(self.fam_c, self.giv_c),
            _where(
                style == 1,
                _cat(self.giv_c, ".", self.fam_c),
                _where(cn, self.ini, _cat(pc.utf8_slice_codeunits(self.giv_c, 0, 1), self.fam_c)),
            ),
        )
        local = _cat(local, digits)
        domains = list(CN_EMAIL_DOMAINS)
        cn_dom = _take(_strs(domains), _choice(rng, n, list(CN_EMAIL_DOMAINS.values())))
        qq = cn & ~b2b & (rng.random(n) < QQ_EMAIL_SHARE)
        qq_num = _num(_unique_ints(rng, n, 10_000, 3_999_999_999))
        local = _where(qq, qq_num, local)
        domain = _where(qq, pa.scalar("qq.com", pa.string()), _where(intl, self.i_domain, cn_dom))
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
