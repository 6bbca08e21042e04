"""CSV / Excel import of customers, orders and events, with column mapping and quarantine.

The steps, each a function so that the page, the CLI and tests share them:

    frame = read_table(path_or_bytes, file_name)          # every cell a string
    mapping = suggest_mapping("customers", frame.columns) # or load_mapping(...) / a saved one
    plan = prepare("customers", frame, mapping, source)   # normalise + validate, no writes
    result = run_import(user, plan, progress=...)         # ONE transaction

A row whose required data is missing or invalid goes to the quarantine with its reasons;
an invalid optional field is emptied, its raw value kept in customers.raw_values and the
record flagged (quality_flags kind 'import'). Re-importing the same file adds nothing: rows
whose (source, source_record_id) exist are counted as unchanged, and quarantined rows already
waiting with the same content are not queued twice. Orders and events find their customer
through the source's own customer key (customers.source_record_id of that source).

Bulk path: validation is vectorised (lib/validation.check_frame), then the clean frame is
registered with DuckDB (as Arrow) and inserted with one INSERT ... SELECT per table. On large
files the per-value library checks and the encryption of ID numbers run in worker processes
(lib.core.parallel) while this process does the column-wise work.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pyarrow as pa

from lib.security import audit, auth, privacy, search_index
from lib.core import errors, hooks, i18n, normalize, parallel, settings, validation, warehouse
from lib.stewardship import contact_imports, customer_keys, dedup, entry_rules, registration

log = logging.getLogger(__name__)

KINDS = (
    "customers",
    "orders",
    "events",
    "feedback",
) + contact_imports.KINDS  # consents, interactions: contact_imports.py

# Target fields per kind, each with header names (English, Chinese, common exports) that
# suggest it. Lists are matched after lower-casing and dropping spaces, '_', '-' and '.'.
FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": {
        "source_record_id": (
            "source_record_id",
            "id",
            "customer_id",
            "customerid",
            "cust_id",
            "member_id",
            "rec_id",
            "record_id",
            "recid",
            "memberid",
            "客户编号",
            "客户id",
            "会员编号",
            "会员id",
            "编号",
            "客户号",
        ),
        "full_name": ("full_name", "name", "fullname", "customer_name", "姓名", "客户姓名", "名称", "联系人"),
        "family_name": ("family_name", "last_name", "surname", "lastname", "姓"),
        "given_name": ("given_name", "first_name", "firstname", "名"),
        "gender": ("gender", "sex", "性别"),
        "birth_date": ("birth_date", "birthday", "dob", "date_of_birth", "birthdate", "出生日期", "生日"),
        "mobile": (
            "mobile",
            "phone",
            "mobile_phone",
            "cell",
            "cellphone",
            "tel",
            "telephone",
            "phone_number",
            "手机",
            "手机号",
            "手机号码",
            "电话",
            "联系电话",
        ),
        "email": ("email", "e-mail", "mail", "email_address", "邮箱", "电子邮箱", "电子邮件"),
        "id_number": ("id_number", "resident_id", "id_card", "idcard", "身份证", "身份证号", "身份证号码", "证件号码"),
        "country": ("country", "country_code", "国家", "国家地区"),
        "province": ("province", "state", "region", "province_code", "state_code", "region_code", "省", "省份"),
        "city": ("city", "town", "suburb", "城市", "市"),
        "district": ("district", "county", "区", "区县"),
        "address": (
            "address",
            "street",
            "street_address",
            "addr",
            "address_1",
            "address_2",
            "address_line_1",
            "address_line_2",
            "address1",
            "address2",
            "地址",
            "详细地址",
            "街道",
            "street_no",
            "street_number",
            "house_number",
            "门牌号",
            "门牌",
        ),
        "postcode": ("postcode", "zip", "zipcode", "postal_code", "邮编", "邮政编码"),
        "customer_type": ("customer_type", "type", "客户类型"),
        "company": ("company", "company_name", "organisation", "organization", "公司", "公司名称", "单位"),
        "industry": ("industry", "行业"),
        "job_title": ("job_title", "title", "position", "职位", "职务"),
        "uscc": ("uscc", "credit_code", "统一社会信用代码", "信用代码"),
        "channel": ("channel", "acquisition_channel", "渠道", "来源渠道"),
        "registered_at": (
            "registered_at",
            "created_at",
            "signup_date",
            "register_time",
            "registration_date",
            "注册时间",
            "注册日期",
        ),
        # yes/no per channel, as shops and CRMs export them (CONSENT_FIELDS)
        "email_consent": (
            "email_consent",
            "accepts_email_marketing",
            "accepts_marketing",
            "email_opt_in",
            "email_optin",
            "email_subscribed",
            "email_subscription",
            "email_marketing",
            "email_marketing_consent",
            "newsletter",
            "邮件订阅",
            "订阅邮件",
            "接收邮件",
            "邮件营销",
        ),
        "sms_consent": (
            "sms_consent",
            "accepts_sms_marketing",
            "sms_opt_in",
            "sms_optin",
            "sms_subscribed",
            "sms_marketing",
            "sms_marketing_consent",
            "text_opt_in",
            "短信订阅",
            "接收短信",
            "短信营销",
        ),
        "phone_consent": ("phone_consent", "phone_opt_in", "call_opt_in", "accepts_calls", "电话营销", "接受电话"),
    },
    "orders": {
        "source_record_id": (
            "source_record_id",
            "order_id",
            "orderid",
            "order_no",
            "order_number",
            "id",
            "invoice",
            "invoice_no",
            "invoice_id",
            "订单号",
            "订单编号",
            "单号",
        ),
        "customer_key": customer_keys.HEADER_NAMES,
        "order_time": (
            "order_time",
            "order_date",
            "created_at",
            "time",
            "date",
            "invoice_date",
            "purchase_date",
            "order_purchase_timestamp",
            "下单时间",
            "订单时间",
            "创建时间",
        ),
        "status": ("status", "order_status", "financial_status", "payment_status", "状态", "订单状态", "交易状态"),
        "amount": (
            "amount",
            "total",
            "order_amount",
            "order_total",
            "total_price",
            "grand_total",
            "paid",
            "金额",
            "实付金额",
            "订单金额",
        ),
        # a line's price: with no amount column, each line's amount is price x quantity
        "unit_price": ("unit_price", "price", "lineitem_price", "item_price", "单价"),
        "refund_amount": ("refund_amount", "refund", "refunded_amount", "退款", "退款金额"),
        "channel": ("channel", "渠道"),
        "category": ("category", "product_category", "品类", "类目"),
        "item_count": ("item_count", "items", "quantity", "qty", "lineitem_quantity", "件数", "数量"),
        # who the customer is, for customers the import creates (NEW_CUSTOMER_FIELDS)
        "customer_name": ("customer_name", "billing_name", "buyer_name", "客户姓名", "买家姓名", "收货人"),
        "customer_country": ("customer_country", "country", "billing_country", "国家", "国家地区"),
    },
    "events": {
        "source_record_id": ("source_record_id", "event_id", "eventid", "事件编号"),
        "customer_key": customer_keys.HEADER_NAMES,
        "event_type": ("event_type", "type", "event", "action", "行为", "行为类型"),
        "event_time": ("event_time", "time", "timestamp", "date", "行为时间", "时间"),
        "channel": ("channel", "渠道"),
        "category": ("category", "品类"),
        "amount": ("amount", "金额"),
        "order_key": ("order_key", "order_id", "order_no", "订单号"),
        "note": ("note", "notes", "comment", "备注", "内容"),
    },
    # Survey responses (lib/stewardship/feedback.py; NPS 0-10, CSAT 1-5: docs/metrics.md).
    "feedback": {
        "source_record_id": ("source_record_id", "response_id", "responseid", "answer_id", "答卷编号", "问卷编号"),
        "customer_key": customer_keys.HEADER_NAMES,
        "survey": ("survey", "survey_name", "questionnaire", "问卷", "问卷名称", "调查"),
        "scale": ("scale", "score_type", "metric", "量表", "评分类型"),
        "score": ("score", "rating", "nps_score", "csat_score", "评分", "分数", "得分", "满意度评分"),
        "comment": ("comment", "comments", "verbatim", "feedback", "评论", "意见", "留言", "备注"),
        "responded_at": (
            "responded_at",
            "response_time",
            "submitted_at",
            "time",
            "date",
            "答卷时间",
            "提交时间",
            "时间",
        ),
        "channel": ("channel", "渠道"),
    },
}


def field_order(kind: str, values: dict) -> list[str]:
    """The fields of a stored row (a quarantined one) in the import's own order (FIELDS), then
    any others as stored: a steward fixes them in the order the file and the mapping use."""
    order = [f for f in FIELDS.get(kind, {}) if f in values]
    return order + [f for f in values if f not in order]


def readable_raw(kind: str, raw: Any) -> str:
    """A quarantined row's values as "Field: value; Field: value" in the import's field order
    and the current language (empty values left out)."""
    values = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
    parts = [
        f"{validation.field_label(f)}: {values[f]}" for f in field_order(kind, values) if values[f] not in (None, "")
    ]
    return "; ".join(parts) or i18n.EMPTY


# A customer file's consent columns: field -> channel. A yes records a grant and a no a
# withdrawal, each only when it changes the customer's consent in force (so a re-import writes
# nothing); a value that is neither records nothing and is listed in the import's notes.
CONSENT_FIELDS = {"email_consent": "email", "sms_consent": "sms", "phone_consent": "phone"}

# An orders file's columns about its customers: used only to create the customers it names but
# the warehouse does not know (`create_customers`), as these customer fields.
NEW_CUSTOMER_FIELDS = {"customer_name": "full_name", "customer_country": "country"}

REQUIRED_FIELDS = {
    "customers": ("source_record_id",),
    "orders": ("source_record_id", "customer_key", "order_time", "amount"),
    "events": ("customer_key", "event_type", "event_time"),
    "feedback": ("customer_key", "scale", "score", "responded_at"),
}
FIELDS.update(contact_imports.FIELDS)
REQUIRED_FIELDS.update(contact_imports.REQUIRED)


def rules_for(source: str | None, kind: str) -> entry_rules.Rules:
    """The entry rules an import of `kind` uses (consents and interactions have none: their
    required fields are fixed, REQUIRED_FIELDS)."""
    if kind in contact_imports.KINDS:
        return entry_rules.Rules(source=source or entry_rules.ALL_SOURCES, kind=kind, required={})
    return entry_rules.in_force(source, kind)


class ImportProblem(errors.ValidationError):
    """A problem with the file or the mapping, for people to read."""


# ---------------------------------------------------------------- reading

MAX_COLUMNS = 1_000  # a customer export has dozens; 100,000 is not a table to map
MAX_LISTED = 5  # line numbers quoted in a refusal
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
# Encodings charset-normalizer may name for a CJK file, and the codec that reads all of it.
_GB = {"gb2312", "gbk", "gb18030", "hz", "cp936"}
_ENCODING_NAMES = {
    "gb18030": "GB18030 (Chinese)",
    "big5": "Big5 (Traditional Chinese)",
    "cp950": "Big5 (Traditional Chinese)",
    "big5hkscs": "Big5-HKSCS (Traditional Chinese)",
    "cp932": "Shift-JIS (Japanese)",
    "shift_jis": "Shift-JIS (Japanese)",
    "shift_jis_2004": "Shift-JIS (Japanese)",
    "shift_jisx0213": "Shift-JIS (Japanese)",
    "euc_jp": "EUC-JP (Japanese)",
    "euc_jis_2004": "EUC-JP (Japanese)",
    "euc_kr": "EUC-KR (Korean)",
    "cp949": "EUC-KR (Korean)",
    "utf_16": "UTF-16",
    "cp1252": "Windows-1252 (Western European)",
    "utf_16_le": "UTF-16",
    "utf_16_be": "UTF-16",
}


def read_table(source, file_name: str | None = None) -> pd.DataFrame:
    """A CSV or Excel file (path or bytes) as a frame of strings ('' for empty cells).

    Nothing is loaded silently wrong: the raw header and every row's width are checked before
    any mapping (pandas would shift a file with a wider row into the wrong columns and rename a
    repeated header to `name.1`), the text encoding is detected (UTF-8, else the most plausible
    of GB18030 as Excel in China saves CSV, Shift-JIS, Big5, EUC-KR and Windows-1252, with
    charset-normalizer as the last resort; refused when two readings are equally plausible), control and bidirectional-override characters are removed, and a file
    with more than MAX_COLUMNS columns is refused from its first line. What was repaired is
    listed in `frame.attrs["notes"]` (the page shows it, the import result carries it).
    Excel files are read with python-calamine (first sheet).
    """
    name = (file_name or str(source)).lower()
    data = (
        source
        if isinstance(source, (bytes, bytearray))
        else Path(source).read_bytes()
        if not hasattr(source, "read")
        else source.read()
    )
    data = bytes(data)
    if name.endswith(EXCEL_SUFFIXES):
        header, frame, notes = _read_excel(data)
        controls = True
    elif name.endswith((".csv", ".txt", ".tsv")) or not name:
        header, frame, notes, controls = _read_csv(data, "\t" if name.endswith(".tsv") else ",")
    else:
        raise ImportProblem("Upload a .csv or .xlsx file.")
    frame, notes = _clean_frame(header, frame, notes, controls)
    frame.attrs["notes"] = notes
    return frame


def _check_width(width: int) -> None:
    if width > MAX_COLUMNS:
        raise ImportProblem(
            f"The file has {width:,} columns; at most {MAX_COLUMNS:,} are read. "
            "Export only the customer columns (one row per record, one column per field)."
        )


def _header_names(cells: list) -> list[str]:
    """Header cells as names: trimmed, control characters removed, repeats refused. An empty
    header is named 'column N' (dropped later if its column is empty too)."""
    names = [normalize.strip_controls(str(c if c is not None else "")).strip() for c in cells]
    names = [n or f"column {i + 1}" for i, n in enumerate(names)]
    seen: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        seen.setdefault(n, []).append(i + 1)
    repeated = {n: cols for n, cols in seen.items() if len(cols) > 1}
    if repeated:
        parts = [f"'{n}' (columns {', '.join(map(str, cols))})" for n, cols in repeated.items()]
        raise ImportProblem(
            "The header names a column more than once: "
            + "; ".join(parts)
            + ". Give every column its own name and export again; nothing was imported."
        )
    return names


def _strip_bom(data: bytes) -> tuple[bytes, str | None]:
    """UTF-8 without its byte-order mark; UTF-16 (with one) converted to UTF-8."""
    import codecs

    if data.startswith(codecs.BOM_UTF8):
        return data[3:], None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16").encode("utf-8"), "utf_16"
    return data, None


def _transcode(data: bytes) -> tuple[bytes, str]:
    """A file that is not UTF-8, converted to UTF-8 from its detected encoding."""
    encoding = _detect_encoding(data)
    try:
        return data.decode(encoding).encode("utf-8"), encoding
    except UnicodeDecodeError:
        raise ImportProblem(
            f"The file is not valid {_ENCODING_NAMES.get(encoding, encoding)} text "
            "throughout: save it as CSV UTF-8 and import again."
        ) from None


def _without_cut_character(body: bytes) -> tuple[bytes, bool]:
    """UTF-8 text whose last character was cut in half (a truncated file) loses those 1-3
    bytes instead of sending the whole file to the encoding guesser (which read such a
    Chinese file as a Windows code page)."""
    window = body[-(1 << 16) :]
    skip = 0
    while skip < min(3, len(window)) and window[skip] & 0xC0 == 0x80:
        skip += 1  # start the window at a character boundary
    window = window[skip:]
    try:
        window.decode("utf-8")
        return body, False
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data" or exc.start < len(window) - 3:
            return body, False  # not UTF-8 (or broken elsewhere): the encoding guesser decides
        return body[: len(body) - (len(window) - exc.start)], True


def _is_utf8(head: bytes, whole: bool) -> bool:
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return not whole and exc.start >= len(head) - 3  # only a character cut at the end


def _common_gb(ch: str) -> bool:
    b = ch.encode("gb18030")  # GB2312: the 6,763 common simplified characters and symbols
    return len(b) == 2 and 0xA1 <= b[1] <= 0xFE and (0xB0 <= b[0] <= 0xF7 or 0xA1 <= b[0] <= 0xA9)


def _common_big5(ch: str) -> bool:
    b = ch.encode("big5")  # Big5's 5,401 frequently used characters and its symbols
    return len(b) == 2 and 0xA1 <= b[0] <= 0xC6


def _common_sjis(ch: str) -> bool:
    b = ch.encode("cp932")  # kana, symbols and JIS level-1 kanji (not half-width kana)
    return len(b) == 2 and (0x81 <= b[0] <= 0x84 or 0x88 <= b[0] <= 0x9F)


def _common_korean(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


# Codecs tried on a file that is not UTF-8, each with what its text usually holds: a Japanese
# file decoded as GB18030 gives rare characters, a Chinese one decoded as Shift-JIS half-width
# katakana, either one decoded as cp1252 runs of accented capitals.
_CANDIDATES = (
    ("gb18030", _common_gb),
    ("cp932", _common_sjis),
    ("big5", _common_big5),
    ("euc_kr", _common_korean),
    ("cp1252", None),
)


def _plausibility(text: str, common) -> float:
    """Share of the non-ASCII characters that are typical for the encoding's language."""
    hits = total = 0
    for i, ch in enumerate(text):
        if ch < "\x80":
            continue
        total += 1
        if common is None:
            # Western text: an accented letter sits inside a word of ASCII letters.
            prev = text[i - 1] if i else " "
            nxt = text[i + 1] if i + 1 < len(text) else " "
            hits += (ch.isalpha() or ch in "€£°–—‘’“”") and (
                prev.isascii() and prev.isalpha() or nxt.isascii() and nxt.isalpha()
            )
        else:
            try:
                hits += common(ch)
            except UnicodeEncodeError:
                pass
    return hits / total if total else 0.0


