"""The `consents` and `interactions` import kinds (issue #16, items 3 and 5).

lib/stewardship/importer.py owns the steps every kind shares (reading, mapping, the plan, the
one transaction, the quarantine, the imports row); this module holds what is particular to
these two kinds: their fields, the row checks (`check`, no writes) and the insert (`write`,
inside the importer's transaction).

* consents: one row per consent change (customer key, channel, granted/withdrawn, time,
  where it was captured, evidence). History is kept: every row is a new consents row, and the
  newest per customer and channel is in force (view consent_current; audiences read it). A row
  equal to one already recorded (same customer, channel, status and time) is counted as
  unchanged, so loading the same file twice writes nothing new.
* interactions: calls, visits, emails, chats, complaints, consults and notes with channel,
  outcome, owner (an app username; empty = the importing user), note and an optional
  follow-up date. Rows are keyed by the source's own id (or a hash of the row's content when
  the file has none), like events.

Quarantine reasons: unknown customer, unknown channel/status/type, a time that is not a time
or lies in the future, an unknown owner, a duplicate row in the file, a grant for an erased
customer.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from lib.core import validation, warehouse
from lib.stewardship import customer_keys
from lib.core.validation import _apply_unique, _col, _Collector, _finish, _record_ids, timestamp_series

KINDS = ("consents", "interactions")

CHANNELS = ("sms", "email", "phone")
STATUSES = ("granted", "withdrawn")
INTERACTION_TYPES = ("call", "visit", "email", "chat", "complaint", "consult", "note")
OUTCOMES = ("resolved", "follow_up", "no_answer", "informed", "escalated", "other")
MAX_NOTE = 2000
MAX_SOURCE = 100
MAX_EVIDENCE = 500

FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "consents": {
        "customer_key": customer_keys.HEADER_NAMES,
        "channel": ("channel", "consent_channel", "渠道", "授权渠道"),
        "status": ("status", "consent", "consent_status", "granted", "opt_in", "状态", "授权状态", "同意"),
        "recorded_at": ("recorded_at", "time", "timestamp", "date", "consent_time", "时间", "授权时间", "记录时间"),
        "consent_source": ("consent_source", "source", "captured_by", "where", "来源", "授权来源"),
        "evidence": ("evidence", "proof", "reference", "凭证", "证据", "依据"),
    },
    "interactions": {
        "source_record_id": ("source_record_id", "interaction_id", "call_id", "ticket_id", "记录编号", "工单号"),
        "customer_key": customer_keys.HEADER_NAMES,
        "interaction_type": ("interaction_type", "type", "kind", "类型", "互动类型"),
        "occurred_at": ("occurred_at", "time", "timestamp", "date", "call_time", "时间", "发生时间", "联系时间"),
        "channel": ("channel", "渠道"),
        "outcome": ("outcome", "result", "结果", "处理结果"),
        "owner": ("owner", "agent", "staff", "username", "负责人", "坐席", "经办人"),
        "note": ("note", "notes", "comment", "summary", "备注", "内容", "记录"),
        "follow_up_on": ("follow_up_on", "follow_up", "follow_up_date", "回访日期", "跟进日期"),
        "follow_up_done": ("follow_up_done", "done", "completed", "已跟进", "已完成"),
    },
}
REQUIRED = {
    "consents": ("customer_key", "channel", "status", "recorded_at"),
    "interactions": ("customer_key", "interaction_type", "occurred_at"),
}

_CHANNEL_WORDS = {
    "sms": "sms",
    "text": "sms",
    "短信": "sms",
    "email": "email",
    "e-mail": "email",
    "mail": "email",
    "邮件": "email",
    "邮箱": "email",
    "电子邮件": "email",
    "phone": "phone",
    "call": "phone",
    "tel": "phone",
    "telephone": "phone",
    "电话": "phone",
}
_STATUS_WORDS = {
    **{
        w: "granted"
        for w in (
            "granted",
            "grant",
            "yes",
            "y",
            "true",
            "1",
            "opt-in",
            "opt_in",
            "optin",
            "subscribed",
            "同意",
            "是",
            "订阅",
        )
    },
    **{
        w: "withdrawn"
        for w in (
            "withdrawn",
            "withdraw",
            "no",
            "n",
            "false",
            "0",
            "opt-out",
            "opt_out",
            "optout",
            "unsubscribed",
            "撤回",
            "拒绝",
            "否",
            "退订",
        )
    },
}
_TYPE_WORDS = {
    **{t: t for t in INTERACTION_TYPES},
    "phone call": "call",
    "电话": "call",
    "来电": "call",
    "去电": "call",
    "拜访": "visit",
    "到店": "visit",
    "上门": "visit",
    "邮件": "email",
    "e-mail": "email",
    "微信": "chat",
    "在线": "chat",
    "im": "chat",
    "投诉": "complaint",
    "咨询": "consult",
    "备注": "note",
    "记录": "note",
}
_DONE_WORDS = {
    **{w: True for w in ("yes", "y", "true", "1", "done", "是", "已完成", "完成")},
    **{w: False for w in ("no", "n", "false", "0", "open", "否", "未完成")},
}


def _word(values: pd.Series, words: dict, field: str, code: str) -> tuple[pd.Series, pd.Series]:
    def one(v):
        key = str(v).strip().lower()
        if key not in words:
            raise validation.FieldError(field, code, v)
        return words[key]

    return _apply_unique(values, one)


def status_words(values: pd.Series, field: str) -> tuple[pd.Series, pd.Series]:
    """yes/no words (English and Chinese) as granted/withdrawn, and the failure code of others."""
    return _word(values, _STATUS_WORDS, field, "consent.status")


def _times(c: _Collector, frame: pd.DataFrame, field: str) -> pd.Series:
    ts, code = timestamp_series(_col(frame, field), field)
    c.add(field, code, required=True)
    c.add_mask(field, ts.isna() & code.isna(), "required.missing")
    c.add_mask(field, (ts > pd.Timestamp(datetime.now())).fillna(False).astype(bool), "date.future")
    return ts


def _text(c: _Collector, frame: pd.DataFrame, field: str, limit: int) -> pd.Series:
    text = _col(frame, field)
    long = (text.str.len() > limit).fillna(False).astype(bool)
    c.add_mask(field, long, "text.too_long")
    return text


def check(kind: str, frame: pd.DataFrame, today: date | None = None, source: str = "") -> validation.Checked:
    """Normalise and validate a frame of raw strings whose columns are the kind's fields."""
    frame = frame.reset_index(drop=True)
    return _check_consents(frame, source) if kind == "consents" else _check_interactions(frame)


