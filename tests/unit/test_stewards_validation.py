"""Field validators: valid and invalid examples per rule, and properties (hypothesis)."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from lib.core import i18n, normalize, validation as v
from lib.security import privacy


@pytest.mark.parametrize(
    "raw, e164",
    [
        ("13812345678", "+8613812345678"),
        ("138 1234 5678", "+8613812345678"),
        ("+86 138-1234-5678", "+8613812345678"),
        ("0086 13812345678", "+8613812345678"),
        ("８６１３８１２３４５６７８", "+8613812345678"),  # full-width digits
        ("(+44) 7911 123456", "+447911123456"),
        ("+1 415 555 2671", "+14155552671"),
        ("  ", None),
    ],
)
def test_mobile_accepts_and_normalises_to_e164(raw, e164):
    assert v.mobile(raw) == e164


@pytest.mark.parametrize(
    "raw, code",
    [
        ("12345", "mobile.invalid"),
        ("+8612633772910", "mobile.invalid"),  # no such mobile range
        ("+86157411", "mobile.invalid"),  # truncated
        ("010-12345678", "mobile.not_mobile"),  # Beijing landline
        ("phone", "mobile.invalid"),
    ],
)
def test_mobile_rejects_with_a_code(raw, code):
    with pytest.raises(v.FieldError) as exc:
        v.mobile(raw)
    assert exc.value.code == code


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("Zhang.Wei@Example.COM", "Zhang.Wei@example.com"),
        (" li_na+news@qq.com ", "li_na+news@qq.com"),
        ("ｌｉ＠ｑｑ．ｃｏｍ", "li@qq.com"),  # full-width folded first
        ("user@mail.example.co.uk", "user@mail.example.co.uk"),
    ],
)
def test_email_accepts_syntactically_valid_addresses(raw, clean):
    assert v.email(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        "a@@qq.com",
        "581288689@qq,com",
        "2972087040.@qq.com",
        "a..b@x.com",
        "no-at-sign",
        "a@localhost",
        "a@x.123",
        "a b@x.com",
    ],
)
def test_email_rejects_broken_addresses(raw):
    with pytest.raises(v.FieldError) as exc:
        v.email(raw)
    assert exc.value.code == "email.invalid"


def test_resident_id_checks_checksum_birth_date_and_consistency():
    assert v.resident_id("11010519491231002x") == "11010519491231002X"
    assert v.resident_id("11010519491231002X", date(1949, 12, 31)) == "11010519491231002X"
    cases = {
        "1101051949123100": "id_number.length",
        "1101051949123A002X": "id_number.format",
        "110105194912310021": "id_number.checksum",
        "11010519491231002Y": "id_number.checksum",
        "110105194913310021": "id_number.birth_date",  # month 13, right check digit
        "999999194912310025": "id_number.region",
    }  # no such region, right check digit
    for raw, code in cases.items():
        with pytest.raises(v.FieldError) as exc:
            v.resident_id(raw)
        assert exc.value.code == code, raw
    with pytest.raises(v.FieldError) as exc:
        v.resident_id("11010519491231002X", date(1950, 1, 1))
    assert exc.value.code == "id_number.birth_mismatch"


def test_uscc_postcode_dates_and_codes():
    assert v.uscc("91110000600037341L") == "91110000600037341L"
    with pytest.raises(v.FieldError):
        v.uscc("91110000600037341A")
    assert v.postcode("518000") == "518000"
    assert v.postcode("sw1a 1aa", "GB") == "SW1A 1AA"
    for bad in ("51800", "5180000", "ABCDEF"):
        with pytest.raises(v.FieldError):
            v.postcode(bad)
    assert v.day("2024/1/5") == date(2024, 1, 5)
    assert v.day("2024年1月5日") == date(2024, 1, 5)
    assert v.day("20240105") == date(2024, 1, 5)
    assert v.timestamp("2024-01-05 08:30") == datetime(2024, 1, 5, 8, 30)
    with pytest.raises(v.FieldError) as exc:
        v.birth_date("2099-01-01", today=date(2026, 11, 1))
    assert exc.value.code == "date.future"
    with pytest.raises(v.FieldError) as exc:
        v.birth_date("1899-12-31")
    assert exc.value.code == "date.too_old"
    with pytest.raises(v.FieldError) as exc:
        v.day("2024-02-30")
    assert exc.value.code == "date.invalid"
    assert v.gender("女") == "F" and v.customer_type("企业") == "B2B" and v.country("中国") == "CN"


def test_every_failure_code_has_a_message_in_both_languages():
    codes = [k[len("stewards.v.") :] for k in i18n.catalog() if k.startswith("stewards.v.")]
    assert len(codes) >= 25
    for code in codes:
        en, zh = v.message("mobile", code, "en"), v.message("mobile", code, "zh")
        assert en and zh and en != zh and "{" not in en and "{" not in zh


def test_customer_fields_lists_every_problem_and_derives_name_and_id_columns():
    with pytest.raises(v.ValidationError) as exc:
        v.customer_fields({"mobile": "123", "email": "x@@y", "postcode": "1"})
    assert set(exc.value.by_field()) == {"mobile", "email", "postcode"}
    clean = privacy.protect_id_number(
        v.customer_fields({"full_name": "歐陽娜娜", "id_number": "11010519491231002X", "birth_date": "1949-12-31"})
    )
    assert (clean["family_name"], clean["given_name"], clean["name_pinyin"]) == (
        "歐陽",
        "娜娜",
        "ou yang na na|oynn|ouyangnana",
    )
    assert clean["id_number_last4"] == "002X" and len(clean["id_number_hash"]) == 64
    assert clean["id_number_enc"] and "11010519491231002X" not in clean["id_number_enc"]


def test_names_pinyin_and_traditional_to_simplified():
    assert normalize.pinyin("单", "伟") == "shan wei|sw|shanwei"
    assert normalize.pinyin("張", "偉") == normalize.pinyin("张", "伟") == "zhang wei|zw|zhangwei"
    assert normalize.simplified("張偉") == "张伟"
    assert normalize.split_name("Anna Smith") == ("Smith", "Anna")
    assert normalize.text("　ＡＢＣ　１２３　") == "ABC 123"


# ---------------------------------------------------------------- properties

messy = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
phone_like = st.from_regex(r"\A[+]?[0-9 ()\-]{0,18}\Z", fullmatch=True)
email_like = st.from_regex(
    r"\A[A-Za-z0-9._%+\-]{0,12}@{1,2}[A-Za-z0-9\-]{0,8}(\.[A-Za-z0-9\-]{0,6}){0,3}\Z", fullmatch=True
)

VALIDATORS = [
    v.mobile,
    v.email,
    v.day,
    v.timestamp,
    v.birth_date,
    v.resident_id,
    v.uscc,
    v.postcode,
    v.gender,
    v.customer_type,
    v.country,
    v.amount,
    v.count,
]


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(messy, phone_like, email_like))
def test_validators_never_crash_only_field_errors(value):
    for check in VALIDATORS:
        try:
            check(value)
        except v.FieldError as exc:
            assert exc.message("en") and exc.message("zh")


@settings(max_examples=300, deadline=None)
@given(value=email_like)
def test_email_fast_path_agrees_with_email_validator(value):
    from email_validator import EmailNotValidError, validate_email

    fast = v._email_fast(value)  # noqa: SLF001
    if fast is not None:
        assert fast == validate_email(value, check_deliverability=False).normalized
    else:
        try:
            expected = validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError:
            expected = None
        try:
            got = v.email(value)
        except v.FieldError:
            got = None
        assert got == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(
        st.one_of(
            phone_like,
            email_like,
            messy,
            st.sampled_from(["13812345678", "+86 139 1234 5678", "a@b.com", "2024/1/5", "20240105", "1990-02-30"]),
        ),
        max_size=25,
    )
)
def test_vectorised_columns_agree_with_scalar_validators(values):
    s = normalize.text_series(pd.Series(values, dtype="string"))
    for series_fn, scalar in ((v.mobile_series, v.mobile), (v.email_series, v.email)):
        clean, code = series_fn(s)
        for raw, c, k in zip(s, clean, code):
            if pd.isna(raw):
                assert pd.isna(c) and pd.isna(k)
                continue
            try:
                expected, expected_code = scalar(raw), None
            except v.FieldError as exc:
                expected, expected_code = None, exc.code
            assert (None if pd.isna(c) else c) == expected
            assert (None if pd.isna(k) else k) == expected_code
    ts, code = v.timestamp_series(s, "registered_at")
    for raw, c, k in zip(s, ts, code):
        if pd.isna(raw):
            continue
        try:
            expected = v.timestamp(raw)
        except v.FieldError:
            expected = None
        assert (None if pd.isna(c) else c.to_pydatetime()) == expected


# ---------------------------------------------------------------- dates as other countries write them


def _stamps(values, month_first=False):
    ts, codes = v.timestamp_series(pd.Series(values, dtype="string"), "order_time", month_first)
    return [None if pd.isna(x) else x.to_pydatetime() for x in ts], [None if pd.isna(c) else c for c in codes]


def test_a_day_month_year_column_is_read_in_the_order_its_values_show():
    # a second number above 12: month first (an American export), times with AM/PM
    assert _stamps(["12/1/2009 7:45", "12/13/2009 7:45 PM", "1/2/2010 12:05 am"])[0] == [
        datetime(2009, 12, 1, 7, 45),
        datetime(2009, 12, 13, 19, 45),
        datetime(2010, 1, 2, 0, 5),
    ]
    # a first number above 12: day first (British, Australian, German dots, 2-digit years)
    assert _stamps(["13/1/2009", "1/2/2010 09:06", "14.03.24"])[0] == [
        datetime(2009, 1, 13),
        datetime(2010, 2, 1, 9, 6),
        datetime(2024, 3, 14),
    ]


def test_an_undecided_column_follows_the_files_country_and_a_mixed_one_is_not_guessed():
    assert _stamps(["1/2/2010"])[0] == [datetime(2010, 2, 1)]  # day first by default
    assert _stamps(["1/2/2010"], month_first=True)[0] == [datetime(2010, 1, 2)]  # a US file
    assert _stamps(["13/1/2009", "1/13/2009"]) == ([None, None], ["date.invalid", "date.invalid"])


def test_utc_offsets_and_fractions_keep_the_clock_the_export_showed():
    assert (
        _stamps(["2026-01-15 10:32:11 +0100", "2026-01-15T10:32:11Z", "2026-01-15T10:32:11.123+08:00"])[0]
        == [datetime(2026, 1, 15, 10, 32, 11)] * 3
    )
    assert _stamps(["15-01-2026", "2024/1/5", "20240105", "2024年1月5日"])[0] == [
        datetime(2026, 1, 15),
        datetime(2024, 1, 5),
        datetime(2024, 1, 5),
        datetime(2024, 1, 5),
    ]


def test_birth_dates_of_a_us_file_are_read_month_first():
    checked = v.check_frame(
        "customers",
        pd.DataFrame(
            {
                "source_record_id": ["1", "2"],
                "full_name": ["Ann Lee", "Bo Chan"],
                "birth_date": ["3/4/1990", "12/25/1985"],
            }
        ).astype("string"),
        today=date(2026, 12, 1),
        defaults={"country": "US"},
    )
    assert [d.date() for d in checked.clean["birth_date"]] == [date(1990, 3, 4), date(1985, 12, 25)]
