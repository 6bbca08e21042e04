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
from typing import Callable

import pandas as pd
import pyarrow as pa

from lib.security import audit, auth, privacy
from lib.core import errors, hooks, normalize, parallel, settings, validation, warehouse
from lib.stewardship import dedup

log = logging.getLogger(__name__)

KINDS = ("customers", "orders", "events")

# Target fields per kind, each with header names (English, Chinese, common exports) that
# suggest it. Lists are matched after lower-casing and dropping spaces, '_', '-' and '.'.
FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": {
        "source_record_id": ("source_record_id", "id", "customer_id", "customerid", "cust_id", "member_id",
                             "memberid", "客户编号", "客户id", "会员编号", "会员id", "编号", "客户号"),
        "full_name": ("full_name", "name", "fullname", "customer_name", "姓名", "客户姓名", "名称", "联系人"),
        "family_name": ("family_name", "last_name", "surname", "lastname", "姓"),
        "given_name": ("given_name", "first_name", "firstname", "名"),
        "gender": ("gender", "sex", "性别"),
        "birth_date": ("birth_date", "birthday", "dob", "date_of_birth", "birthdate", "出生日期", "生日"),
        "mobile": ("mobile", "phone", "mobile_phone", "cell", "cellphone", "tel", "telephone",
                   "phone_number", "手机", "手机号", "手机号码", "电话", "联系电话"),
        "email": ("email", "e-mail", "mail", "email_address", "邮箱", "电子邮箱", "电子邮件"),
        "id_number": ("id_number", "resident_id", "id_card", "idcard", "身份证", "身份证号",
                      "身份证号码", "证件号码"),
        "country": ("country", "country_code", "国家", "国家地区"),
        "province": ("province", "state", "region", "省", "省份"),
        "city": ("city", "城市", "市"),
        "district": ("district", "county", "区", "区县"),
        "address": ("address", "street", "street_address", "addr", "地址", "详细地址", "街道",
                    "street_no", "street_number", "house_number", "门牌号", "门牌"),
        "postcode": ("postcode", "zip", "zipcode", "postal_code", "邮编", "邮政编码"),
        "customer_type": ("customer_type", "type", "客户类型"),
        "company": ("company", "company_name", "organisation", "organization", "公司", "公司名称", "单位"),
        "industry": ("industry", "行业"),
        "job_title": ("job_title", "title", "position", "职位", "职务"),
        "uscc": ("uscc", "credit_code", "统一社会信用代码", "信用代码"),
        "channel": ("channel", "acquisition_channel", "渠道", "来源渠道"),
        "registered_at": ("registered_at", "created_at", "signup_date", "register_time",
                          "registration_date", "注册时间", "注册日期"),
    },
    "orders": {
        "source_record_id": ("source_record_id", "order_id", "orderid", "order_no", "订单号", "订单编号"),
        "customer_key": ("customer_key", "customer_id", "customerid", "member_id", "客户编号", "会员编号", "客户id"),
        "order_time": ("order_time", "order_date", "created_at", "time", "date", "下单时间", "订单时间"),
        "status": ("status", "order_status", "状态", "订单状态"),
        "amount": ("amount", "total", "order_amount", "paid", "金额", "实付金额", "订单金额"),
        "refund_amount": ("refund_amount", "refund", "退款", "退款金额"),
        "channel": ("channel", "渠道"),
        "category": ("category", "品类", "类目"),
        "item_count": ("item_count", "items", "quantity", "qty", "件数", "数量"),
    },
    "events": {
        "source_record_id": ("source_record_id", "event_id", "eventid", "事件编号"),
        "customer_key": ("customer_key", "customer_id", "customerid", "member_id", "客户编号", "会员编号", "客户id"),
        "event_type": ("event_type", "type", "event", "action", "行为", "行为类型"),
        "event_time": ("event_time", "time", "timestamp", "date", "行为时间", "时间"),
        "channel": ("channel", "渠道"),
        "category": ("category", "品类"),
        "amount": ("amount", "金额"),
        "order_key": ("order_key", "order_id", "order_no", "订单号"),
        "note": ("note", "notes", "comment", "备注", "内容"),
    },
}