def _detect_encoding(data: bytes) -> str:
    """The encoding of a file that is not UTF-8: each candidate codec that reads the start of
    the file without error is scored by how typical its characters are; refused when the two
    best readings give different text and score within 0.1 (a two-character Shift-JIS file also
    reads as Chinese), or none is plausible. Files in no candidate codec go to
    charset-normalizer."""
    first = re.search(rb"[\x80-\xff]", data)
    start = data.rfind(b"\n", 0, first.start()) + 1 if first else 0  # from the line of the first
    sample = data[start : start + 65_536]  # non-ASCII byte
    cut = len(sample)
    scores: list[tuple[float, str, str]] = []
    for encoding, common in _CANDIDATES:
        for end in (cut, cut - 1, cut - 2, cut - 3):  # a character cut at the sample's end
            try:
                text = sample[:end].decode(encoding)
                break
            except UnicodeDecodeError:
                text = None
                if start + end >= len(data):
                    break
        if text is not None:
            scores.append((_plausibility(text, common), encoding, text))
    scores.sort(key=lambda x: -x[0])
    if not scores or scores[0][0] < 0.5:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is None or best.chaos > 0.2:
            raise ImportProblem(
                "The file's text encoding could not be recognised: save it as CSV UTF-8 and import again."
            )
        return "gb18030" if best.encoding in _GB else best.encoding
    best_score, chosen, text = scores[0]
    for score, other, other_text in scores[1:]:
        if best_score - score <= 0.1 and other_text != text:
            raise ImportProblem(
                f"The file's encoding is ambiguous: it reads as {_ENCODING_NAMES.get(chosen, chosen)} "
                f"and as {_ENCODING_NAMES.get(other, other)}, with different characters. Save it as "
                "CSV UTF-8 and import again."
            )
    return chosen


