"""Files that used to load wrong data without a word are refused or repaired, with a message:
rows wider than the header, repeated header names, encodings other than UTF-8, control
characters, absurdly wide files. Excel is read with python-calamine."""

from __future__ import annotations

import io
import time

import openpyxl
import pandas as pd
import pytest

from lib.stewardship import importer
from lib.core import normalize, warehouse
from tests.stewards_fixtures import _stw_root, stw_empty  # noqa: F401 - fixtures


def read(data: bytes, name: str = "file.csv") -> pd.DataFrame:
    return importer.read_table(data, name)


def test_a_row_with_more_cells_than_the_header_is_refused_with_its_line():
    data = b"id,name,city\n1,Anna,Sydney\n2,Smith, Ben,Perth\n3,Cleo,Hobart\n4,Dan,x,y\n"
    with pytest.raises(importer.ImportProblem) as exc:
        read(data)
    assert str(exc.value) == (
        "2 rows have more cells than the header's 3: line 3 has 4, line 5 has 4. A value holds the "
        "separator without quotes, or a column has no header; read as it is, every value after it "
        "would land in the wrong column. Fix the export; nothing was imported."
    )


def test_pandas_alone_would_have_shifted_every_row_of_that_file():
    """Why the check exists: pandas makes the first column the index and shifts the rest."""
    data = b"id,name,city\n1,Anna,Sydney,x\n2,Ben,Perth,y\n"
    shifted = pd.read_csv(io.BytesIO(data), dtype=str)
    assert shifted["name"].tolist() == ["Sydney", "Perth"]
    with pytest.raises(importer.ImportProblem):
        read(data)


def test_empty_cells_beyond_the_header_are_dropped_and_short_rows_padded_with_notes():
    frame = read(b"id,name,city\n1,Anna,Sydney,,\n2,Ben\n3,Cleo,Hobart\n")
    assert frame.values.tolist() == [["1", "Anna", "Sydney"], ["2", "Ben", ""], ["3", "Cleo", "Hobart"]]
    assert frame.attrs["notes"] == [
        "1 rows ended with empty cells beyond the header's 3 columns: those cells were dropped.",
        "1 rows had fewer cells than the header's 3: the missing cells at their end were read as empty.",
    ]


def test_a_repeated_header_is_refused_instead_of_becoming_name_1():
    assert list(pd.read_csv(io.BytesIO(b"id,name,name\n1,a,b\n")).columns) == ["id", "name", "name.1"]
    with pytest.raises(importer.ImportProblem) as exc:
        read(b"id,name,mobile, name\n1,a,1,b\n")
    assert str(exc.value) == (
        "The header names a column more than once: 'name' (columns 2, 4). Give "
        "every column its own name and export again; nothing was imported."
    )


def test_a_repeated_header_in_excel_is_refused_too():
    wb = openpyxl.Workbook()
    wb.active.append(["id", "Email", "Email"])
    wb.active.append(["1", "a@b.com", "c@d.com"])
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(importer.ImportProblem, match="'Email' \\(columns 2, 3\\)"):
        read(buf.getvalue(), "f.xlsx")


JAPANESE = "id,name,address\n1,山田太郎,東京都千代田区丸の内1-1\n2,佐藤花子,大阪府大阪市北区梅田2-3\n3,鈴木一郎,神奈川県横浜市中区本町4-5\n"
CHINESE = "客户编号,姓名,地址\nA1,张伟,北京市朝阳区建国路88号\nA2,王芳,上海市浦东新区世纪大道100号\n"


def test_a_shift_jis_file_is_read_as_japanese_not_as_gb18030():
    data = JAPANESE.encode("shift_jis")
    assert data.decode("gb18030") != JAPANESE  # what the old reader loaded
    frame = read(data)
    assert frame["name"].tolist() == ["山田太郎", "佐藤花子", "鈴木一郎"]
    assert frame.attrs["notes"] == ["The file was read as Shift-JIS (Japanese) text."]


@pytest.mark.parametrize("encoding, label", [("gb18030", "GB18030 (Chinese)"), ("gbk", "GB18030 (Chinese)")])
def test_chinese_excel_csv_in_gbk_still_reads(encoding, label):
    frame = read(CHINESE.encode(encoding))
    assert frame["姓名"].tolist() == ["张伟", "王芳"]
    assert frame.attrs["notes"] == [f"The file was read as {label} text."]


def test_ascii_headers_over_gbk_names_are_detected_past_the_first_megabyte():
    data = ("id,name\n" + "".join(f"{i},x\n" for i in range(200_000)) + "999,张伟\n").encode("gb18030")
    assert len(data) > 1 << 20
    frame = read(data)
    assert frame["name"].iloc[-1] == "张伟"