REQUIRED_FIELDS = {"customers": ("source_record_id",), "orders": ("source_record_id", "customer_key",
                   "order_time", "amount"), "events": ("customer_key", "event_type", "event_time")}


class ImportProblem(errors.ValidationError):
    """A problem with the file or the mapping, for people to read."""


# ---------------------------------------------------------------- reading

def read_table(source, file_name: str | None = None) -> pd.DataFrame:
    """A CSV or Excel file (path or bytes) as a frame of strings ('' for empty cells).

    CSV files are tried as UTF-8 (with or without BOM), then GB18030: Excel in China saves
    CSV in GBK by default.
    """
    name = (file_name or str(source)).lower()
    data = source if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes() \
        if not hasattr(source, "read") else source.read()
    if name.endswith((".xlsx", ".xlsm")):
        frame = pd.read_excel(io.BytesIO(data), dtype=str, engine="openpyxl", keep_default_na=False)
    elif name.endswith((".csv", ".txt", ".tsv")) or not name:
        sep = "\t" if name.endswith(".tsv") else ","
        frame = None
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, sep=sep,
                                    encoding=encoding, engine="pyarrow" if sep == "," else "c")
                break
            except UnicodeDecodeError:
                continue
            except Exception as exc:  # noqa: BLE001 - pyarrow rejects some ragged files; retry in C
                frame = _read_csv_multiline(data, encoding, sep) if "newlines_in_values" in str(exc) else None
                if frame is not None:
                    break
                try:
                    frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, sep=sep,
                                        encoding=encoding)
                    break
                except UnicodeDecodeError:
                    continue
                except Exception:
                    raise ImportProblem(f"The file could not be read as CSV: {exc}") from exc
        if frame is None:
            raise ImportProblem("The file is neither UTF-8 nor GB18030 text.")
    else:
        raise ImportProblem("Upload a .csv or .xlsx file.")
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.columns.duplicated().any():
        raise ImportProblem("The file has two columns with the same header: "
                            + ", ".join(sorted(set(frame.columns[frame.columns.duplicated()]))))
    # Arrow-backed strings: the vectorised validation runs in pyarrow compute, not in Python.
    return frame.fillna("").astype(pd.StringDtype("pyarrow"))


