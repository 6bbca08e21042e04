"""Large imports run their per-value Python work (Fernet, HMAC, phonenumbers, stdnum) in
worker processes (lib.core.parallel) and read multi-line CSV cells with pyarrow: the results must be
exactly those of the plain in-process path."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lib.stewardship import importer
from lib.core import normalize, parallel, validation, warehouse
from lib.security import privacy
from tests.stewards_fixtures import _stw_root, stw_empty  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pooled(monkeypatch):
    """Every list of 8 or more values goes to the worker processes."""
    monkeypatch.setattr(parallel, "THRESHOLD", 8)
    yield
    parallel.shutdown()


def _pid_per_item(items: list) -> list:
    return [os.getpid()] * len(items)


def _square(items: list) -> list:
    return [x * x for x in items]


def _die_in_a_worker(items: list, parent_pid: int) -> list:
    if os.getpid() != parent_pid:
        os._exit(1)  # a worker killed mid-job (out of memory, say)
    return [x + 1 for x in items]


IDS = ["11010519491231002X", None, "", "440301199001020017", " 110105 19491231002x "] * 4


def test_small_lists_stay_in_this_process():
    assert set(parallel.map_list(_pid_per_item, range(20))) == {os.getpid()}


def test_large_lists_run_in_worker_processes_and_keep_their_order(pooled):
    assert parallel.map_list(_square, range(100)) == [x * x for x in range(100)]
    assert os.getpid() not in set(parallel.map_list(_pid_per_item, range(20)))


def test_workers_do_not_rerun_the_script_that_started_them(tmp_path):
    """multiprocessing would: under Streamlit that script is the page being rendered."""
    marker, script = tmp_path / "runs.txt", tmp_path / "page.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
        f"open({str(marker)!r}, 'a').write('run\\n')\n"
        "from lib.core import parallel\n"
        "from tests.unit.test_stewards_parallel import _square\n"
        "assert parallel.map_list(_square, range(20), threshold=1) == [x * x for x in range(20)]\n"
        "parallel.shutdown()\n"
    )
    subprocess.run([sys.executable, str(script)], check=True, cwd=tmp_path, timeout=120)
    assert marker.read_text() == "run\n"


def test_a_dead_worker_is_replaced_by_the_same_work_in_this_process(pooled):
    assert parallel.map_list(_die_in_a_worker, range(20), os.getpid()) == list(range(1, 21))
    assert parallel.map_list(_square, range(10)) == [x * x for x in range(10)]  # a new pool


def test_pooled_encryption_decrypts_to_the_same_values_and_keeps_none(pooled):
    tokens = privacy.encrypt_many(IDS)
    assert len(tokens) == len(IDS)
    assert [privacy.decrypt(t) for t in tokens] == [v or None for v in IDS]
    assert [t is None for t in tokens] == [not v for v in IDS]


def test_pooled_and_in_process_encryption_and_hashes_agree(pooled, monkeypatch):
    pooled_tokens, pooled_hashes = privacy.encrypt_many(IDS), privacy.id_hash_many(IDS)
    monkeypatch.setattr(parallel, "THRESHOLD", 10**9)
    here_tokens, here_hashes = privacy.encrypt_many(IDS), privacy.id_hash_many(IDS)
    # Fernet tokens carry a random IV: equal plaintexts, not equal tokens
    assert [privacy.decrypt(t) for t in pooled_tokens] == [privacy.decrypt(t) for t in here_tokens]
    assert pooled_hashes == here_hashes == [privacy.id_hash(v) for v in IDS]
    assert pooled_hashes[0] == pooled_hashes[4]  # spaces and case do not change the hash


def test_an_error_inside_a_worker_reaches_the_caller(pooled):
    with pytest.raises(RuntimeError, match="other keys"):
        parallel.map_list(privacy._encrypt_chunk, IDS, "0" * 64)


def test_a_worker_that_read_other_keys_refuses_to_encrypt():
    with pytest.raises(RuntimeError, match="other keys"):
        privacy._encrypt_chunk(["11010519491231002X"], "0" * 64)
    with pytest.raises(RuntimeError, match="other keys"):
        privacy._hash_chunk(["11010519491231002X"], "0" * 64)


CUSTOMERS = pd.DataFrame(
    {
        "source_record_id": [f"C{i}" for i in range(12)] * 3,
        "full_name": ["张伟", "欧阳娜娜", "Anna Smith", "", "李四", "張偉", "王五", "赵六", "X", "钱七", "孙八", "周九"]
        * 3,
        "mobile": [
            "138 1234 5678",
            "+44 7911 123456",
            "12345",
            "",
            "+86 139-1234-5678",
            "13712345678",
            "+8612633772910",
            "00447911123456",
            "abc",
            "1361234567",
            "+1 650 253 0000",
            "13512345678",
        ]
        * 3,
        "email": [
            "a@b.com",
            "",
            "Anna@Example.COM",
            "x@@y",
            "",
            "zhao@qq.com",
            "bad",
            "",
            "u@münchen.de",
            "",
            "q@w.test",
            "",
        ]
        * 3,
        "birth_date": ["1949/12/31", "1990.1.2", "", "2099-01-01", "1990-01-02", "", "", "", "", "", "", ""] * 3,
        "id_number": [
            "11010519491231002X",
            "110105199001020011",
            "",
            "",
            "440301199001020017",
            "110105194912310021",
            "12345",
            "",
            "",
            "",
            "",
            "",
        ]
        * 3,
    },
    dtype="string",
)


def test_pooled_validation_gives_exactly_the_in_process_result(pooled, monkeypatch):
    def check():
        frame = CUSTOMERS.astype(pd.StringDtype("pyarrow"))  # as read_table gives it
        return validation.check_frame(
            "customers",
            frame,
            today=pd.Timestamp("2026-11-01").date(),
            defaults={"channel": "x", "now": pd.Timestamp("2026-11-01 12:00")},
        )

    pooled_result = check()
    monkeypatch.setattr(parallel, "THRESHOLD", 10**9)
    here = check()
    pd.testing.assert_frame_equal(pooled_result.clean, here.clean)
    pd.testing.assert_frame_equal(pooled_result.failures, here.failures)
    pd.testing.assert_series_equal(pooled_result.quarantined, here.quarantined)
    pd.testing.assert_series_equal(pooled_result.flagged, here.flagged)
    pd.testing.assert_series_equal(pooled_result.raw_values, here.raw_values)
    assert here.clean.loc[0, "id_number"] == "11010519491231002X"
    assert here.failures.query("field == 'mobile' and row == 2")["code"].tolist() == ["mobile.invalid"]


def test_a_pooled_import_writes_what_the_in_process_import_writes(stw_empty, tmp_path, users, monkeypatch):
    path = tmp_path / "c.csv"
    CUSTOMERS.to_csv(path, index=False)
    steward = users["steward"]
    monkeypatch.setattr(parallel, "THRESHOLD", 8)
    pooled_result = importer.import_file(steward, "customers", path, "pooled", match_duplicates=False)
    monkeypatch.setattr(parallel, "THRESHOLD", 10**9)
    here = importer.import_file(steward, "customers", path, "here", match_duplicates=False)
    assert (pooled_result.rows_loaded, pooled_result.rows_quarantined, pooled_result.rows_flagged) == (
        here.rows_loaded,
        here.rows_quarantined,
        here.rows_flagged,
    )
    assert parallel._pool is None  # run_import does not leave workers behind

    def written(source):
        # channel defaults to the source name, registered_at to the time of the import
        rows = warehouse.read(
            "SELECT * EXCLUDE (customer_id, source, channel, registered_at, updated_at, id_number_enc, raw_values), "
            "CAST(raw_values AS VARCHAR) AS raw_values, id_number_enc FROM customers "
            "WHERE source = :source ORDER BY source_record_id",
            source=source,
        )
        rows["id_number"] = [privacy.decrypt(t) if isinstance(t, str) else None for t in rows.pop("id_number_enc")]
        flags = warehouse.read(
            "SELECT c.source_record_id, f.rule_id, CAST(f.detail AS VARCHAR) AS detail "
            "FROM quality_flags f JOIN customers c USING (customer_id) "
            "WHERE c.source = :source ORDER BY 1, 2",
            source=source,
        )
        quarantine = warehouse.read(
            "SELECT row_no, source_record_id, CAST(raw AS VARCHAR) AS raw, CAST(reasons AS VARCHAR) AS reasons "
            "FROM quarantine WHERE source = :source ORDER BY row_no",
            source=source,
        )
        # ID numbers are sealed in quarantine.raw: compare what the tokens decrypt to
        quarantine["raw"] = [
            json.dumps(
                {k: privacy.unseal_id(v) if isinstance(v, dict) else v for k, v in json.loads(r).items()},
                ensure_ascii=False,
            )
            for r in quarantine["raw"]
        ]
        return rows, flags, quarantine

    for a, b in zip(written("pooled"), written("here")):
        pd.testing.assert_frame_equal(a, b)
    rows = written("here")[0].set_index("source_record_id")
    assert rows.loc["C0", "id_number"] == "11010519491231002X"
    assert json.loads(written("here")[2]["reasons"].iloc[0])[0]["field"] in importer.FIELDS["customers"]


def _multiline_csv(rows: int) -> bytes:
    lines = ["客户编号,姓名,地址,邮编"]
    for i in range(rows):
        address = f'"Flat {i}\nRiver Road, ""Old"" Town"' if i % 3 == 0 else f"科技园路{i}号"
        lines.append(f"B{i},Name {i},{address},{'' if i % 5 == 0 else 518000 + i % 7}")
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


def test_quoted_line_breaks_in_a_large_csv_read_as_pandas_reads_them():
    data = _multiline_csv(60_000)  # > 1 MB: pyarrow's plain reader gives up on it
    frame = importer.read_table(data, "big.csv")
    expected = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    pd.testing.assert_frame_equal(frame, expected.fillna("").astype(pd.StringDtype("pyarrow")))
    assert frame.loc[3, "地址"] == 'Flat 3\nRiver Road, "Old" Town'
    assert frame.loc[0, "邮编"] == ""


def test_the_reader_refuses_what_pandas_would_misread_and_reads_quoted_line_breaks():
    # (was: the multi-line reader left these files to pandas, which renamed `a` to `a.1` and
    # shifted the ragged file into the wrong columns; see test_stewards_import_files.py)
    with pytest.raises(importer.ImportProblem):
        importer.read_table(b"a,a\n1,2\n", "x.csv")
    assert list(importer.read_table(b"a,,b\n1,2,3\n", "x.csv").columns) == ["a", "column 2", "b"]
    with pytest.raises(importer.ImportProblem):
        importer.read_table(b"a,b\n1,2,3\n", "x.csv")
    gbk = importer.read_table('姓名,地址\n张伟,"北京\n朝阳"\n'.encode("gb18030"), "x.csv")
    assert gbk.to_dict("records") == [{"姓名": "张伟", "地址": "北京\n朝阳"}]


def test_name_columns_agree_with_the_scalar_functions_row_by_row():
    names = pd.Series(
        ["张伟", "欧阳娜娜", "Anna Smith", None, "張偉", "单伟", "Anna Smith", "X", "司马 光", "Mary Ann Lee", "张伟"],
        dtype="string",
    )
    family, given = normalize.split_name_series(names)

    def plain(v):
        return None if pd.isna(v) else v

    assert list(zip(map(plain, family), map(plain, given))) == [normalize.split_name(plain(n)) for n in names]
    assert list(map(plain, normalize.pinyin_series(family, given))) == [
        normalize.pinyin(plain(f), plain(g)) for f, g in zip(family, given)
    ]