def test_big5_and_western_files_read_in_their_encodings():
    assert read("id,name\n1,張偉\n2,陳美玲\n".encode("big5"))["name"].tolist() == ["張偉", "陳美玲"]
    assert read("id,name\n1,José Müller\n".encode("cp1252"))["name"].tolist() == ["José Müller"]


def test_a_file_whose_encoding_is_ambiguous_is_refused():
    with pytest.raises(importer.ImportProblem) as exc:
        read("1,山田\n".encode("shift_jis"))
    assert str(exc.value).startswith(
        "The file's encoding is ambiguous: it reads as Shift-JIS (Japanese) and as Windows-1252 (Western European)"
    )
    assert str(exc.value).endswith("Save it as CSV UTF-8 and import again.")


def test_control_characters_are_removed_from_every_cell_with_a_note():
    data = "id,name,note\n1,An\x00na,ok\n2,Ben\u202egpj.exe,x\u200by\n3,Cleo,fine\n".encode("utf-8")
    frame = read(data)
    assert frame.values.tolist() == [["1", "Anna", "ok"], ["2", "Bengpj.exe", "xy"], ["3", "Cleo", "fine"]]
    assert frame.attrs["notes"] == [
        "Control characters (NUL, bidirectional overrides such as U+202E ...) were removed from 3 cells in: name, note."
    ]


def test_normalize_text_removes_control_characters_for_forms_too():
    assert normalize.text("Ben\u202egpj.exe\x00 ") == "Bengpj.exe"
    assert normalize.text("a\u200db") == "a\u200db"  # joiners stay (emoji, scripts)


def test_a_file_of_100000_columns_is_refused_in_under_a_second():
    data = (",".join(f"c{i}" for i in range(100_000)) + "\n" + ",".join("1" * 100_000) + "\n").encode()
    started = time.perf_counter()
    with pytest.raises(importer.ImportProblem) as exc:
        read(data)
    assert time.perf_counter() - started < 1.0
    assert str(exc.value) == (
        "The file has 100,000 columns; at most 1,000 are read. Export only the "
        "customer columns (one row per record, one column per field)."
    )


def test_excel_cells_read_as_people_see_them():
    from datetime import datetime

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "mobile", "amount", "born", "when", "note"])
    ws.append(["A1", 13812345670, 1299.5, datetime(1990, 1, 2), datetime(2024, 1, 2, 10, 30), "a\u202eb"])
    buf = io.BytesIO()
    wb.save(buf)
    frame = read(buf.getvalue(), "f.xlsx")
    assert frame.values.tolist() == [["A1", "13812345670", "1299.5", "1990-01-02", "2024-01-02 10:30:00", "ab"]]


def test_a_refused_file_writes_nothing_and_the_cli_says_why_in_one_line(stw_empty, tmp_path, capsys):
    from lib import cli

    path = tmp_path / "wide.csv"
    path.write_bytes(b"id,name\n1,Anna,Smith\n")
    assert cli.main(["import", "customers", str(path), "--source", "x", "--no-dedup"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: 1 rows have more cells than the header's 2: line 2 has 3.")
    assert warehouse.scalar("SELECT count(*) FROM imports") == 0


def test_repair_notes_travel_to_the_import_result(stw_empty, tmp_path, users):
    path = tmp_path / "c.csv"
    path.write_bytes("id,name,mobile\n1,Anna\x00,13812345678\n2,Ben\n".encode())
    r = importer.import_file(users["steward"], "customers", path, "x", match_duplicates=False)
    assert r.rows_loaded == 2
    assert r.notes == [
        "1 rows had fewer cells than the header's 3: the missing cells at their end were read as empty.",
        "Control characters (NUL, bidirectional overrides such as U+202E ...) were removed from 1 cells in: name.",
    ]


def test_a_file_cut_in_the_middle_of_a_chinese_character_is_still_read_as_utf8():
    """A truncated upload ends in half a character: the half is dropped with a note, instead of
    the whole file being guessed as a Windows code page (it was read as cp1006: 'ﮒﺙ')."""
    from lib.stewardship import importer as imp

    data = "id,name\n1,张三\n2,李四\n".encode("utf-8")[:-2]  # the last 李四 byte and the newline
    frame = imp.read_table(data, "cut.csv")
    assert frame.values.tolist() == [["1", "张三"], ["2", "李"]]
    assert frame.attrs["notes"] == [
        "The file ends in the middle of a character (it was cut off when saved or sent): "
        "the incomplete last character was dropped."
    ]
    whole = imp.read_table("id,name\n1,张三\n".encode("utf-8"), "whole.csv")
    assert whole.attrs.get("notes", []) == [] and whole.values.tolist() == [["1", "张三"]]