def _check_consents(frame: pd.DataFrame, source: str) -> validation.Checked:
    c = _Collector(frame)
    out = pd.DataFrame(index=frame.index)
    key = _col(frame, "customer_key")
    c.add_mask("customer_key", key.isna(), "required.missing")
    out["customer_key"] = key
    for field, words, code in (
        ("channel", _CHANNEL_WORDS, "consent.channel"),
        ("status", _STATUS_WORDS, "consent.status"),
    ):
        value, bad = _word(_col(frame, field), words, field, code)
        c.add(field, bad, required=True)
        c.add_mask(field, value.isna() & bad.isna(), "required.missing")
        out[field] = value.astype("string")
    out["recorded_at"] = _times(c, frame, "recorded_at")
    given = _text(c, frame, "consent_source", MAX_SOURCE)
    out["consent_source"] = given.fillna(f"import {source}".strip())
    out["evidence"] = _text(c, frame, "evidence", MAX_EVIDENCE)
    same = out[["customer_key", "channel", "status", "recorded_at"]].astype("string").fillna("")
    c.add_mask("record", same.duplicated(keep="first"), "duplicate_in_file")
    out["source_record_id"] = key  # shown beside a quarantined row; erasure finds it by this key
    return _finish(out, c)


def _check_interactions(frame: pd.DataFrame) -> validation.Checked:
    c = _Collector(frame)
    out = pd.DataFrame(index=frame.index)
    key = _col(frame, "customer_key")
    c.add_mask("customer_key", key.isna(), "required.missing")
    out["customer_key"] = key
    kind, bad = _word(_col(frame, "interaction_type"), _TYPE_WORDS, "interaction_type", "interaction.type")
    c.add("interaction_type", bad, required=True)
    c.add_mask("interaction_type", kind.isna() & bad.isna(), "required.missing")
    out["interaction_type"] = kind.astype("string")
    out["occurred_at"] = _times(c, frame, "occurred_at")
    out["channel"] = _col(frame, "channel").str.lower()
    outcome, bad = _word(_col(frame, "outcome"), {o: o for o in OUTCOMES}, "outcome", "interaction.outcome")
    c.add("outcome", bad)  # an unknown outcome is left empty; the row loads
    out["outcome"] = outcome.astype("string")
    out["owner"] = _col(frame, "owner")
    out["note"] = _text(c, frame, "note", MAX_NOTE)
    due, bad = timestamp_series(_col(frame, "follow_up_on"), "follow_up_on")
    c.add("follow_up_on", bad, required=True)  # a promise to call back is not dropped silently
    out["follow_up_on"] = due
    done, bad = _word(_col(frame, "follow_up_done"), _DONE_WORDS, "follow_up_done", "interaction.done")
    c.add("follow_up_done", bad, required=True)
    out["follow_up_done"] = done.astype("boolean").fillna(False)
    out["source_record_id"] = _record_ids(frame, c)  # files without ids: a content hash
    return _finish(out, c)