class _NotUtf8(Exception):
    """pyarrow found bytes that are not UTF-8 past the start of the file."""


def _read_csv(data: bytes, sep: str) -> tuple[list[str], pd.DataFrame, list[str], bool]:
    """(header names, the data rows as a frame with positional columns c0, c1 ..., notes,
    whether the text holds control characters)."""
    first = data[: data.find(b"\n") if b"\n" in data else len(data)]
    _check_width(first.count(sep.encode()) + 1)  # before decoding or parsing anything
    body, encoding = _strip_bom(data)
    notes: list[str] = []
    body, cut = _without_cut_character(body)
    if cut:
        notes.append(i18n.Note("stewards.imp.note.cut_character"))
    if not _is_utf8(body[: 1 << 20], len(body) <= 1 << 20):
        body, encoding = _transcode(body)
    try:
        header, frame = _parse_csv(body, sep, notes)
    except _NotUtf8:  # e.g. ASCII headers over GBK names
        body, encoding = _transcode(body)
        notes = notes[:1] if cut else []
        header, frame = _parse_csv(body, sep, notes)
    if encoding:
        notes.insert(0, i18n.Note("stewards.imp.note.encoding", encoding=_ENCODING_NAMES.get(encoding, encoding)))
    return header, frame, notes, _has_controls(body)


def _parse_csv(body: bytes, sep: str, notes: list[str]) -> tuple[list[str], pd.DataFrame]:
    import csv

    import pyarrow.csv as pacsv

    head_text = body[: 1 << 20].decode("utf-8", errors="replace")
    try:
        header_cells = next(csv.reader(io.StringIO(head_text), delimiter=sep))
    except StopIteration:
        raise ImportProblem("The file is empty.") from None
    _check_width(len(header_cells))
    header = _header_names(header_cells)
    positions = [f"c{i}" for i in range(len(header))]
    read = pacsv.ReadOptions(column_names=positions, skip_rows=1)
    convert = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in positions}, strings_can_be_null=False, quoted_strings_can_be_null=False
    )
    for multiline in (False, True):  # quoted line breaks (addresses) need the slower mode
        try:
            table = pacsv.read_csv(
                io.BytesIO(body),
                read_options=read,
                convert_options=convert,
                parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=multiline),
            )
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "UTF-8" in str(exc):
                raise _NotUtf8() from exc
            continue
        return header, table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    # Rows of another width (or quoting pyarrow rejects): read row by row, say what was wrong.
    return header, _read_ragged(body.decode("utf-8"), sep, len(header), notes)


def _read_ragged(text: str, sep: str, width: int, notes: list[str]) -> pd.DataFrame:
    """Rows whose cell count differs from the header's. A row with *more* non-empty cells than
    the header is refused (its values would land in the wrong columns); extra empty cells at a
    row's end are dropped and missing cells at its end read as empty, each with a note."""
    import csv

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    next(reader, None)
    rows, wide, trimmed, padded = [], [], 0, 0
    for row in reader:
        if not row:
            continue
        if len(row) > width:
            if any(c.strip() for c in row[width:]):
                wide.append((reader.line_num, len(row)))
                continue
            row, trimmed = row[:width], trimmed + 1
        elif len(row) < width:
            row, padded = row + [""] * (width - len(row)), padded + 1
        rows.append(row)
    if wide:
        where = ", ".join(f"line {n} has {w}" for n, w in wide[:MAX_LISTED])
        more = f" (and {len(wide) - MAX_LISTED:,} more lines)" if len(wide) > MAX_LISTED else ""
        raise ImportProblem(
            f"{len(wide):,} rows have more cells than the header's {width}: {where}{more}. A value "
            "holds the separator without quotes, or a column has no header; read as it is, every "
            "value after it would land in the wrong column. Fix the export; nothing was imported."
        )
    if trimmed:
        notes.append(i18n.Note("stewards.imp.note.trimmed", n=f"{trimmed:,}", width=width))
    if padded:
        notes.append(i18n.Note("stewards.imp.note.padded", n=f"{padded:,}", width=width))
    columns = list(zip(*rows)) if rows else [()] * width
    return pd.DataFrame(
        {f"c{i}": pd.array(list(col), dtype=pd.StringDtype("pyarrow")) for i, col in enumerate(columns)}
    )


def _excel_text(value) -> str:
    """A calamine cell as the text a person sees: 13812345670, 1299.5, 1990-01-02."""
    from datetime import date, time as dtime

    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == dtime() else value.isoformat(sep=" ")
    if isinstance(value, (date, dtime)):
        return value.isoformat()
    return str(value)


def _read_excel(data: bytes) -> tuple[list[str], pd.DataFrame, list[str]]:
    """The first sheet, read with python-calamine (header = first non-empty row)."""
    from python_calamine import CalamineWorkbook

    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
    except Exception as exc:  # noqa: BLE001 - calamine's errors name the format problem
        raise ImportProblem(f"The file could not be read as a spreadsheet: {exc}") from exc
    _check_width(sheet.width)
    rows = sheet.to_python()
    if not rows:
        raise ImportProblem("The first sheet is empty.")
    header = _header_names([_excel_text(c) for c in rows[0]])
    columns = list(zip(*rows[1:])) if len(rows) > 1 else [()] * len(header)
    frame = pd.DataFrame(
        {
            f"c{i}": pd.array([_excel_text(v) for v in col], dtype=pd.StringDtype("pyarrow"))
            for i, col in enumerate(columns)
        }
    )
    return header, frame, []


_NOT_C0 = bytes(b for b in range(256) if not (b < 0x20 or b == 0x7F))
# The multi-byte characters of normalize.CONTROL_CHARS in UTF-8, each searched on its own:
# a regex with a literal first byte scans fast; one alternation of them all took seconds.
_CONTROL_SEQUENCES = tuple(
    re.compile(p)
    for p in (
        rb"\xc2[\x80-\x9f]",
        rb"\xd8\x9c",
        rb"\xe2\x80[\x8b\x8e\x8f\xaa-\xae]",
        rb"\xe2\x81[\xa6-\xa9]",
        rb"\xef\xbb\xbf",
    )
)


def _has_controls(body: bytes) -> bool:
    """Whether UTF-8 text holds a character of normalize.CONTROL_CHARS (a quick test over
    the whole file before any per-cell work; tabs and line breaks do not count)."""
    if body.translate(None, _NOT_C0).strip(b"\t\r\n"):
        return True
    return any(p.search(body) for p in _CONTROL_SEQUENCES)


def _clean_frame(
    header: list[str], frame: pd.DataFrame, notes: list[str], controls: bool = True
) -> tuple[pd.DataFrame, list[str]]:
    """Name the columns, drop header-less empty columns, remove control characters (NUL, U+202E
    ...) from every cell and say how many cells had them."""
    import pyarrow.compute as pc

    keep, names = [], []
    for i, n in enumerate(header):
        col = frame[f"c{i}"]
        if n == f"column {i + 1}" and not (col.str.strip() != "").any():
            continue  # Excel's trailing separators: no header, no data
        keep.append(f"c{i}")
        names.append(n)
    frame = frame[keep] if len(keep) < len(header) else frame
    frame.columns = names
    unnamed = [n for n in names if re.fullmatch(r"column \d+", n)]
    if unnamed:
        notes.append(i18n.Note("stewards.imp.note.unnamed", columns=", ".join(unnamed)))
    frame = _without_text_markers(frame, names, notes)
    touched, cells = [], 0
    if not controls:
        return frame.reset_index(drop=True).astype(pd.StringDtype("pyarrow")), notes
    for n in names:
        arr = pa.array(frame[n].array)
        found = pc.match_substring_regex(arr, normalize.CONTROL_CHARS)
        hits = pc.sum(found).as_py() or 0
        if hits:
            frame[n] = pd.Series(
                pd.arrays.ArrowStringArray(
                    pa.chunked_array([pc.replace_substring_regex(arr, normalize.CONTROL_CHARS, "")])
                ),
                index=frame.index,
            )
            touched.append(n)
            cells += hits
    if cells:
        notes.append(i18n.Note("stewards.imp.note.controls", n=f"{cells:,}", columns=", ".join(touched)))
    return frame.reset_index(drop=True).astype(pd.StringDtype("pyarrow")), notes


