"""Files from elsewhere: no contacts at all, foreign phones and postcodes read in their own
country, Latin names kept as given and family name; entry rules decide what a missing field does."""

from __future__ import annotations

import json

import pytest

from lib import cli
from lib.stewardship import entry_rules, importer
from lib.core import validation, warehouse
from tests.stewards_fixtures import _stw_root, stw_empty  # noqa: F401 - fixtures

# Ids, names, addresses and birth dates only: no phone, no email (a public customer list).
NO_CONTACT = """rec_id,given_name,surname,street_number,address_1,suburb,postcode,state,date_of_birth
rec-1,michaela,neumann,8,stanley street,miami,4223,qld,1951-01-17
rec-2,courtney,painter,12,pinkerton circuit,bega flats,4017,vic,1961-05-23
rec-3,charles,green,38,salkauskas crescent,kela,2507,nsw,1928-01-07
"""


def write(tmp_path, text: str, name: str = "file.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_without_contacts_loads_every_row_flagged_not_contactable(stw_empty, tmp_path, users):
    r = importer.import_file(
        users["steward"], "customers", write(tmp_path, NO_CONTACT), "febrl", country="AU", match_duplicates=False
    )
    assert (r.rows_total, r.rows_loaded, r.rows_quarantined, r.rows_flagged) == (3, 3, 0, 3)
    assert warehouse.scalar("SELECT count(*) FROM quarantine") == 0
    rows = warehouse.read(
        "SELECT source_record_id, given_name, family_name, full_name, postcode, "
        "country, CAST(birth_date AS VARCHAR) AS bd, address, "
        "CAST(raw_values AS VARCHAR) AS raw FROM customers ORDER BY source_record_id"
    )
    assert rows.to_dict("records")[0] == {
        "source_record_id": "rec-1",
        "given_name": "michaela",
        "family_name": "neumann",
        "full_name": "michaela neumann",
        "postcode": "4223",
        "country": "AU",
        "bd": "1951-01-17",
        "address": "8 stanley street",
        "raw": None,
    }
    flags = warehouse.read(
        "SELECT rule_id, field, CAST(detail AS VARCHAR) AS d FROM quality_flags ORDER BY customer_id"
    )
    assert flags["rule_id"].tolist() == ["import.contact"] * 3
    assert json.loads(flags["d"].iloc[0])["code"] == "contact.none"
    assert (
        validation.message("contact", "contact.none", "en")
        == "Not contactable: no valid mobile or email. The record loads and stays out of audiences."
    )


def test_under_rules_that_require_a_contact_rows_without_one_are_quarantined(stw_empty, tmp_path, users):
    entry_rules.save(
        users["steward"], "febrl", "customers", {"full_name": "quarantine", "contact": "quarantine"}, country="AU"
    )
    with pytest.raises(importer.ImportProblem, match="^Map a column to each required field: Contact$"):
        importer.import_file(
            users["steward"], "customers", write(tmp_path, NO_CONTACT), "febrl", match_duplicates=False
        )
    with_phone = NO_CONTACT.replace("date_of_birth\n", "date_of_birth,phone\n").replace(
        "1951-01-17\n", "1951-01-17,0412 345 678\n"
    )
    r = importer.import_file(
        users["steward"], "customers", write(tmp_path, with_phone), "febrl", match_duplicates=False
    )
    assert (r.rows_loaded, r.rows_quarantined) == (1, 2)
    reasons = warehouse.read("SELECT CAST(reasons AS VARCHAR) AS r FROM quarantine")["r"]
    assert {x["code"] for r_ in reasons for x in json.loads(r_)} == {"required.contact"}


def test_australian_postcodes_are_refused_as_chinese_without_a_country(stw_empty, tmp_path, users):
    r = importer.import_file(
        users["steward"], "customers", write(tmp_path, NO_CONTACT), "febrl", match_duplicates=False
    )
    assert (r.rows_loaded, r.rows_quarantined) == (3, 0)
    raw = warehouse.read("SELECT CAST(raw_values AS VARCHAR) AS raw FROM customers ORDER BY source_record_id")["raw"]
    assert [json.loads(x) for x in raw] == [{"postcode": "4223"}, {"postcode": "4017"}, {"postcode": "2507"}]


def test_the_source_default_country_reads_rows_without_one(stw_empty, tmp_path, users):
    entry_rules.save(
        users["steward"], "febrl", "customers", {"full_name": "quarantine", "contact": "flag"}, country="Australia"
    )
    r = importer.import_file(
        users["steward"], "customers", write(tmp_path, NO_CONTACT), "febrl", match_duplicates=False
    )
    assert r.rows_loaded == 3
    assert warehouse.read("SELECT DISTINCT country, postcode IS NOT NULL AS pc FROM customers").to_dict("records") == [
        {"country": "AU", "pc": True}
    ]


INTERNATIONAL = """id,name,phone,postcode,country
au1,Anna Smith,0412 345 678,2000,AU
au2,Ben Jones,(02) 9374 4000,3000,Australia
au3,Bad Aussie,0412 345,200,AU
gb1,Clare Brown,07400 123456,SW1A 1AA,GB
gb2,Dan White,+44 20 7946 0958,EC1A 1BB,UK
gb3,Bad Brit,07700 90,SW1A,GB
us1,Eve Black,(212) 555-0123,10001,US
us2,Frank Green,+1 650 253 0000,94043-1351,USA
us3,Bad Yank,555-0123,1234,US
cn1,张伟,13812345678,518000,
"""


def test_phones_and_postcodes_are_read_in_each_rows_country(stw_empty, tmp_path, users):
    r = importer.import_file(
        users["steward"], "customers", write(tmp_path, INTERNATIONAL), "intl", match_duplicates=False
    )
    assert (r.rows_loaded, r.rows_quarantined) == (10, 0)
    rows = warehouse.read(
        "SELECT source_record_id AS id, mobile, postcode, country, CAST(raw_values AS VARCHAR) AS raw FROM customers"
    ).set_index("id")
    assert rows.loc[["au1", "au2", "gb1", "gb2", "us1", "us2", "cn1"], "mobile"].tolist() == [
        "+61412345678",
        "+61293744000",
        "+447400123456",
        "+442079460958",
        "+12125550123",
        "+16502530000",
        "+8613812345678",
    ]
    assert rows.loc[["au1", "au2", "gb1", "gb2", "us1", "us2", "cn1"], "postcode"].tolist() == [
        "2000",
        "3000",
        "SW1A 1AA",
        "EC1A 1BB",
        "10001",
        "94043-1351",
        "518000",
    ]
    assert rows.loc[["au2", "gb2", "us2", "cn1"], "country"].tolist() == ["AU", "GB", "US", "CN"]
    for bad, phone, pc in (("au3", "0412 345", "200"), ("gb3", "07700 90", "SW1A"), ("us3", "555-0123", "1234")):
        assert rows.loc[bad, "mobile"] is None or rows.loc[bad, "mobile"] != rows.loc[bad, "mobile"]
        assert json.loads(rows.loc[bad, "raw"]) == {"mobile": phone, "postcode": pc}


@pytest.mark.parametrize(
    "country, raw, e164",
    [
        ("AU", "0412 345 678", "+61412345678"),
        ("AU", "+61 2 9374 4000", "+61293744000"),
        ("GB", "07400 123456", "+447400123456"),
        ("GB", "020 7946 0958", "+442079460958"),
        ("US", "(212) 555-0123", "+12125550123"),
        ("US", "650-253-0000", "+16502530000"),
        ("CN", "138 1234 5678", "+8613812345678"),
        ("AU", "+86 138 1234 5678", "+8613812345678"),
    ],
)
def test_mobile_reads_national_numbers_in_the_given_country(country, raw, e164):
    assert validation.mobile(raw, country=country) == e164


@pytest.mark.parametrize(
    "country, raw", [("AU", "13812345678"), ("GB", "0412 345 678"), ("US", "555-0123"), ("CN", "0412 345 678")]
)
def test_mobile_refuses_numbers_that_do_not_exist_in_the_country(country, raw):
    with pytest.raises(validation.FieldError) as exc:
        validation.mobile(raw, country=country)
    assert exc.value.code == "mobile.invalid"


@pytest.mark.parametrize(
    "country, ok, bad",
    [
        ("AU", ["2000", "0800"], ["200", "20000", "SW1A 1AA"]),
        ("GB", ["SW1A 1AA", "EC1A1BB", "M1 1AE"], ["12345", "SW1A", "QQ1 1AA"]),
        ("US", ["10001", "94043-1351"], ["1234", "ABCDE", "10001-12"]),
        ("CN", ["518000"], ["5180", "2000"]),
        ("HK", ["HK-1"], ["!"]),  # no postcodes in the metadata: a loose shape
    ],
)
def test_postcodes_follow_their_countrys_pattern(country, ok, bad):
    assert [validation.postcode(v, country) for v in ok] == [v.upper() for v in ok]
    for v in bad:
        with pytest.raises(validation.FieldError):
            validation.postcode(v, country)


@pytest.mark.parametrize(
    "raw, code",
    [("Australia", "AU"), ("au", "AU"), ("UK", "GB"), ("United States", "US"), ("澳大利亚", "AU"), ("中国", "CN")],
)
def test_countries_by_code_or_name(raw, code):
    assert validation.country(raw) == code


def test_an_unknown_country_is_refused():
    with pytest.raises(validation.FieldError):
        validation.country("Atlantis")


def test_vectorised_phones_agree_with_the_scalar_validator_per_country():
    import pandas as pd

    values = pd.Series(["0412 345 678", "13812345678", "0412 345 678", None, "07400 123456"], dtype="string")
    countries = pd.Series(["AU", "CN", "CN", "AU", "GB"], dtype="string")
    clean, codes = validation.mobile_series(values, countries)
    expected = []
    for v, c in zip(values, countries):
        try:
            expected.append(validation.mobile(None if v is pd.NA else v, country=c))
        except validation.FieldError as exc:
            expected.append(exc.code)
    got = [codes[i] if not pd.isna(codes[i]) else (None if pd.isna(clean[i]) else clean[i]) for i in range(len(values))]
    assert got == expected == ["+61412345678", "+8613812345678", "mobile.invalid", None, "+447400123456"]


def test_the_cli_takes_a_country_and_prints_the_rules_in_force(stw_empty, tmp_path, capsys):
    path = write(tmp_path, NO_CONTACT)
    assert cli.main(["import", "customers", str(path), "--source", "febrl", "--country", "AU", "--no-dedup"]) == 0
    out = capsys.readouterr()
    result = json.loads(out.out.strip().splitlines()[-1])
    assert (result["rows_loaded"], result["rows_quarantined"], result["rows_flagged"]) == (3, 0, 3)
    assert "Contact (contact): flag" in out.err
    assert "Country: Australia (AU)" in out.err
    assert cli.main(["entry-rules", "show", "--source", "febrl"]) == 0
    shown = capsys.readouterr().out
    assert "customers (built-in)" in shown and "Name (full_name): quarantine" in shown


def test_the_cli_refuses_an_unknown_country_in_one_line(stw_empty, tmp_path, capsys):
    assert (
        cli.main(
            [
                "import",
                "customers",
                str(write(tmp_path, NO_CONTACT)),
                "--source",
                "febrl",
                "--country",
                "Atlantis",
                "--no-dedup",
            ]
        )
        == 2
    )
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("'Atlantis' is not a country: give an ISO code such as AU, GB, US or CN.")
    )