def _read_csv_multiline(data: bytes, encoding: str, sep: str) -> pd.DataFrame | None:
    """pyarrow's CSV reader with line breaks allowed inside quoted cells (addresses exported
    from Excel often hold them). pandas' pyarrow engine has no way to pass that option, and
    its C engine needs ~5 s per million rows. Every column is read as text, empty cells as ''.

    None when pyarrow rejects the file or the header needs pandas' own naming (an empty or a
    repeated column name): the caller then reads it with pandas' C engine, as before."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    # Arrow's own UTF-8 path skips a BOM and rejects invalid bytes; other encodings go
    # through Python's codec.
    read = pacsv.ReadOptions(encoding="utf8" if encoding == "utf-8-sig" else encoding)
    parse = pacsv.ParseOptions(delimiter=sep, newlines_in_values=True)
    try:
        names = pacsv.open_csv(io.BytesIO(data), read_options=read, parse_options=parse).schema.names
        if len(set(names)) != len(names) or not all(str(n).strip() for n in names):
            return None
        table = pacsv.read_csv(io.BytesIO(data), read_options=read, parse_options=parse,
                               convert_options=pacsv.ConvertOptions(
                                   column_types={n: pa.string() for n in names},
                                   strings_can_be_null=False, quoted_strings_can_be_null=False))
    except Exception:  # noqa: BLE001 - any doubt: the caller's C-engine read decides
        return None
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)


# ---------------------------------------------------------------- mapping

def _key(header: str) -> str:
    return re.sub(r"[\s_\-.:：()（）]+", "", str(header).lower())


def suggest_mapping(kind: str, columns) -> dict[str, list[str]]:
    """Target field -> source columns, from header names (exact synonyms first, then close
    spellings). Several address-like columns all feed `address`, in file order."""
    fields = FIELDS[kind]
    lookup = {}
    for target, names in fields.items():
        for n in names:
            lookup.setdefault(_key(n), target)
    mapping: dict[str, list[str]] = {}
    used: set[str] = set()
    for col in columns:
        target = lookup.get(_key(col))
        if target is None:
            continue
        if target in mapping and target != "address":
            continue
        mapping.setdefault(target, []).append(col)
        used.add(col)
    if len(mapping.get("address", [])) > 1:
        # Chinese order: street first, then the number (科技园路 + 1号 -> 科技园路1号).
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
        tx.run("stw_mapping_save", name=name, kind=kind, mapping=mapping_json(kind, mapping),
               saved_by=user.username)
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
            out[target] = pd.Series([_join_pieces(list(r)) for r in parts.itertuples(index=False)],
                                    index=frame.index, dtype="string")
    return out


# ---------------------------------------------------------------- prepare (no writes)

@dataclass
class Plan:
    kind: str
    source: str
    file_name: str | None
    file_sha256: str | None
    mapping: dict[str, list[str]]
    mapped: pd.DataFrame                  # target fields as raw strings
    checked: validation.Checked
    customer_source: str
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return len(self.mapped)

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
        return _explain(rows, self.mapped, limit)

    def flagged(self, limit: int = 200) -> pd.DataFrame:
        """Rows that will load with an emptied field, and why."""
        f = self.checked.failures
        keep = self.checked.flagged & ~self.checked.quarantined
        rows = f[f["row"].isin(keep[keep].index) & ~f["required"]]
        return _explain(rows, self.mapped, limit)


def _explain(failures: pd.DataFrame, mapped: pd.DataFrame, limit: int) -> pd.DataFrame:
    if failures.empty:
        return pd.DataFrame(columns=["row", "source_record_id", "field", "value", "reason"])
    failures = failures.sort_values(["row"]).head(limit)
    srid = mapped["source_record_id"] if "source_record_id" in mapped else pd.Series("", index=mapped.index)
    return pd.DataFrame({
        "row": failures["row"].to_numpy() + 2,             # 1-based, after the header line
        "source_record_id": srid.reindex(failures["row"]).to_numpy(),
        "field": [validation.field_label(f) for f in failures["field"]],
        "value": failures["raw"].astype("object").where(failures["raw"].notna(), "").to_numpy(),
        "reason": [validation.message(f, c) for f, c in zip(failures["field"], failures["code"])],
    })


def prepare(kind: str, frame: pd.DataFrame, mapping: dict | None, source: str, *,
            file_name: str | None = None, file_bytes: bytes | None = None,
            customer_source: str | None = None,
            progress: Callable[[float, str], None] | None = None) -> Plan:
    """Map, normalise and validate a file's rows: everything the preview shows, nothing written."""
    started = time.perf_counter()
    source = normalize.text(source) or ""
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,40}", source):
        raise ImportProblem("The source name must be 1-40 letters, digits, '_', '-' or '.'.")
    if kind not in KINDS:
        raise ImportProblem(f"Unknown kind {kind!r}: use one of {', '.join(KINDS)}.")
    mapping = normalise_mapping(kind, mapping if mapping is not None else suggest_mapping(kind, frame.columns),
                                frame.columns)
    missing = [f for f in REQUIRED_FIELDS[kind] if f not in mapping]
    if kind == "customers" and not ({"full_name", "family_name", "given_name"} & set(mapping)):
        missing.append("full_name")
    if missing:
        raise ImportProblem("Map a column to each required field: "
                            + ", ".join(validation.field_label(m) for m in missing))
    _tick(progress, 0.05, "map")
    mapped = apply_mapping(frame.reset_index(drop=True), mapping)
    _tick(progress, 0.15, "validate")
    checked = validation.check_frame(kind, mapped, today=settings.as_of(),
                                     defaults={"channel": source.lower(), "now": datetime.now()})
    _tick(progress, 0.45, "validated")
    sha = hashlib.sha256(file_bytes).hexdigest() if file_bytes is not None else None
    return Plan(kind, source, file_name, sha, mapping, mapped, checked,
                normalize.text(customer_source) or source, time.perf_counter() - started)


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

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "new_customer_ids"}