# A number written '7104356401234 or '+16135550135: Excel's mark for "keep this as text",
# which exports (Shopify's, for one) put before IDs and phones so a spreadsheet keeps them whole.
_TEXT_MARKER = r"^'([+0-9][0-9+\-\s().]*)$"


def _without_text_markers(frame: pd.DataFrame, names: list[str], notes: list[str]) -> pd.DataFrame:
    """Numbers behind a leading apostrophe lose it (the key '123 is the key 123 in the orders
    file that refers to it); other text starting with one ('t Hooft) keeps it."""
    import pyarrow.compute as pc

    touched, cells = [], 0
    for n in names:
        arr = pa.array(frame[n].array)
        if not (pc.sum(pc.starts_with(arr, "'")).as_py() or 0):
            continue
        hits = pc.sum(pc.match_substring_regex(arr, _TEXT_MARKER)).as_py() or 0
        if hits:
            stripped = pc.replace_substring_regex(arr, _TEXT_MARKER, r"\1")
            frame[n] = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([stripped])), index=frame.index)
            touched.append(n)
            cells += hits
    if cells:
        notes.append(i18n.Note("stewards.imp.note.text_marker", n=f"{cells:,}", columns=", ".join(touched)))
    return frame


# ---------------------------------------------------------------- mapping


def _key(header: str) -> str:
    return re.sub(r"[\s_\-.:：()（）]+", "", str(header).lower())


# Words before a field's name in exports' headers that do not change the field: "Default Address
# Address1" (Shopify), "Billing Address City", "Contact Email", "收货人手机", "默认地址".
_QUALIFIERS = tuple(
    _key(q)
    for q in (
        "default",
        "primary",
        "main",
        "billing",
        "shipping",
        "mailing",
        "postal",
        "home",
        "bill to",
        "ship to",
        "contact",
        "customer",
        "address",
        "默认",
        "收货人",
        "收件人",
        "收货",
        "客户",
    )
)


def _unqualified(key: str, lookup: dict) -> str:
    """`key` without leading qualifier words, stopping at the first form that names a field."""
    while key not in lookup:
        qualifier = next((q for q in _QUALIFIERS if key.startswith(q) and len(key) > len(q)), None)
        if qualifier is None:
            return key
        key = key[len(qualifier) :]
    return key


def suggest_mapping(kind: str, columns) -> dict[str, list[str]]:
    """Target field -> source columns, from header names (exact synonyms first, then synonyms
    behind a qualifier such as "Default Address", then close spellings). Several address-like
    columns all feed `address`, in file order; for any other field the column whose name comes
    first in the field's synonyms wins (an orders file's "Customer ID" before its "Email")."""
    fields = FIELDS[kind]
    lookup, rank = {}, {}
    for target, names in fields.items():
        for i, n in enumerate(names):
            if _key(n) not in lookup:
                lookup[_key(n)], rank[_key(n)] = target, i
    mapping: dict[str, list[str]] = {}
    used: set[str] = set()
    exact = sorted((c for c in columns if _key(c) in lookup), key=lambda c: rank[_key(c)])
    for col in exact:
        target = lookup[_key(col)]
        if target in mapping and target != "address":
            continue
        mapping.setdefault(target, []).append(col)
        used.add(col)
    if len(mapping.get("address", [])) > 1:
        mapping["address"].sort(key=list(columns).index)
    for col in columns:  # "Default Address City", "Billing Zip", "收货人手机": the qualifier dropped
        target = None if col in used else lookup.get(_unqualified(_key(col), lookup))
        if target is None or (target in mapping and target != "address"):
            continue
        mapping.setdefault(target, []).append(col)
        used.add(col)
    if len(mapping.get("address", [])) > 1 and any(normalize.has_cjk(c) for c in mapping["address"]):
        # Chinese order: street first, then the number (科技园路 + 1号 -> 科技园路1号); Latin
        # addresses keep the file's order (8 + Stanley Street -> 8 Stanley Street).
        numbers = {_key(n) for n in ("street_no", "street_number", "house_number", "门牌号", "门牌", "no")}
        mapping["address"].sort(key=lambda c: _key(c) in numbers)
    candidates = list(lookup)
    for col in columns:
        if col in used:
            continue
        close = difflib.get_close_matches(_key(col), candidates, n=1, cutoff=0.85)
        if close and lookup[close[0]] not in mapping:
            mapping[lookup[close[0]]] = [col]
            used.add(col)
    return mapping


def normalise_mapping(kind: str, mapping: dict, columns) -> dict[str, list[str]]:
    """Check a mapping (from the page, a saved mapping or a JSON file) against the file."""
    if kind not in FIELDS:
        raise ImportProblem(f"Unknown kind {kind!r}: use one of {', '.join(KINDS)}.")
    fields = mapping.get("fields", mapping) if isinstance(mapping, dict) else {}
    clean: dict[str, list[str]] = {}
    missing = []
    for target, cols in fields.items():
        if target not in FIELDS[kind]:
            raise ImportProblem(f"{target!r} is not a {kind} field.")
        cols = [cols] if isinstance(cols, str) else list(cols or [])
        for c in cols:
            if c not in columns:
                missing.append(c)
        if cols:
            clean[target] = cols
    if missing:
        raise ImportProblem("The mapping names columns that are not in the file: " + ", ".join(missing))
    return clean


def load_mapping(path: str | Path) -> dict:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ImportProblem("A mapping file holds a JSON object {field: [columns]}.")
    return data


def mapping_json(kind: str, mapping: dict[str, list[str]]) -> str:
    """What the page offers for download and the CLI reads with --mapping."""
    return json.dumps({"kind": kind, "fields": mapping}, ensure_ascii=False, indent=2)


@warehouse.retrying
def save_mapping(user: auth.User, name: str, kind: str, mapping: dict[str, list[str]]) -> None:
    auth.require(user, "import_data")
    name = normalize.text(name)
    if not name:
        raise ImportProblem("Give the mapping a name.")
    with warehouse.transaction() as tx:
        tx.run("stw_mapping_save", name=name, kind=kind, mapping=mapping_json(kind, mapping), saved_by=user.username)
        audit.record(tx, user, "import.mapping_save", "import_mapping", name, after=mapping)


def saved_mappings(kind: str) -> dict[str, dict]:
    frame = warehouse.read("stw_mappings", kind=kind)
    return {r["name"]: json.loads(r["mapping"]) for r in frame.to_dict("records")}


def _join_pieces(pieces: list[str]) -> str:
    out = ""
    for p in pieces:
        if not p:
            continue
        if out and not (normalize.has_cjk(out[-1]) or normalize.has_cjk(p[0])):
            out += " "
        out += p
    return out


def apply_mapping(frame: pd.DataFrame, mapping: dict[str, list[str]]) -> pd.DataFrame:
    """A frame with one column per mapped target field (several sources joined in order)."""
    out = pd.DataFrame(index=frame.index)
    for target, cols in mapping.items():
        if len(cols) == 1:
            out[target] = frame[cols[0]]
        else:
            parts = frame[cols].astype("string").fillna("").apply(lambda s: s.str.strip())
            out[target] = pd.Series(
                [_join_pieces(list(r)) for r in parts.itertuples(index=False)], index=frame.index, dtype="string"
            )
    return out


# ---------------------------------------------------------------- prepare (no writes)


@dataclass
class Plan:
    kind: str
    source: str
    file_name: str | None
    file_sha256: str | None
    mapping: dict[str, list[str]]
    mapped: pd.DataFrame  # target fields as raw strings
    checked: validation.Checked
    customer_source: str
    seconds: float = 0.0
    rules: "entry_rules.Rules | None" = None  # the entry rules in force for this import
    country: str = "CN"  # default country of rows without one
    notes: list[str] = field(default_factory=list)  # what reading the file repaired
    consents: pd.DataFrame | None = None  # customers: row -> granted/withdrawn per channel
    create_customers: bool = False  # orders/events: create the customers the file names, unknown so far

    @property
    def rows(self) -> int:
        return len(self.mapped)

    def lines(self, rows) -> list[int]:
        """The file's line numbers (the header is line 1) of rows of `mapped`: an order folded
        from its lines (order_lines) is on its first line's."""
        first = self.mapped.attrs.get("first_rows")
        return [int(first[r] if first is not None else r) + 2 for r in rows]

    @property
    def quarantine_count(self) -> int:
        return int(self.checked.quarantined.sum())

    @property
    def flagged_count(self) -> int:
        return int((self.checked.flagged & ~self.checked.quarantined).sum())

    def rejects(self, limit: int = 200) -> pd.DataFrame:
        """Rows that will go to the quarantine, with their reasons, for the preview."""
        f = self.checked.failures
        rows = f[f["row"].isin(self.checked.quarantined[self.checked.quarantined].index)]
        return _explain(rows, self, limit)

    def flagged(self, limit: int = 200) -> pd.DataFrame:
        """Rows that will load with an emptied field, and why."""
        f = self.checked.failures
        keep = self.checked.flagged & ~self.checked.quarantined
        rows = f[f["row"].isin(keep[keep].index) & ~f["required"]]
        return _explain(rows, self, limit)