def test_under_the_built_in_rules_only_rows_without_id_or_name_are_quarantined(stw_empty, tmp_path, users):
    from tests.unit.test_stewards_import import MESSY

    r = importer.import_file(users["steward"], "customers", write(tmp_path, MESSY), "partner_x", match_duplicates=False)
    assert (r.rows_total, r.rows_loaded, r.rows_quarantined, r.rows_flagged) == (8, 6, 2, 4)
    q = warehouse.read("SELECT source_record_id, CAST(reasons AS VARCHAR) AS r FROM quarantine ORDER BY row_no")
    assert [(k, [x["code"] for x in json.loads(v)]) for k, v in zip(q["source_record_id"], q["r"])] == [
        ("A3", ["required.missing"]),
        ("A5", ["duplicate_in_file"]),
    ]
    flags = warehouse.read(
        "SELECT c.source_record_id AS id, f.rule_id FROM quality_flags f "
        "JOIN customers c USING (customer_id) ORDER BY 1, 2"
    )
    assert flags.values.tolist() == [
        ["A2", "import.postcode"],
        ["A4", "import.contact"],
        ["A4", "import.mobile"],
        ["A5", "import.birth_date"],
        ["A5", "import.contact"],
        ["A5", "import.email"],
        ["A7", "import.email"],
    ]
    raw = warehouse.scalar("SELECT CAST(raw_values AS VARCHAR) FROM customers WHERE source_record_id = 'A4'")
    assert json.loads(raw) == {"mobile": "12345"}  # nothing kept for the missing contact