def run_import(user: auth.User, plan: Plan, *, progress: Callable[[float, str], None] | None = None,
               match_duplicates: bool = True) -> ImportResult:
    """Write a prepared import in ONE transaction, then refresh aggregates and match the new
    customers against existing ones (both after the commit: the import stands on its own)."""
    auth.require(user, "import_data")
    started = time.perf_counter()
    try:
        result = _write(user, plan, progress)
    finally:
        parallel.shutdown()      # worker processes of a large import (if any) are not kept idle
    result.seconds = time.perf_counter() - started + plan.seconds
    _tick(progress, 0.9, "after")
    if result.rows_loaded:
        _after_import(result, match_duplicates)
    _tick(progress, 1.0, "done")
    return result


def import_file(user: auth.User, kind: str, path, source: str, mapping: dict | None = None, *,
                customer_source: str | None = None, progress=None,
                match_duplicates: bool = True) -> ImportResult:
    """Read, prepare and import a file in one call (the CLI's path)."""
    auth.require(user, "import_data")
    data = Path(path).read_bytes()
    frame = read_table(data, Path(path).name)
    plan = prepare(kind, frame, mapping, source, file_name=Path(path).name, file_bytes=data,
                   customer_source=customer_source, progress=progress)
    return run_import(user, plan, progress=progress, match_duplicates=match_duplicates)


@warehouse.retrying
def _write(user: auth.User, plan: Plan, progress) -> ImportResult:
    checked, kind = plan.checked, plan.kind
    with warehouse.transaction() as tx:
        import_id = tx.scalar("stw_import_start", kind=kind, source=plan.source,
                              file_name=plan.file_name, file_sha256=plan.file_sha256,
                              username=user.username, rows_total=plan.rows)
        _tick(progress, 0.5, "write")
        ok = ~checked.quarantined
        quarantine_extra: dict[int, list[dict]] = {}
        if kind == "customers":
            loaded, unchanged, new_ids = _write_customers(tx, plan, ok, import_id)
        else:
            loaded, unchanged, new_ids, quarantine_extra = _write_facts(tx, plan, ok)
        _tick(progress, 0.75, "quarantine")
        quarantined = _write_quarantine(tx, plan, import_id, quarantine_extra)
        flagged = int((checked.flagged & ok).sum()) if kind == "customers" else 0
        counts = dict(rows_loaded=loaded, rows_unchanged=unchanged,
                      rows_quarantined=quarantined, rows_flagged=flagged if loaded else 0)
        tx.run("stw_import_finish", import_id=import_id, **counts)
        audit.record(tx, user, "import.run", "import", import_id,
                     detail={"kind": kind, "source": plan.source, "file": plan.file_name,
                             "rows_total": plan.rows, **counts})
    return ImportResult(import_id, kind, plan.source, plan.rows, loaded, unchanged, quarantined,
                        counts["rows_flagged"], 0.0, new_ids)


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
    # Fernet and HMAC run in Python once per value: on a large import they run in worker
    # processes (lib.core.parallel) while this process puts the other columns together.
    tokens, hashes = privacy.encrypt_many_job(ids), privacy.id_hash_many_job(ids)
    columns = _arrow_rows(new.drop(columns=["id_number"]))
    columns["id_number_last4"] = pa.array([v[-4:] if v else None for v in ids], type=pa.string())
    raw = plan.checked.raw_values.reindex(new.index)
    columns["raw_values"] = pa.array(raw.astype("object").where(raw.notna(), None).tolist(), type=pa.string())
    columns["row_no"] = pa.array(new.index.to_numpy(dtype="int64"))
    # Rows keep file order among their ids.
    new_ids = sorted(tx.scalar("stw_reserve_customer_ids", n=len(new)))
    columns["customer_id"] = pa.array(new_ids, type=pa.int64())
    columns["id_number_enc"] = pa.array(tokens.result(), type=pa.string())
    columns["id_number_hash"] = pa.array(hashes.result(), type=pa.string())
    tx.register("stw_rows", pa.table(columns))
    try:
        tx.run("stw_insert_customers", source=plan.source)
        flags = plan.checked.failures
        flags = flags[~flags["required"] & flags["row"].isin(new.index)]
        if not flags.empty:
            customer_ids = pd.Series(new_ids, index=new.index)
            tx.register("stw_flags", pd.DataFrame({
                "customer_id": customer_ids.loc[flags["row"].to_numpy()].to_numpy(),
                "field": flags["field"].astype("string").to_numpy(),
                "code": flags["code"].astype("string").to_numpy(),
                "detail": [json.dumps({"code": c, "raw": None if pd.isna(r) else str(r)}, ensure_ascii=False)
                           for c, r in zip(flags["code"], flags["raw"])],
            }))
            try:
                tx.run("stw_insert_import_flags", import_id=import_id)
            finally:
                tx.unregister("stw_flags")
    finally:
        tx.unregister("stw_rows")
    return len(new), unchanged, new_ids