def _explain(failures: pd.DataFrame, plan: "Plan", limit: int) -> pd.DataFrame:
    if failures.empty:
        return pd.DataFrame(columns=["row", "source_record_id", "field", "value", "reason"])
    failures = failures.sort_values(["row"]).head(limit)
    mapped = plan.mapped
    srid = mapped["source_record_id"] if "source_record_id" in mapped else pd.Series("", index=mapped.index)
    return pd.DataFrame(
        {
            "row": plan.lines(failures["row"].tolist()),  # the file's line, after the header line
            "source_record_id": srid.reindex(failures["row"]).to_numpy(),
            "field": [validation.field_label(f) for f in failures["field"]],
            # ID numbers are shown masked even here (nobody but an audited reveal sees one).
            "value": [
                privacy.mask_id_text(r) if f == "id_number" and isinstance(r, str) else r
                for f, r in zip(
                    failures["field"], failures["raw"].astype("object").where(failures["raw"].notna(), "").tolist()
                )
            ],
            "reason": [validation.message(f, c) for f, c in zip(failures["field"], failures["code"])],
        }
    )


def prepare(
    kind: str,
    frame: pd.DataFrame,
    mapping: dict | None,
    source: str,
    *,
    file_name: str | None = None,
    file_bytes: bytes | None = None,
    customer_source: str | None = None,
    country: str | None = None,
    progress: Callable[[float, str], None] | None = None,
    create_customers: bool = False,
) -> Plan:
    """Map, normalise and validate a file's rows: everything the preview shows, nothing written.

    `create_customers` (orders and events): a row whose customer key no customer of the customer
    source has creates that customer at the import, from the key (an email key is also its
    email) and the file's customer name and country columns, checked by the customer source's
    entry rules; without it such rows are quarantined (`customer_key.unknown`).

    The source's entry rules (lib.stewardship.entry_rules) decide which missing fields quarantine a row
    and which only flag it, and its default country; `country` (the CLI's --country, the
    page's choice) overrides that default for rows without a country of their own."""
    started = time.perf_counter()
    source = normalize.text(source) or ""
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,40}", source):
        raise ImportProblem("The source name must be 1-40 letters, digits, '_', '-' or '.'.")
    if kind not in KINDS:
        raise ImportProblem(f"Unknown kind {kind!r}: use one of {', '.join(KINDS)}.")
    mapping = normalise_mapping(
        kind, mapping if mapping is not None else suggest_mapping(kind, frame.columns), frame.columns
    )
    try:
        rules = rules_for(source, kind)
        defaults = (
            {"country": "CN"} if kind in contact_imports.KINDS else entry_rules.defaults_for(source, kind, country)
        )
    except validation.FieldError:
        raise ImportProblem(f"{country!r} is not a country: give an ISO code such as AU, GB, US or CN.") from None
    # Fields the file must have a column for: the kind's keys, and every field the entry rules
    # quarantine rows without (otherwise every row would go to the quarantine).
    mapped_fields = set(mapping)
    if {"family_name", "given_name"} & mapped_fields:
        mapped_fields.add("full_name")
    if {"mobile", "email"} & mapped_fields:
        mapped_fields.add("contact")
    if kind == "orders" and "unit_price" in mapped_fields:
        mapped_fields.add("amount")  # price x quantity per line (order_lines)
    needed = list(REQUIRED_FIELDS[kind]) + [
        f for f, a in rules.required.items() if a == "quarantine" and f not in REQUIRED_FIELDS[kind]
    ]
    missing = [f for f in needed if f not in mapped_fields]
    if missing:
        raise ImportProblem(
            "Map a column to each required field: " + ", ".join(validation.field_label(m) for m in missing)
        )
    _tick(progress, 0.05, "map")
    mapped = apply_mapping(frame.reset_index(drop=True), mapping)
    if create_customers and kind in ("orders", "events"):
        _check_creatable(mapped, normalize.text(customer_source) or source)
    _tick(progress, 0.15, "validate")
    # "now": None keeps a missing registration date unknown (NaT): lib/stewardship/registration.py infers
    # it from the first order or event after the load, instead of today's date (issue #14).
    notes = list(frame.attrs.get("notes", []))
    consents, fields = None, mapped
    if kind == "customers" and set(CONSENT_FIELDS) & set(mapped.columns):
        # checked apart from the profile; kept in `mapped`, so a quarantined row keeps its answer
        consents, consent_notes = _consent_columns(mapped)
        fields, notes = mapped.drop(columns=[c for c in CONSENT_FIELDS if c in mapped.columns]), notes + consent_notes
    disagree = pd.Index([])
    if kind == "orders":
        mapped, line_notes, disagree = order_lines(mapped)
        notes += line_notes
        fields = mapped.drop(columns=[c for c in NEW_CUSTOMER_FIELDS if c in mapped.columns])
    if kind in contact_imports.KINDS:
        checked = contact_imports.check(kind, fields, source=source)
    else:
        checked = validation.check_frame(
            kind, fields, today=settings.as_of(), defaults={"channel": source.lower(), **defaults, "now": None}
        )
    if len(disagree):
        checked = _refused(checked, disagree, "source_record_id", "order.lines_disagree", mapped)
    _tick(progress, 0.45, "validated")
    sha = hashlib.sha256(file_bytes).hexdigest() if file_bytes is not None else None
    return Plan(
        kind,
        source,
        file_name,
        sha,
        mapping,
        mapped,
        checked,
        normalize.text(customer_source) or source,
        time.perf_counter() - started,
        rules=rules,
        country=defaults["country"],
        notes=notes,
        consents=consents,
        create_customers=create_customers and kind in ("orders", "events"),
    )


def _refused(checked: validation.Checked, rows: pd.Index, field: str, code: str, raw: pd.DataFrame):
    """`checked` with `rows` also quarantined for `code` (a problem seen across rows)."""
    extra = pd.DataFrame(
        {"row": rows, "field": field, "code": code, "raw": raw.loc[rows, field].astype("object"), "required": True}
    )
    failures = pd.concat([checked.failures, extra], ignore_index=True)
    quarantined = checked.quarantined | checked.quarantined.index.isin(rows)
    return validation.Checked(checked.clean, failures, quarantined, checked.flagged & ~quarantined, checked.raw_values)


# Fields of an order that its lines must agree on (blank on all but the first line is fine).
_ORDER_FIELDS = ("customer_key", "order_time", "amount", "refund_amount")


def _number(values: pd.Series) -> pd.Series:
    """Amounts and quantities as written in exports ("¥1,299.00", "12") as floats, NaN if not
    (in Arrow: a million lines take a fraction of a second)."""
    import pyarrow.compute as pc

    text = pc.replace_substring_regex(_text_column(values), r"[¥￥$€£,\s元]", "")
    valid = pc.match_substring_regex(text, r"^[+-]?(\d+\.?\d*|\.\d+)$")
    numbers = pc.cast(pc.if_else(valid, text, pa.scalar(None, pa.string())), pa.float64())
    return pd.Series(numbers.to_numpy(zero_copy_only=False), index=values.index, dtype="float64")