def _reason(field: str, code: str) -> dict:
    return {"field": field, "code": code, "message": validation.message(field, code, "en")}


def write(
    tx: warehouse.Tx,
    kind: str,
    checked: validation.Checked,
    ok: pd.Series,
    *,
    source: str,
    customer_source: str,
    username: str,
    import_id: int | None,
) -> tuple[int, int, dict[int, list[dict]]]:
    """Insert the valid rows not yet present: (loaded, unchanged, {row: reasons} to quarantine)."""
    rows = checked.clean[ok].copy()
    rows["row_no"] = rows.index.astype("int64")
    if rows.empty:
        return 0, 0, {}
    return (_write_consents if kind == "consents" else _write_interactions)(
        tx, rows, source, customer_source, username, import_id
    )


def _write_consents(tx, rows: pd.DataFrame, source, customer_source, username, import_id):
    rows, extra = _with_customers(tx, rows, customer_source)
    tx.register("stw_rows", rows[["row_no", "customer_id", "channel", "status", "recorded_at"]])
    try:
        found = tx.df("cns_row_state").set_index("row_no")
    finally:
        tx.unregister("stw_rows")
    erased = found["erased_at"].reindex(rows["row_no"]).notna().to_numpy() & (rows["status"] == "granted").to_numpy()
    for r in rows.index[erased]:
        extra[int(r)] = [_reason("customer_key", "consent.erased")]
    rows = rows[~erased]
    present = found["present"].reindex(rows["row_no"]).fillna(False).astype(bool).to_numpy()
    new = rows[~present]
    if not new.empty:
        tx.register(
            "stw_rows",
            new[["row_no", "customer_id", "channel", "status", "recorded_at", "consent_source", "evidence"]],
        )
        try:
            tx.run("cns_insert_rows", username=username)
        finally:
            tx.unregister("stw_rows")
    return len(new), int(present.sum()), extra


def _with_customers(tx, rows: pd.DataFrame, customer_source) -> tuple[pd.DataFrame, dict[int, list[dict]]]:
    """The rows whose customer is found (by key or email: customer_keys), with its id, and the
    reasons of the others."""
    ids, codes = customer_keys.resolve(tx, rows["row_no"], rows["customer_key"], customer_source)
    found = ids.notna().to_numpy()
    extra = {
        int(r): [_reason("customer_key", codes[int(n)])] for r, n in zip(rows.index[~found], rows["row_no"][~found])
    }
    rows = rows[found].copy()
    rows["customer_id"] = ids.dropna().to_numpy().astype("int64")
    return rows, extra


def _write_interactions(tx, rows: pd.DataFrame, source, customer_source, username, import_id):
    rows, extra = _with_customers(tx, rows, customer_source)
    users = set(tx.scalar("ixn_known_users") or ())
    # An empty owner is the importing user; a scripted import (user `system`, no account)
    # needs an owner column.
    missing = rows["owner"].isna().to_numpy()
    rows["owner"] = rows["owner"].fillna(username)
    stranger = ~rows["owner"].isin(users)
    for r, empty in zip(rows.index[stranger], missing[stranger.to_numpy()]):
        extra[int(r)] = [_reason("owner", "required.missing" if empty else "owner.unknown")]
    rows = rows[~stranger]
    tx.register("stw_keys", pd.DataFrame({"k": rows["source_record_id"].astype("string")}))
    try:
        existing = set(tx.scalar("ixn_existing_keys", source=source) or ())
    finally:
        tx.unregister("stw_keys")
    new = rows[~rows["source_record_id"].isin(existing)].copy()
    unchanged = len(rows) - len(new)
    if new.empty:
        return 0, unchanged, extra
    new["customer_id"] = new["customer_id"].astype("int64")
    new["follow_up_done"] = new["follow_up_done"].astype(bool)
    tx.register(
        "stw_rows",
        new[
            [
                "row_no",
                "customer_id",
                "interaction_type",
                "channel",
                "outcome",
                "occurred_at",
                "owner",
                "note",
                "follow_up_on",
                "follow_up_done",
                "source_record_id",
            ]
        ],
    )
    try:
        tx.run("ixn_insert_rows", source=source, import_id=import_id, username=username, now=datetime.now())
    finally:
        tx.unregister("stw_rows")
    return len(new), unchanged, extra