def _write_facts(tx: warehouse.Tx, plan: Plan, ok: pd.Series):
    """Orders or events: resolve the customer key, skip rows already loaded, insert the rest."""
    clean = plan.checked.clean
    rows = clean[ok].copy()
    extra: dict[int, list[dict]] = {}
    tx.register("stw_keys", pd.DataFrame({"row_no": rows.index.astype("int64"),
                                          "k": rows["customer_key"].astype("string").to_numpy()}))
    try:
        resolved = tx.df("stw_resolve_customer_keys", source=plan.customer_source)
    finally:
        tx.unregister("stw_keys")
    cid = pd.Series(resolved["customer_id"].to_numpy(), index=resolved["row_no"].to_numpy())
    rows["customer_id"] = cid.reindex(rows.index)
    unknown = rows["customer_id"].isna()
    for r in rows.index[unknown]:
        extra[int(r)] = [{"field": "customer_key", "code": "customer_key.unknown",
                          "message": validation.message("customer_key", "customer_key.unknown", "en")}]
    rows = rows[~unknown]
    query = "stw_existing_order_keys" if plan.kind == "orders" else "stw_existing_event_keys"
    existing = _existing_keys(tx, query, rows["source_record_id"], source=plan.source)
    new = rows[~rows["source_record_id"].isin(existing)].copy()
    unchanged = len(rows) - len(new)
    if new.empty:
        return 0, unchanged, [], extra
    new["customer_id"] = new["customer_id"].astype("int64")
    new["row_no"] = new.index.astype("int64")
    for col in ("amount", "refund_amount"):
        if col in new:
            new[col] = new[col].map(lambda v: None if pd.isna(v) else f"{v:.2f}").astype("string")
    tx.register("stw_rows", new)
    try:
        if plan.kind == "orders":
            tx.run("stw_insert_orders", source=plan.source)
        else:
            tx.run("stw_insert_events", source=plan.source)
    finally:
        tx.unregister("stw_rows")
    return len(new), unchanged, [], extra