def order_lines(mapped: pd.DataFrame) -> tuple[pd.DataFrame, list[str], pd.Index]:
    """Orders exported one row per line item (Shopify, Online Retail, most shop systems), as one
    row per order, and each line's amount from its price when the file gives no amount.

    Rows with the same order id are one order when they agree on its customer, time, total and
    refund (a value on the first line only, blank on the others, agrees): quantities add up and,
    without an amount column, price x quantity adds up to the amount; the other fields come from
    the first line that has them (a category: the first line's). The order takes its first
    line's place and line number (`attrs["first_rows"]`). The rows of an order that disagree
    stay apart; their row numbers are returned, and every one of them goes to the quarantine (no
    part of such an order loads). A price that is not a number is passed on as the amount, to
    be refused as such."""
    notes: list[str] = []
    priced = "unit_price" in mapped.columns and "amount" not in mapped.columns
    lines = mapped.copy()
    counted = "item_count" in lines.columns
    quantity = _number(lines["item_count"]).fillna(1) if counted else pd.Series(1.0, index=lines.index)
    if priced:
        price = _number(lines["unit_price"])
        amount = (price * quantity).round(2)
        lines["amount"] = amount.map("{:.2f}".format).where(price.notna(), lines["unit_price"]).astype("string")
    lines = lines.drop(columns=["unit_price"], errors="ignore")
    if "source_record_id" not in lines.columns:
        return lines, notes, pd.Index([])
    key = normalize.text_series(lines["source_record_id"])
    repeated = key.notna() & key.duplicated(keep=False)
    if not repeated.any():
        return lines, notes, pd.Index([])
    work = lines[repeated].apply(normalize.text_series)
    groups = work.groupby(key[repeated], sort=False)
    agree = pd.Series(True, index=groups.size().index)
    for f in (f for f in _ORDER_FIELDS if f in work.columns and not (priced and f == "amount")):
        agree &= groups[f].nunique(dropna=True) <= 1
    if priced:  # every line's amount a number, or the order is left as lines
        line_amounts = amount[repeated]
        agree &= line_amounts.notna().groupby(key[repeated], sort=False).all()
    folded = groups.first()[agree]
    if priced:
        folded["amount"] = line_amounts.groupby(key[repeated], sort=False).sum()[agree].map("{:.2f}".format)
    if counted:
        counts = quantity[repeated].groupby(key[repeated], sort=False).sum()[agree]
        folded["item_count"] = counts.map(lambda n: f"{n:g}")
    first_rows = pd.Series(work.index, index=work.index).groupby(key[repeated], sort=False).first()[agree]
    folded.index = first_rows.to_numpy()
    folded_keys = set(agree.index[agree])
    folded_lines = repeated & key.isin(folded_keys)
    out = pd.concat([lines[~folded_lines], folded.astype("string")[list(lines.columns)]]).sort_index()
    if folded_keys:
        note = i18n.plural_key("stewards.imp.note.order_lines" + (".priced" if priced else ""), len(folded_keys))
        notes.append(i18n.Note(note, n=f"{int(folded_lines.sum()):,}", orders=f"{len(folded_keys):,}"))
    disagree = out.index.isin(lines.index[repeated & key.isin(set(agree.index[~agree]))])
    file_rows = out.index.to_numpy()
    out = out.reset_index(drop=True)  # rows are counted from 0, as every check expects
    out.attrs["first_rows"] = file_rows  # ... and keep their file lines (Plan.lines)
    disagree = out.index[disagree]
    if len(disagree):
        notes.append(i18n.Note("stewards.imp.note.lines_disagree", n=f"{int((~agree).sum()):,}"))
    return out, notes, disagree