@pytest.mark.parametrize(
    "name, parts",
    [
        ("Anna Smith", ("Smith", "Anna")),
        ("Smith, Anna", ("Smith", "Anna")),
        ("Mary Ann O'Brien", ("O'Brien", "Mary Ann")),
        ("欧阳娜娜", ("欧阳", "娜娜")),
        ("Cher", (None, "Cher")),
    ],
)
def test_latin_names_keep_family_and_given_apart(name, parts):
    from lib.core import normalize

    assert normalize.split_name(name) == parts


def test_given_and_family_columns_are_stored_as_given_in_either_file_order(stw_empty, tmp_path, users):
    text = "id,surname,given_name\n1,Smith,Anna\n2,Lee,Ben\n"
    importer.import_file(users["steward"], "customers", write(tmp_path, text), "x", match_duplicates=False)
    rows = warehouse.read("SELECT family_name, given_name, full_name, name_pinyin FROM customers ORDER BY 1")
    assert rows.values.tolist() == [
        ["Lee", "Ben", "Ben Lee", "ben lee|bl|benlee"],
        ["Smith", "Anna", "Anna Smith", "anna smith|as|annasmith"],
    ]


def test_a_missing_given_name_is_not_filled_with_the_family_name(stw_empty, tmp_path, users):
    text = "rec_id,given_name,surname\nrec-223-org,,waller\nrec-1,anna,\n"
    importer.import_file(users["steward"], "customers", write(tmp_path, text), "febrl", match_duplicates=False)
    rows = warehouse.read(
        "SELECT source_record_id, coalesce(family_name, '-') AS f, "
        "coalesce(given_name, '-') AS g, full_name FROM customers ORDER BY 1"
    )
    assert rows.values.tolist() == [["rec-1", "-", "anna", "anna"], ["rec-223-org", "waller", "-", "waller"]]


def test_not_contactable_customers_stay_out_of_every_audience_even_with_consent(stw_empty, tmp_path, users):
    from datetime import date

    from lib.marketing import audience
    from tests import factories

    importer.import_file(
        users["steward"], "customers", write(tmp_path, NO_CONTACT), "febrl", country="AU", match_duplicates=False
    )
    with warehouse.transaction() as tx:
        for cid in warehouse.read("SELECT customer_id FROM customers")["customer_id"]:
            for channel in ("sms", "email", "phone"):
                factories.consent(tx, int(cid), channel)
    counts = audience.reachable({"op": "and", "conditions": []}, date(2026, 11, 1)).set_index("channel")
    assert counts[["members", "consenting", "valid_contact", "reachable"]].loc["sms"].tolist() == [3, 3, 0, 0]
    assert counts["reachable"].tolist() == [0, 0, 0]