def _write_quarantine(tx: warehouse.Tx, plan: Plan, import_id: int,
                      extra: dict[int, list[dict]]) -> int:
    q = plan.checked.quarantined
    rows = list(q[q].index) + [r for r in extra if not q.get(r, False)]
    if not rows:
        return 0
    reasons = plan.checked.reasons(rows)
    raw = plan.mapped.reindex(rows)
    # Column by column, then zipped into rows: DataFrame.to_dict("records") is slow on Arrow text.
    names = [str(c) for c in raw.columns]
    cells = [["" if pd.isna(v) else str(v) for v in raw[c].tolist()] for c in raw.columns]
    srid = plan.checked.clean["source_record_id"].reindex(rows)
    frame = pd.DataFrame({
        "row_no": [int(r) + 2 for r in rows],
        "source_record_id": srid.astype("string").to_numpy(),
        "raw": [json.dumps(dict(zip(names, values)), ensure_ascii=False, sort_keys=True)
                for values in zip(*cells)],
        "reasons": [json.dumps(extra[r], ensure_ascii=False) if r in extra else reasons.get(r, "[]")
                    for r in rows],
    })
    before = tx.scalar("stw_quarantine_count")
    tx.register("stw_quarantine_rows", frame)
    try:
        tx.run("stw_insert_quarantine", import_id=import_id, kind=plan.kind, source=plan.source)
    finally:
        tx.unregister("stw_quarantine_rows")
    return int(tx.scalar("stw_quarantine_count") - before)


def _after_import(result: ImportResult, match_duplicates: bool) -> None:
    result.notes.extend(hooks.loaded(hooks.Load("import", str(result.import_id),
                                                tuple(result.new_customer_ids or ()))))
    if match_duplicates and result.kind == "customers" and result.new_customer_ids:
        try:
            result.duplicate_candidates = dedup.match_new(auth.SYSTEM, result.new_customer_ids)
        except dedup.NoModel:
            result.notes.append("no trained duplicate model yet: run `dedup run` once")


# ---------------------------------------------------------------- quarantine

def quarantine(status: str = "open", source: str | None = None, kind: str | None = None,
               limit: int = 500) -> pd.DataFrame:
    return warehouse.read("stw_quarantine_list", status=status, source=source, kind=kind, limit=limit)


@warehouse.retrying
def release(user: auth.User, quarantine_id: int, values: dict) -> int | None:
    """Validate a corrected quarantined row and load it (or raise ValidationError with the
    remaining problems). Returns the new customer id for customers."""
    auth.require(user, "import_data")
    row = warehouse.one("stw_quarantine_by_id", quarantine_id=int(quarantine_id))
    if row is None or row["status"] != "open":
        raise ImportProblem("This quarantined row is no longer open.")
    raw = json.loads(row["raw"])
    raw.update({k: ("" if v is None else str(v)) for k, v in values.items() if k in FIELDS[row["kind"]]})
    frame = pd.DataFrame([raw]).astype("string")
    mapping = {c: [c] for c in frame.columns}
    plan = prepare(row["kind"], frame, mapping, row["source"])
    if plan.checked.quarantined.iloc[0]:
        f = plan.checked.failures
        raise validation.ValidationError([validation.FieldError(a, b) for a, b in
                                          zip(f.loc[f["required"], "field"], f.loc[f["required"], "code"])])
    with warehouse.transaction() as tx:
        ok = pd.Series([True])
        if row["kind"] == "customers":
            loaded, unchanged, new_ids = _write_customers(tx, plan, ok, row["import_id"])
            extra = {}
        else:
            loaded, unchanged, new_ids, extra = _write_facts(tx, plan, ok)
        if extra:
            raise validation.ValidationError([validation.FieldError("customer_key", "customer_key.unknown")])
        if unchanged:
            raise ImportProblem("A record with this source record ID already exists.")
        tx.run("stw_quarantine_resolve", quarantine_id=int(quarantine_id), status="released",
               username=user.username)
        audit.record(tx, user, "import.release", "quarantine", quarantine_id,
                     before=json.loads(row["raw"]), after=raw,
                     detail={"customer_id": new_ids[0] if new_ids else None})
    if new_ids:
        _after_import(ImportResult(int(row["import_id"] or 0), row["kind"], row["source"], 1, 1, 0, 0, 0,
                                   0.0, new_ids), True)
    return new_ids[0] if new_ids else None


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
        tx.run("stw_quarantine_resolve", quarantine_id=int(quarantine_id), status="discarded",
               username=user.username)
        audit.record(tx, user, "import.discard", "quarantine", quarantine_id, detail={"reason": reason})


def recent_imports(limit: int = 20) -> pd.DataFrame:
    return warehouse.read("stw_imports_recent", limit=limit)