def _consent_columns(mapped: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The consent columns read as granted/withdrawn per channel (empty: nothing said), and a
    note per column with values that are neither yes nor no."""
    out, notes = pd.DataFrame(index=mapped.index), []
    for f, channel in CONSENT_FIELDS.items():
        if f not in mapped.columns:
            continue
        status, bad = contact_imports.status_words(mapped[f], f)
        out[channel] = status.astype("string")
        unclear = bad.notna()
        if unclear.any():
            lines = ", ".join(str(int(r) + 2) for r in mapped.index[unclear][:MAX_LISTED])
            notes.append(
                i18n.Note(
                    "stewards.imp.note.consent_unclear",
                    field=i18n.Note(f"stewards.field.{f}"),
                    n=f"{int(unclear.sum()):,}",
                    lines=lines + (" …" if unclear.sum() > MAX_LISTED else ""),
                )
            )
    return out, notes


def _tick(progress, fraction: float, stage: str) -> None:
    if progress is not None:
        progress(min(max(fraction, 0.0), 1.0), stage)


# ---------------------------------------------------------------- write (one transaction)


@dataclass
class ImportResult:
    import_id: int
    kind: str
    source: str
    rows_total: int
    rows_loaded: int
    rows_unchanged: int
    rows_quarantined: int
    rows_flagged: int
    seconds: float
    new_customer_ids: list[int] = field(default_factory=list)
    duplicate_candidates: int = 0
    notes: list[str] = field(default_factory=list)
    consents_recorded: int = 0  # customers: consent changes from the file's consent columns
    customers_created: int = 0  # orders/events with create_customers: customers created

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "new_customer_ids"}


@auth.pii_writer("import_data")
def run_import(
    user: auth.User, plan: Plan, *, progress: Callable[[float, str], None] | None = None, match_duplicates: bool = True
) -> ImportResult:
    """Write a prepared import in ONE transaction, then refresh aggregates and match the new
    customers against existing ones (both after the commit: the import stands on its own)."""
    auth.require(user, "import_data")
    started = time.perf_counter()
    try:
        result = _write(user, plan, progress)
    finally:
        parallel.shutdown()  # worker processes of a large import (if any) are not kept idle
    result.seconds = time.perf_counter() - started + plan.seconds
    result.notes[:0] = plan.notes  # what reading and mapping did, then what the write did
    _tick(progress, 0.9, "after")
    if result.rows_loaded:
        _after_import(result, match_duplicates)
    _tick(progress, 1.0, "done")
    return result


@auth.pii_writer("import_data")
def import_file(
    user: auth.User,
    kind: str,
    path,
    source: str,
    mapping: dict | None = None,
    *,
    customer_source: str | None = None,
    progress=None,
    country: str | None = None,
    match_duplicates: bool = True,
    create_customers: bool = False,
) -> ImportResult:
    """Read, prepare and import a file in one call (the CLI's path)."""
    auth.require(user, "import_data")
    data = Path(path).read_bytes()
    frame = read_table(data, Path(path).name)
    plan = prepare(
        kind,
        frame,
        mapping,
        source,
        file_name=Path(path).name,
        file_bytes=data,
        customer_source=customer_source,
        country=country,
        progress=progress,
        create_customers=create_customers,
    )
    return run_import(user, plan, progress=progress, match_duplicates=match_duplicates)


@warehouse.retrying
def _write(user: auth.User, plan: Plan, progress) -> ImportResult:
    checked, kind = plan.checked, plan.kind
    with warehouse.transaction() as tx:
        import_id = tx.scalar(
            "stw_import_start",
            kind=kind,
            source=plan.source,
            file_name=plan.file_name,
            file_sha256=plan.file_sha256,
            username=user.username,
            rows_total=plan.rows,
        )
        _tick(progress, 0.5, "write")
        ok = ~checked.quarantined
        quarantine_extra: dict[int, list[dict]] = {}
        consents, notes = 0, []
        if kind == "customers":
            loaded, unchanged, new_ids = _write_customers(tx, plan, ok, import_id)
            consents = _write_file_consents(tx, user, plan, ok, import_id)
        elif kind in contact_imports.KINDS:
            new_ids = []
            loaded, unchanged, quarantine_extra = _write_contacts(tx, user, plan, ok, import_id)
        else:
            loaded, unchanged, new_ids, quarantine_extra = _write_facts(tx, plan, ok, import_id, user.username, notes)
        _tick(progress, 0.75, "quarantine")
        quarantined = _write_quarantine(tx, plan, import_id, quarantine_extra)
        flagged = int((checked.flagged & ok).sum()) if kind == "customers" else 0
        counts = dict(
            rows_loaded=loaded,
            rows_unchanged=unchanged,
            rows_quarantined=quarantined,
            rows_flagged=flagged if loaded else 0,
        )
        registration.infer(tx, user)  # unknown registration dates from first activity
        tx.run("stw_import_finish", import_id=import_id, **counts)
        detail = {"kind": kind, "source": plan.source, "file": plan.file_name, "rows_total": plan.rows, **counts}
        if consents:
            detail["consents_recorded"] = consents
        created = len(new_ids) if kind in ("orders", "events") else 0
        if created:
            detail["customers_created"] = created
        audit.record(tx, user, "import.run", "import", import_id, detail=detail)
    return ImportResult(
        import_id,
        kind,
        plan.source,
        plan.rows,
        loaded,
        unchanged,
        quarantined,
        counts["rows_flagged"],
        0.0,
        new_ids,
        notes=notes,
        consents_recorded=consents,
        customers_created=created,
    )


def _write_file_consents(tx: warehouse.Tx, user: auth.User, plan: Plan, ok: pd.Series, import_id: int) -> int:
    """Consent changes from a customer file's yes/no columns, for its loaded and already known
    rows alike: recorded at the import's time, from `import <source>`, only where they change the
    consent in force (a grant is never recorded for an erased customer)."""
    if plan.consents is None:
        return 0
    said = plan.consents[ok].reset_index(names="row_no").melt("row_no", var_name="channel", value_name="status")
    said = said[said["status"].notna()]
    if said.empty:
        return 0
    keys = plan.checked.clean["source_record_id"]
    said["customer_key"] = keys.reindex(said["row_no"]).astype("string").to_numpy()
    tx.register("stw_rows", said.astype({"row_no": "int64", "channel": "string", "status": "string"}))
    try:
        changes = tx.df("stw_file_consent_changes", source=plan.source)
    finally:
        tx.unregister("stw_rows")
    if changes.empty:
        return 0
    changes = changes.assign(
        recorded_at=datetime.now(), consent_source=f"import {plan.source}", evidence=f"import {import_id}"
    )
    tx.register("stw_rows", changes)
    try:
        tx.run("cns_insert_rows", username=user.username)
    finally:
        tx.unregister("stw_rows")
    return len(changes)


def _existing_keys(tx: warehouse.Tx, query: str, keys: pd.Series, **params) -> set[str]:
    tx.register("stw_keys", pa.table({"k": _text_column(keys)}))
    try:
        return set(tx.scalar(query, **params) or ())
    finally:
        tx.unregister("stw_keys")


def _text_column(values: pd.Series) -> pa.ChunkedArray | pa.Array:
    """A column as Arrow strings (null for NA) without one Python object per row."""
    return pa.array(values.astype("string"), type=pa.string(), from_pandas=True)


def _arrow_rows(frame: pd.DataFrame) -> dict[str, pa.Array]:
    """The clean customer columns as Arrow arrays, for DuckDB to read without converting
    Python objects: text stays Arrow text, birth dates become DATE, timestamps TIMESTAMP."""
    columns = {}
    for col in frame.columns:
        values = frame[col]
        if col == "birth_date":
            columns[col] = pa.array(values.astype("datetime64[us]"), from_pandas=True).cast(pa.date32())
        elif pd.api.types.is_datetime64_any_dtype(values.dtype):
            columns[col] = pa.array(values, from_pandas=True)
        else:
            columns[col] = _text_column(values)
    return columns


def _write_customers(tx: warehouse.Tx, plan: Plan, ok: pd.Series, import_id: int):
    clean = plan.checked.clean
    rows = clean[ok]
    existing = _existing_keys(tx, "stw_existing_customer_keys", rows["source_record_id"], source=plan.source)
    new = rows[~rows["source_record_id"].isin(existing)] if existing else rows
    unchanged = len(rows) - len(new)
    if new.empty:
        return 0, unchanged, []
    ids = new["id_number"].astype("object").where(new["id_number"].notna(), None).tolist()
    # An ID number that failed a check is kept (flagged) like a valid one: encrypted, hashed for
    # matching, last four for display; never in raw_values or the flag's detail in clear.
    rejected = _rejected_ids(plan, new.index)
    if rejected:
        ids = [v if v else rejected.get(r) for r, v in zip(new.index.tolist(), ids)]
    # Fernet and HMAC run in Python once per value: on a large import they run in worker
    # processes (lib.core.parallel) while this process puts the other columns together.
    tokens, hashes = privacy.encrypt_many_job(ids), privacy.id_hash_many_job(ids)
    columns = _arrow_rows(new.drop(columns=["id_number"]))
    columns["id_number_last4"] = pa.array([v[-4:] if v else None for v in ids], type=pa.string())
    raw = plan.checked.raw_values.reindex(new.index)
    raw = [_masked_raw_id(v) for v in raw.astype("object").where(raw.notna(), None).tolist()]
    columns["raw_values"] = pa.array(raw, type=pa.string())
    columns["row_no"] = pa.array(new.index.to_numpy(dtype="int64"))
    # Rows keep file order among their ids.
    new_ids = sorted(tx.scalar("stw_reserve_customer_ids", n=len(new)))
    columns["customer_id"] = pa.array(new_ids, type=pa.int64())
    columns["id_number_enc"] = pa.array(tokens.result(), type=pa.string())
    columns["id_number_hash"] = pa.array(hashes.result(), type=pa.string())
    tx.register("stw_rows", pa.table(columns))
    try:
        tx.run("stw_insert_customers", source=plan.source)
        search_index.refresh_range(tx, new_ids[0], new_ids[-1])
        flags = plan.checked.failures
        flags = flags[~flags["required"] & flags["row"].isin(new.index)]
        if not flags.empty:
            customer_ids = pd.Series(new_ids, index=new.index)
            tx.register(
                "stw_flags",
                pd.DataFrame(
                    {
                        "customer_id": customer_ids.loc[flags["row"].to_numpy()].to_numpy(),
                        "field": flags["field"].astype("string").to_numpy(),
                        "code": flags["code"].astype("string").to_numpy(),
                        "detail": [
                            json.dumps(
                                {
                                    "code": c,
                                    "raw": None
                                    if pd.isna(r)
                                    else privacy.mask_id_text(str(r))
                                    if f == "id_number"
                                    else str(r),
                                },
                                ensure_ascii=False,
                            )
                            for f, c, r in zip(flags["field"], flags["code"], flags["raw"])
                        ],
                    }
                ),
            )
            try:
                tx.run("stw_insert_import_flags", import_id=import_id)
            finally:
                tx.unregister("stw_flags")
    finally:
        tx.unregister("stw_rows")
    return len(new), unchanged, new_ids


def _rejected_ids(plan: Plan, rows: pd.Index) -> dict[int, str]:
    """Row -> the raw ID number (compacted) of rows whose ID failed a check."""
    f = plan.checked.failures
    bad = f[(f["field"] == "id_number") & f["row"].isin(rows)]
    if bad.empty or "id_number" not in plan.mapped:
        return {}
    raw = plan.mapped["id_number"]
    out = {}
    for r in bad["row"].tolist():
        value = raw.get(r)
        text = "".join(str(value).split()).upper() if isinstance(value, str) else ""
        if text:
            out[int(r)] = text
    return out


def _masked_raw_id(raw: str | None) -> str | None:
    """raw_values JSON with a rejected ID number masked (the number itself is encrypted in
    id_number_enc)."""
    if not raw or '"id_number"' not in raw:
        return raw
    values = json.loads(raw)
    values["id_number"] = privacy.mask_id_text(values.get("id_number"))
    return json.dumps(values, ensure_ascii=False, sort_keys=True)


def _unseal_raw(raw: dict) -> dict:
    """A stored quarantined row with its ID number decrypted (in memory, to validate it)."""
    if isinstance(raw.get("id_number"), dict):
        raw = {**raw, "id_number": privacy.unseal_id(raw["id_number"]) or ""}
    return raw


# Per fact kind: the query finding keys already loaded, and the insert.
_FACT_QUERIES = {
    "orders": ("stw_existing_order_keys", "stw_insert_orders"),
    "events": ("stw_existing_event_keys", "stw_insert_events"),
    "feedback": ("fb_existing_keys", "fb_insert_import"),
}


def _write_facts(
    tx: warehouse.Tx,
    plan: Plan,
    ok: pd.Series,
    import_id: int | None = None,
    username: str = "",
    notes: list | None = None,
):
    """Orders, events or feedback: resolve the customer key, skip rows already loaded, insert
    the rest."""
    clean = plan.checked.clean
    rows = clean[ok].copy()
    extra: dict[int, list[dict]] = {}
    ids, codes = customer_keys.resolve(tx, rows.index, rows["customer_key"], plan.customer_source)
    rows["customer_id"] = ids.to_numpy()
    created: list[int] = []
    if plan.create_customers:
        unknown = rows.index.isin([r for r, c in codes.items() if c == customer_keys.UNKNOWN])
        if unknown.any():
            created, found = _create_customers(tx, plan, rows[unknown], import_id, notes if notes is not None else [])
            rows.loc[found.index, "customer_id"] = found.to_numpy()
    unknown = rows["customer_id"].isna()
    for r in rows.index[unknown]:
        code = codes.get(int(r), customer_keys.UNKNOWN)
        extra[int(r)] = [
            {"field": "customer_key", "code": code, "message": validation.message("customer_key", code, "en")}
        ]
    rows = rows[~unknown]
    query, insert = _FACT_QUERIES[plan.kind]
    existing = _existing_keys(tx, query, rows["source_record_id"], source=plan.source)
    new = rows[~rows["source_record_id"].isin(existing)].copy()
    unchanged = len(rows) - len(new)
    if new.empty:
        return 0, unchanged, created, extra
    new["customer_id"] = new["customer_id"].astype("int64")
    new["row_no"] = new.index.astype("int64")
    for col in ("amount", "refund_amount"):
        if col in new:
            new[col] = new[col].map(lambda v: None if pd.isna(v) else f"{v:.2f}").astype("string")
    tx.register("stw_rows", new)
    try:
        if plan.kind == "feedback":
            tx.run(insert, source=plan.source, import_id=import_id, username=username)
        else:
            tx.run(insert, source=plan.source)
    finally:
        tx.unregister("stw_rows")
    return len(new), unchanged, created, extra


def _check_creatable(mapped: pd.DataFrame, customer_source: str) -> None:
    """Refuse, before anything is read further, to create customers that the customer source's
    entry rules would all quarantine (a field they require that the file cannot give)."""
    given = {"source_record_id"} | {f for c, f in NEW_CUSTOMER_FIELDS.items() if c in mapped.columns}
    keys = normalize.text_series(mapped["customer_key"]) if "customer_key" in mapped.columns else None
    if keys is not None and keys.notna().any() and keys.dropna().str.contains("@", regex=False).all():
        given |= {"email", "contact"}  # email keys are the customers' emails
    rules = entry_rules.in_force(customer_source, "customers")
    missing = [f for f, action in rules.required.items() if action == "quarantine" and f not in given]
    if missing:
        labels = ", ".join(validation.field_label(f) for f in missing)
        flags = " ".join(f"--require {f}=flag" for f in missing)
        raise ImportProblem(
            f"Customers created from this file would have no {labels}, which the entry rules of "
            f"{customer_source!r} require: map a column to it, or let that source's customers load "
            f"without it (Entry rules page, or `entry-rules set --source {customer_source} {flags}` "
            "with the fields it keeps). Nothing was imported."
        )


def _create_customers(tx: warehouse.Tx, plan: Plan, rows: pd.DataFrame, import_id: int | None, notes: list):
    """The customers that `rows` name and the customer source does not know, created from their
    key, the file's customer name and country (the first row that gives them) and, for an email
    key, that email; checked by the customer source's entry rules, and quarantined as customers
    when those refuse them; what happened goes to `notes` (the result's, not the plan's: a
    rolled-back import leaves the plan as it was). Returns (new customer ids, customer id per row
    found)."""
    keys = rows["customer_key"].astype("string")
    info = pd.DataFrame({"source_record_id": keys})
    for column, target in NEW_CUSTOMER_FIELDS.items():
        if column in plan.mapped.columns:
            info[target] = normalize.text_series(plan.mapped[column].reindex(rows.index))
    info["email"] = keys.where(keys.str.contains("@", regex=False))
    people = info.groupby("source_record_id", sort=False).first().reset_index()
    mapping = {c: [c] for c in people.columns}
    customers = prepare("customers", people.astype("string"), mapping, plan.customer_source)
    ids = _write_customers(tx, customers, ~customers.checked.quarantined, int(import_id or 0))[2]
    refused = int(customers.checked.quarantined.sum())
    if refused:
        _write_quarantine(tx, customers, int(import_id or 0), {})
        notes.append(i18n.Note("stewards.imp.note.customers_refused", n=f"{refused:,}", source=plan.customer_source))
    if ids:
        notes.append(i18n.Note("stewards.imp.note.customers_created", n=f"{len(ids):,}"))
    found, _ = customer_keys.resolve(tx, rows.index, keys, plan.customer_source)
    return ids, found.dropna()


def _write_contacts(tx: warehouse.Tx, user: auth.User, plan: Plan, ok: pd.Series, import_id: int | None):
    return contact_imports.write(
        tx,
        plan.kind,
        plan.checked,
        ok,
        source=plan.source,
        customer_source=plan.customer_source,
        username=user.username,
        import_id=import_id,
    )


def _write_quarantine(tx: warehouse.Tx, plan: Plan, import_id: int, extra: dict[int, list[dict]]) -> int:
    q = plan.checked.quarantined
    rows = list(q[q].index) + [r for r in extra if not q.get(r, False)]
    if not rows:
        return 0
    reasons = plan.checked.reasons(rows)
    raw = plan.mapped.reindex(rows)
    # Column by column, then zipped into rows: DataFrame.to_dict("records") is slow on Arrow text.
    names = [str(c) for c in raw.columns]
    cells = [["" if pd.isna(v) else str(v) for v in raw[c].tolist()] for c in raw.columns]
    if "id_number" in names:
        # The ID number is kept sealed (ciphertext, keyed hash, last four), never in clear; a
        # column at a time, so that a large quarantine encrypts in worker processes.
        at = names.index("id_number")
        ids = ["".join(v.split()).upper() or None for v in cells[at]]
        tokens, hashes = privacy.encrypt_many(ids), privacy.id_hash_many(ids)
        cells[at] = [{"enc": t, "hash": h, "last4": v[-4:]} if v else "" for v, t, h in zip(ids, tokens, hashes)]
    srid = plan.checked.clean["source_record_id"].reindex(rows)
    frame = pd.DataFrame(
        {
            "row_no": plan.lines(rows),
            "source_record_id": srid.astype("string").to_numpy(),
            "raw": [json.dumps(dict(zip(names, values)), ensure_ascii=False, sort_keys=True) for values in zip(*cells)],
            "reasons": [json.dumps(extra[r], ensure_ascii=False) if r in extra else reasons.get(r, "[]") for r in rows],
        }
    )
    before = tx.scalar("stw_quarantine_count")
    tx.register("stw_quarantine_rows", frame)
    try:
        tx.run("stw_insert_quarantine", import_id=import_id, kind=plan.kind, source=plan.source)
    finally:
        tx.unregister("stw_quarantine_rows")
    return int(tx.scalar("stw_quarantine_count") - before)


def _after_import(result: ImportResult, match_duplicates: bool) -> None:
    result.notes.extend(hooks.loaded(hooks.Load("import", str(result.import_id), tuple(result.new_customer_ids or ()))))
    if match_duplicates and result.kind == "customers" and result.new_customer_ids:
        try:
            result.duplicate_candidates = dedup.match_new(auth.SYSTEM, result.new_customer_ids)
        except dedup.NoModel:
            result.notes.append(i18n.Note("stewards.imp.note.no_model"))


# ---------------------------------------------------------------- quarantine


@auth.pii_reader("import_data")
def quarantine(
    user: auth.User, status: str = "open", source: str | None = None, kind: str | None = None, limit: int = 500
) -> pd.DataFrame:
    """Quarantined rows with their raw content masked for the user (ID numbers always, as
    14 stars and the last four; contacts unless the role may see them)."""
    auth.require(user, "import_data")
    return privacy.mask_frame(
        user, warehouse.read("stw_quarantine_list", status=status, source=source, kind=kind, limit=limit)
    )


@auth.pii_writer("import_data")
@warehouse.retrying
def release(user: auth.User, quarantine_id: int, values: dict) -> int | None:
    """Validate a corrected quarantined row and load it (or raise ValidationError with the
    remaining problems). Returns the new customer id for customers."""
    auth.require(user, "import_data")
    row = warehouse.one("stw_quarantine_by_id", quarantine_id=int(quarantine_id))
    if row is None or row["status"] != "open":
        raise ImportProblem("This quarantined row is no longer open.")
    stored = _unseal_raw(json.loads(row["raw"]))
    raw = dict(stored)
    # A value shown masked and sent back unchanged keeps the stored one (the form shows an ID
    # number as 14 stars and its last four).
    raw.update(
        {
            k: ("" if v is None else str(v))
            for k, v in values.items()
            if k in FIELDS[row["kind"]]
            and not (isinstance(v, str) and "*" in v and stored.get(k) and privacy.mask_value(user, stored[k], k) == v)
        }
    )
    frame = pd.DataFrame([raw]).astype("string")
    mapping = {c: [c] for c in frame.columns}
    plan = prepare(row["kind"], frame, mapping, row["source"])
    if plan.checked.quarantined.iloc[0]:
        f = plan.checked.failures
        raise validation.ValidationError(
            [validation.FieldError(a, b) for a, b in zip(f.loc[f["required"], "field"], f.loc[f["required"], "code"])]
        )
    with warehouse.transaction() as tx:
        ok = pd.Series([True])
        if row["kind"] == "customers":
            loaded, unchanged, new_ids = _write_customers(tx, plan, ok, row["import_id"])
            _write_file_consents(tx, user, plan, ok, row["import_id"])
            extra = {}
        elif row["kind"] in contact_imports.KINDS:
            new_ids = []
            loaded, unchanged, extra = _write_contacts(tx, user, plan, ok, row["import_id"])
            extra = {r: [(e["field"], e["code"]) for e in v] for r, v in extra.items()}
            if extra:
                raise validation.ValidationError([validation.FieldError(f, c) for f, c in extra[0]])
        else:
            loaded, unchanged, new_ids, extra = _write_facts(tx, plan, ok, row["import_id"], user.username)
        if extra:
            raise validation.ValidationError([validation.FieldError("customer_key", "customer_key.unknown")])
        if unchanged:
            raise ImportProblem("A record with this source record ID already exists.")
        registration.infer(tx, user)  # a released order may be the customer's first activity
        tx.run("stw_quarantine_resolve", quarantine_id=int(quarantine_id), status="released", username=user.username)
        audit.record(
            tx,
            user,
            "import.release",
            "quarantine",
            quarantine_id,
            before=privacy.mask_for_audit(stored),
            after=privacy.mask_for_audit(raw),
            detail={"customer_id": new_ids[0] if new_ids else None},
        )
    if new_ids:
        _after_import(
            ImportResult(int(row["import_id"] or 0), row["kind"], row["source"], 1, 1, 0, 0, 0, 0.0, new_ids), True
        )
    return new_ids[0] if new_ids else None


@auth.pii_writer("import_data")
@warehouse.retrying
def discard(user: auth.User, quarantine_id: int, reason: str) -> None:
    auth.require(user, "import_data")
    reason = normalize.text(reason)
    if not reason:
        raise ImportProblem("Say why the row is discarded.")
    with warehouse.transaction() as tx:
        row = tx.one("stw_quarantine_by_id", quarantine_id=int(quarantine_id))
        if row is None or row["status"] != "open":
            raise ImportProblem("This quarantined row is no longer open.")
        tx.run("stw_quarantine_resolve", quarantine_id=int(quarantine_id), status="discarded", username=user.username)
        audit.record(tx, user, "import.discard", "quarantine", quarantine_id, detail={"reason": reason})


def recent_imports(limit: int = 20) -> pd.DataFrame:
    return warehouse.read("stw_imports_recent", limit=limit)
