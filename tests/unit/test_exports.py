"""Formula injection: every CSV and Excel file the app writes keeps hostile text inert.

A cell starting with = + - @ (or a tab / carriage return before one) is a formula to Excel and
LibreOffice. CSV cells get a leading single quote (OWASP), plain numbers stay numbers; Excel
cells are written as text cells, never as formulas. Each export path is checked with the same
payloads: the writer itself, audience CSV/XLSX, the audit log (a failed login with a hostile
username), duplicate pairs, churn and CLV scores. Churn/CLV score files also need a role and
leave an audit row. In-page downloads (lib.security.exports.deliver) write one audit row per download.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from datetime import date, datetime

import openpyxl
import pandas as pd
import pytest

from lib.marketing import audience, churn, clv, rfm
from lib.admin import audit_log as audit_trail
from lib.security import auth, exports
from lib.stewardship import dedup
from lib.core import warehouse
from lib.admin.audit_log import AuditFilter
from tests import factories as f

PAYLOADS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3", "\t=1"]
NEUTRALISED = ["'" + p for p in PAYLOADS]
XLSX_TYPES = {"=": "f", "+": "s"}  # what openpyxl stored before: "=" became a formula


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, so Excel reads Chinese text"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def csv_cells(data: bytes) -> list[str]:
    return [cell for row in csv_rows(data) for cell in row]


def assert_csv_safe(data: bytes) -> None:
    """No cell of the file starts with a formula prefix unless it is a plain number."""
    bad = [c for c in csv_cells(data) if exports.is_formula_like(c)]
    assert bad == [], f"formula-like cells in a CSV export: {bad}"


def xlsx_cells(data: bytes) -> list:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [cell for row in sheet.iter_rows() for cell in row]


def assert_xlsx_safe(data: bytes, payloads=PAYLOADS) -> None:
    """Each payload is present as a text cell holding exactly the payload, and no cell is a formula."""
    cells = xlsx_cells(data)
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    texts = {c.value: c.data_type for c in cells if isinstance(c.value, str)}
    for p in payloads:
        stored = p.replace("\r", "\n")  # XML line-end normalisation on read
        assert texts.get(stored) == "s", (p, texts.get(stored))


# ---------------------------------------------------------------- the writer itself


def payload_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": pd.array(PAYLOADS + ["-12.5", "ok", None], dtype="string"),
            "note": pd.Series(["=1+1", 7, None, "+8613812345678", "\r=2", "#N/A", "a=b", "-1,000.5"], dtype=object),
            "amount": [-1, -2, 3, 4, 5, 6, 7, 8],
            "score": [-0.5, 1.5, -2.0, 0.0, 1.0, 2.0, 3.0, float("nan")],
            "day": pd.to_datetime(["2026-01-02"] * 8),
        }
    )


def test_csv_neutralises_every_formula_prefix_and_keeps_numbers():
    rows = csv_rows(exports.to_csv(payload_frame()))
    assert rows[0] == ["name", "note", "amount", "score", "day"]
    assert [r[0] for r in rows[1:]] == NEUTRALISED + ["-12.5", "ok", ""]
    assert [r[1] for r in rows[1:]] == ["'=1+1", "7", "", "+8613812345678", "'\r=2", "#N/A", "a=b", "-1,000.5"]
    assert [r[2] for r in rows[1:]] == ["-1", "-2", "3", "4", "5", "6", "7", "8"]
    assert [r[3] for r in rows[1:]] == ["-0.5", "1.5", "-2.0", "0.0", "1.0", "2.0", "3.0", ""]
    assert rows[1][4] == "2026-01-02"


def test_a_line_break_inside_a_value_cannot_start_a_new_row():
    data = exports.to_csv(pd.DataFrame({"a": ["x\r=1+1", "y\n=2+2", "z\r\n@SUM(A1)"], "b": [1, 2, 3]}))
    assert csv_rows(data) == [["a", "b"], ["x\r=1+1", "1"], ["y\n=2+2", "2"], ["z\r\n@SUM(A1)", "3"]]


def test_any_index_works_duplicated_labels_too():
    frame = pd.DataFrame(
        {"a": ["=1", "x", "@2"], "b": pd.Series(["+c", "-1", "=d"], dtype=object, index=[7, 7, 3])}, index=[7, 7, 3]
    )
    assert csv_rows(exports.to_csv(frame)) == [["a", "b"], ["'=1", "'+c"], ["x", "-1"], ["'@2", "'=d"]]


def test_csv_neutralises_hostile_column_names_too():
    rows = csv_rows(exports.to_csv(pd.DataFrame({"=cmd()": [1], "ok": ["x"]})))
    assert rows == [["'=cmd()", "ok"], ["1", "x"]]


def test_xlsx_writes_text_as_text_and_numbers_as_numbers():
    cells = xlsx_cells(exports.to_xlsx(payload_frame()))
    by_row = [cells[i : i + 5] for i in range(0, len(cells), 5)]
    assert [c.value for c in by_row[0]] == ["name", "note", "amount", "score", "day"]
    names = by_row[1:]
    assert [(r[0].value, r[0].data_type) for r in names[:5]] == [(p, "s") for p in PAYLOADS]
    assert all(r[0].quotePrefix for r in names[:5])  # stays text when edited in Excel
    assert (names[5][0].value, names[5][0].data_type) == ("-12.5", "s")
    assert (names[0][1].value, names[0][1].data_type) == ("=1+1", "s")
    assert (names[5][1].value, names[5][1].data_type) == ("#N/A", "s")  # not an error cell
    assert [(r[2].value, r[2].data_type) for r in names] == [(v, "n") for v in [-1, -2, 3, 4, 5, 6, 7, 8]]
    assert (names[0][3].value, names[0][3].data_type) == (-0.5, "n")
    assert names[7][3].value is None and names[7][0].value is None
    assert names[0][4].value == datetime(2026, 1, 2) and names[0][4].data_type == "d"
    assert_xlsx_safe(exports.to_xlsx(payload_frame()))


def test_xlsx_drops_characters_a_workbook_cannot_hold_instead_of_failing():
    cells = xlsx_cells(exports.to_xlsx(pd.DataFrame({"name": ["a\x01b\x1bc"]})))
    assert cells[1].value == "abc"


def test_export_files_are_created_owner_only(tmp_path):
    path = exports.write_file(pd.DataFrame({"a": ["=1"]}), tmp_path / "x" / "out.csv")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert csv_rows(path.read_bytes()) == [["a"], ["'=1"]]
    xlsx = exports.write_file(pd.DataFrame({"a": ["=1"]}), tmp_path / "out.xlsx")
    assert stat.S_IMODE(os.stat(xlsx).st_mode) == 0o600
    assert_xlsx_safe(xlsx.read_bytes(), ["=1"])


# ---------------------------------------------------------------- audience exports

AS_OF = date(2026, 6, 30)


@pytest.fixture
def hostile(warehouse_path):
    """Five consenting, reachable customers whose name, city and source id are the payloads."""
    with warehouse.transaction() as tx:
        for i, p in enumerate(PAYLOADS, start=1):
            f.customer(
                tx, i, full_name=p, city=p, source_record_id=p, mobile=f"+86138000000{i:02d}", email=f"c{i}@example.com"
            )
            f.consent(tx, i, "sms")
            f.order(tx, i, datetime(2026, 6, 1), 100.0 * i)
    rfm.refresh(auth.SYSTEM, AS_OF)
    return warehouse_path


EVERYONE = {"op": "and", "conditions": []}


def audit_rows(action: str) -> list[dict]:
    frame = warehouse.read(
        "SELECT username, entity, entity_id, detail FROM audit_log WHERE action = :a ORDER BY audit_id", a=action
    )
    return [
        {**r, "detail": json.loads(r["detail"]) if isinstance(r["detail"], str) else r["detail"]}
        for r in frame.to_dict("records")
    ]


def test_audience_csv_export_neutralises_formulas(hostile, users):
    result = audience.export(users["marketing"], EVERYONE, "sms", "csv", AS_OF)
    rows = csv_rows(result.data)
    header = rows[0]
    assert result.rows == 5
    assert [r[header.index("full_name")] for r in rows[1:]] == NEUTRALISED
    assert [r[header.index("city")] for r in rows[1:]] == NEUTRALISED
    assert [r[header.index("customer_id")] for r in rows[1:]] == ["1", "2", "3", "4", "5"]
    assert_csv_safe(result.data)


def test_audience_xlsx_export_holds_text_cells_not_formulas(hostile, users):
    result = audience.export(users["marketing"], EVERYONE, "sms", "xlsx", AS_OF)
    assert result.mime == exports.XLSX_MIME
    assert_xlsx_safe(result.data)
    sheet = openpyxl.load_workbook(io.BytesIO(result.data)).active
    assert sheet.title == "audience"
    ids = [row[0].value for row in sheet.iter_rows(min_row=2)]
    assert ids == [1, 2, 3, 4, 5] and all(row[0].data_type == "n" for row in sheet.iter_rows(min_row=2))


def test_audience_cli_export_file_is_neutralised_and_owner_only(hostile, tmp_path):
    out = tmp_path / "aud.csv"
    audience.export_to_file(auth.SYSTEM, EVERYONE, "sms", out, AS_OF)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert_csv_safe(out.read_bytes())
    assert sum(c in NEUTRALISED for c in csv_cells(out.read_bytes())) == 15  # name, id, city x 5


# ---------------------------------------------------------------- the audit log export


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_failed_login_with_a_formula_username_cannot_reach_the_admins_spreadsheet(warehouse_path, users, payload):
    auth.record_login(payload, False)
    data, count = audit_trail.export_csv(users["admin"], AuditFilter(action="login.failed"))
    rows = csv_rows(data)
    header = rows[0]
    assert count == 1
    assert rows[1][header.index("username")] == "'" + payload
    assert_csv_safe(data)


# ---------------------------------------------------------------- duplicate pairs (CLI export)


def test_dedup_export_files_are_neutralised(warehouse_path, users, tmp_path):
    with warehouse.transaction() as tx:
        f.customer(tx, 1, source_record_id=PAYLOADS[0])
        f.customer(tx, 2, source_record_id=PAYLOADS[1])
        tx.run(
            "INSERT INTO dedup_candidates (run_id, customer_id_l, customer_id_r, match_probability, "
            "match_weight, agreement) VALUES (1, 1, 2, 0.97, 8.5, '{}')"
        )
        tx.run("INSERT INTO dedup_clusters (run_id, cluster_id, customer_id) VALUES (1, 1, 1), (1, 1, 2)")
    out = dedup.export(users["steward"], str(tmp_path / "pairs.csv"))
    pairs = csv_rows((tmp_path / "pairs.csv").read_bytes())
    assert pairs[1][pairs[0].index("source_record_id_l")] == NEUTRALISED[0]
    assert pairs[1][pairs[0].index("source_record_id_r")] == NEUTRALISED[1]
    assert pairs[1][pairs[0].index("match_probability")] == "0.97"
    clusters = csv_rows((tmp_path / "pairs.clusters.csv").read_bytes())
    assert [r[clusters[0].index("source_record_id")] for r in clusters[1:]] == NEUTRALISED[:2]
    assert out["pairs"] == 1 and out["cluster_rows"] == 2


# ---------------------------------------------------------------- churn and CLV score files


@pytest.fixture
def scored(warehouse_path):
    with warehouse.transaction() as tx:
        for i, p in enumerate(PAYLOADS, start=1):
            f.customer(tx, i, source_record_id=p)
            tx.run(
                "INSERT INTO churn_scores (customer_id, model_id, as_of, probability, risk_tier, reasons) "
                "VALUES (:i, 1, DATE '2026-06-30', :p, 'high', ['=cmd()', 'recency'])",
                i=i,
                p=i / 10,
            )
            tx.run(
                "INSERT INTO clv_scores (customer_id, clv_model_id, as_of, horizon_days, p_alive, "
                "expected_purchases, expected_avg_value, expected_value) "
                "VALUES (:i, 1, DATE '2026-06-30', 180, 0.5, 1.5, -20.0, :v)",
                i=i,
                v=-100.0 * i,
            )
    return warehouse_path


SCORE_EXPORTS = {"churn": churn.export_scores, "clv": clv.export_scores}


@pytest.mark.parametrize("kind", SCORE_EXPORTS)
@pytest.mark.parametrize("role", ["manager", "steward"])
def test_score_exports_are_refused_without_the_role(scored, users, tmp_path, kind, role):
    out = tmp_path / f"{kind}.csv"
    with pytest.raises(auth.PermissionDenied):
        SCORE_EXPORTS[kind](users[role], out)
    assert not out.exists()
    assert audit_rows(f"{kind}.export") == []
    assert [r["detail"] for r in audit_rows("access.denied")] == [{"action": "export_scores"}]


@pytest.mark.parametrize("kind", SCORE_EXPORTS)
@pytest.mark.parametrize("role", ["marketing", "admin"])
def test_score_exports_are_audited_and_neutralised(scored, users, tmp_path, kind, role):
    out = tmp_path / f"{kind}.csv"
    assert SCORE_EXPORTS[kind](users[role], out) == 5
    rows = csv_rows(out.read_bytes())
    assert [r[rows[0].index("source_record_id")] for r in rows[1:]] == NEUTRALISED
    if kind == "churn":
        assert [r[rows[0].index("reasons")] for r in rows[1:]] == ["'=cmd();recency"] * 5
    else:
        assert [r[rows[0].index("expected_value")] for r in rows[1:]] == [
            "-100.0",
            "-200.0",
            "-300.0",
            "-400.0",
            "-500.0",
        ]
    assert_csv_safe(out.read_bytes())
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    [entry] = audit_rows(f"{kind}.export")
    assert entry["username"] == role and entry["entity"] == f"{kind}_scores"
    assert entry["detail"]["rows"] == 5 and entry["detail"]["file"] == str(out)


def test_score_export_to_excel_keeps_text_and_negative_numbers(scored, users, tmp_path):
    out = tmp_path / "clv.xlsx"
    clv.export_scores(users["marketing"], out)
    assert_xlsx_safe(out.read_bytes())
    sheet = openpyxl.load_workbook(out).active
    header = [c.value for c in sheet[1]]
    values = [row[header.index("expected_value")] for row in sheet.iter_rows(min_row=2)]
    assert [(c.value, c.data_type) for c in values] == [(-100.0 * i, "n") for i in range(1, 6)]


def test_the_system_user_of_scripted_jobs_may_export_scores(scored, tmp_path):
    # the CLI (`churn ... --out`, `clv score --out`) passes auth.SYSTEM; the full CLI run is in
    # test_marketing_models.py::test_cli_churn_and_clv_write_scores_keyed_by_source_record_id
    assert churn.export_scores(auth.SYSTEM, tmp_path / "churn.csv") == 5
    assert [r["username"] for r in audit_rows("churn.export")] == ["system"]


# ---------------------------------------------------------------- in-page downloads


def test_deliver_writes_one_audit_row_per_download_and_masks(warehouse_path, users):
    frame = pd.DataFrame(
        {"customer_id": [1, 2], "full_name": [PAYLOADS[0], "李四"], "mobile": ["+8613812345678", None]}
    )
    item = exports.Download("customer_search", frame, "customers_page_1", filters={"searched_by": ["latin"], "page": 1})
    data = exports.deliver(users["manager"], item)
    rows = csv_rows(data)
    # the masked mobile starts with "+" and is not a number: Excel would evaluate it, so it is quoted
    assert rows == [
        ["customer_id", "full_name", "mobile"],
        ["1", NEUTRALISED[0], "'+86 138****5678"],
        ["2", "李四", ""],
    ]
    [entry] = audit_rows("download")
    assert entry["username"] == "manager" and entry["entity"] == "customer_search"
    assert entry["detail"] == {
        "rows": 2,
        "columns": ["customer_id", "full_name", "mobile"],
        "filters": {"searched_by": ["latin"], "page": 1},
        "file": "customers_page_1.csv",
        "format": "csv",
        "masked": True,
    }
    exports.deliver(users["steward"], item)
    assert [r["username"] for r in audit_rows("download")] == ["manager", "steward"]
    assert audit_rows("download")[1]["detail"]["masked"] is False


def test_a_download_button_drawn_before_the_user_was_disabled_no_longer_delivers(warehouse_path, users):
    from lib.admin import users as accounts

    item = exports.Download("customer_search", pd.DataFrame({"a": [1]}), "x")
    accounts.disable_user(users["admin"], "manager")
    with pytest.raises(auth.PermissionDenied):
        exports.deliver(users["manager"], item)
    assert audit_rows("download") == []
    assert [r["username"] for r in audit_rows("access.denied")] == ["manager"]


def test_a_download_is_masked_by_the_roles_held_at_the_click(warehouse_path, users):
    from lib.admin import users as accounts

    item = exports.Download("customer_search", pd.DataFrame({"mobile": ["+8613812345678"]}), "x")
    accounts.set_roles(users["admin"], "steward", ["manager"])  # lost the steward role
    assert csv_rows(exports.deliver(users["steward"], item))[1] == ["'+86 138****5678"]
    assert audit_rows("download")[0]["detail"]["masked"] is True


def test_deliver_refuses_a_user_without_a_role(warehouse_path):
    nobody = auth.User("nobody", "", frozenset())
    with pytest.raises(auth.PermissionDenied):
        exports.deliver(nobody, exports.Download("x", pd.DataFrame({"a": [1]}), "x"))
    assert audit_rows("download") == []
