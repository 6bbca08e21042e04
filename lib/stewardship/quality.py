"""Data-quality rules, runs, scorecards and the open flags per customer.

ONE registry (RULES): each rule has a DAMA dimension, a severity, the field it judges and a
set-based check in lib/core/sql/stewards_quality.sql (`stw_rule_<id>`) that returns, for every
customer in the rule's population, whether it fails. A run evaluates every rule in DuckDB,
stores checked/failed counts per rule, source and acquisition channel (quality_results), and
synchronises quality_flags: new failures open a flag, records that pass again have their flag
resolved, and findings a steward verified or ignored stay closed until the record changes.

Scores: a rule's score is 1 - failed/checked. A dimension, field, source or channel score is
the severity-weighted mean of its rules' scores (high 3, medium 2, low 1), so that a bad email
rate weighs more than a missing postcode; the overall score is the same mean over all rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from dateutil.relativedelta import relativedelta

from lib.security import audit, auth, privacy
from lib.core import settings, warehouse
from lib.core.validation import _cn_mobile_re

DIMENSIONS = ("completeness", "validity", "uniqueness", "consistency", "timeliness", "accuracy")
SEVERITY_WEIGHT = {"high": 3, "medium": 2, "low": 1}
SEVERITIES = tuple(SEVERITY_WEIGHT)


@dataclass(frozen=True)
class Rule:
    rule_id: str
    dimension: str
    severity: str
    field: str

    @property
    def query(self) -> str:
        return f"stw_rule_{self.rule_id}"

    def sql(self) -> str:
        return warehouse.query(self.query)


RULES: tuple[Rule, ...] = (
    Rule("name_present", "completeness", "high", "full_name"),
    Rule("contact_present", "completeness", "high", "mobile"),
    Rule("birth_date_present", "completeness", "low", "birth_date"),
    Rule("address_present", "completeness", "medium", "address"),
    Rule("company_present", "completeness", "medium", "company"),
    Rule("mobile_valid", "validity", "high", "mobile"),
    Rule("email_valid", "validity", "high", "email"),
    Rule("postcode_valid", "validity", "medium", "postcode"),
    Rule("birth_date_plausible", "validity", "high", "birth_date"),
    Rule("uscc_valid", "validity", "medium", "uscc"),
    Rule("import_value_rejected", "validity", "medium", "record"),
    Rule("mobile_unique", "uniqueness", "medium", "mobile"),
    Rule("email_unique", "uniqueness", "medium", "email"),
    Rule("id_number_unique", "uniqueness", "high", "id_number"),
    Rule("born_before_registration", "consistency", "high", "birth_date"),
    Rule("updated_after_registration", "consistency", "low", "updated_at"),
    Rule("pinyin_present", "consistency", "low", "full_name"),
    Rule("refund_within_amount", "consistency", "medium", "orders"),
    Rule("not_stale", "timeliness", "low", "updated_at"),
    Rule("mobile_not_placeholder", "accuracy", "medium", "mobile"),
    Rule("email_domain_plausible", "accuracy", "medium", "email"),
    Rule("age_plausible", "accuracy", "low", "birth_date"),
)
RULES_BY_ID = {r.rule_id: r for r in RULES}

# What the drill-down shows as the failing value, per field (whitelist of SQL expressions).
_VALUE_SQL = {
    "full_name": "c.full_name",
    "mobile": "c.mobile",
    "email": "c.email",
    "birth_date": "CAST(c.birth_date AS VARCHAR)",
    "address": "concat_ws(' ', c.city, c.address)",
    "company": "c.company",
    "postcode": "c.postcode",
    "uscc": "c.uscc",
    "id_number": "c.id_number_last4",
    "updated_at": "CAST(greatest(c.updated_at, coalesce(c.verified_at, c.updated_at)) AS VARCHAR)",
    "record": "CAST(c.raw_values AS VARCHAR)",
    "orders": "NULL",
}


def _wrap(template: str, rule: Rule) -> str:
    return warehouse.query(template).replace("__RULE__", rule.sql())


def rule_params(as_of: date | None = None) -> dict:
    """Bound parameters every rule may use."""
    as_of = as_of or settings.as_of()
    months = int(settings.get("stale_after_months"))
    stale_before = datetime.combine(as_of, datetime.min.time()) - relativedelta(months=months)
    return {"as_of": as_of, "stale_before": stale_before, "cn_mobile": _cn_mobile_re().pattern}


def rules_frame() -> pd.DataFrame:
    return pd.DataFrame([r.__dict__ for r in RULES])


# ---------------------------------------------------------------- runs


@dataclass
class RunResult:
    run_id: int
    customers: int
    overall_score: float | None
    seconds: float
    flags_opened: int
    flags_resolved: int


def run(user: auth.User, as_of: date | None = None) -> RunResult:
    """Evaluate every rule, store the results as a new run and synchronise the flags."""
    auth.require(user, "run_quality")
    return _run(user, as_of)


@warehouse.retrying
def _run(user: auth.User, as_of: date | None) -> RunResult:
    started = time.perf_counter()
    params = rule_params(as_of)
    with warehouse.transaction() as tx:
        run_id = int(tx.scalar("stw_q_run_start", username=user.username))
        tx.run("stw_q_run_failures_table")
        tx.run("stw_q_run_failures_clear")
        parts = []
        for rule in RULES:
            # One scan per rule: counts per source/channel plus the failing ids as a list.
            tx.run(warehouse.raw_sql(warehouse.query("stw_q_rule_agg_into").replace("__RULE__", rule.sql())), **params)
            tx.run("stw_q_collect_failures", rule_id=rule.rule_id)
            agg = tx.df("stw_q_rule_agg_counts")
            agg = agg.assign(rule_id=rule.rule_id, dimension=rule.dimension, severity=rule.severity, field=rule.field)
            parts.append(agg)
        results = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        results = results.astype({"checked": "int64", "failed": "int64"})
        tx.register("stw_results", results)
        tx.register("stw_rule_meta", rules_frame())
        try:
            tx.run("stw_q_insert_results", run_id=run_id)
            opened = tx.scalar("stw_q_open_flags", run_id=run_id)
            resolved = tx.scalar("stw_q_resolve_passing_flags", run_id=run_id, rule_ids=[r.rule_id for r in RULES])
        finally:
            tx.unregister("stw_results")
            tx.unregister("stw_rule_meta")
        customers = int(tx.scalar("stw_q_live_customers"))
        overall = overall_score(results)
        seconds = time.perf_counter() - started
        tx.run("stw_q_run_finish", run_id=run_id, customers=customers, overall_score=overall, seconds=seconds)
        tx.run("stw_q_run_failures_clear")
        audit.record(
            tx,
            user,
            "quality.run",
            "quality_run",
            run_id,
            detail={
                "customers": customers,
                "overall_score": overall,
                "flags_opened": opened,
                "flags_resolved": resolved,
            },
        )
    return RunResult(run_id, customers, overall, seconds, int(opened or 0), int(resolved or 0))


@auth.pii_internal("inside an edit's transaction: re-runs rules; returns rule ids")
def recheck_customer(tx: warehouse.Tx, user: auth.User, customer_id: int) -> list[str]:
    """Within an edit's transaction: resolve the customer's open rule flags that pass now.
    Returns the rule ids that still fail."""
    params = rule_params()
    still: list[str] = []
    for flag in tx.df("stw_q_open_flags_for_customer", customer_id=customer_id).to_dict("records"):
        if flag["kind"] != "rule" or flag["rule_id"] not in RULES_BY_ID:
            continue
        rule = RULES_BY_ID[flag["rule_id"]]
        failing = tx.df(warehouse.raw_sql(_wrap("stw_q_failing_for_customer", rule)), customer_id=customer_id, **params)
        if failing.empty:
            tx.run(
                "stw_flag_set_status",
                flag_id=flag["flag_id"],
                status="resolved",
                username=user.username,
                reason=None,
                version=None,
            )
        else:
            still.append(rule.rule_id)
    return still


# ---------------------------------------------------------------- scores


def _weighted(frame: pd.DataFrame, by: list[str] | None) -> pd.DataFrame | float | None:
    """Severity-weighted mean of rule scores (each rule's failed/checked summed over the group)."""
    if frame.empty:
        return None if by is None else pd.DataFrame(columns=(by or []) + ["score", "checked", "failed"])
    keys = (by or []) + ["rule_id", "severity"]
    per_rule = frame.groupby(keys, as_index=False)[["checked", "failed"]].sum()
    per_rule = per_rule[per_rule["checked"] > 0]
    per_rule["score"] = 1 - per_rule["failed"] / per_rule["checked"]
    per_rule["w"] = per_rule["severity"].map(SEVERITY_WEIGHT)
    per_rule["ws"] = per_rule["score"] * per_rule["w"]
    if by is None:
        return float(per_rule["ws"].sum() / per_rule["w"].sum()) if len(per_rule) else None
    g = per_rule.groupby(by, as_index=False).agg(
        ws=("ws", "sum"), w=("w", "sum"), checked=("checked", "sum"), failed=("failed", "sum")
    )
    g["score"] = g["ws"] / g["w"]
    return g.drop(columns=["ws", "w"])


def overall_score(results: pd.DataFrame) -> float | None:
    return _weighted(results, None)


def latest_run() -> dict | None:
    runs = warehouse.read("stw_q_runs", limit=1)
    return None if runs.empty else runs.iloc[0].to_dict()


def runs(limit: int = 50) -> pd.DataFrame:
    return warehouse.read("stw_q_runs", limit=limit)


def results(run_id: int) -> pd.DataFrame:
    return warehouse.read("stw_q_results", run_id=int(run_id))


@dataclass
class Scorecard:
    run: dict
    overall: float | None
    by_dimension: pd.DataFrame
    by_field: pd.DataFrame
    by_source: pd.DataFrame
    by_channel: pd.DataFrame
    by_rule: pd.DataFrame
    by_source_dimension: pd.DataFrame
    trend: pd.DataFrame


def scorecard(run_id: int | None = None) -> Scorecard | None:
    """Everything the scorecard page shows, for one run (default: the latest)."""
    run_row = (
        latest_run()
        if run_id is None
        else next((r for r in runs(1000).to_dict("records") if r["run_id"] == run_id), None)
    )
    if run_row is None:
        return None
    res = results(run_row["run_id"])
    by_rule = res.groupby(["rule_id", "dimension", "severity", "field"], as_index=False)[["checked", "failed"]].sum()
    by_rule["score"] = 1 - by_rule["failed"] / by_rule["checked"].where(by_rule["checked"] > 0)
    by_rule["sev_rank"] = by_rule["severity"].map({"high": 0, "medium": 1, "low": 2})
    by_rule = by_rule.sort_values(["score", "sev_rank"]).drop(columns="sev_rank").reset_index(drop=True)
    dim = _weighted(res, ["dimension"])
    dim["order"] = dim["dimension"].map({d: i for i, d in enumerate(DIMENSIONS)})
    dim = dim.sort_values("order").drop(columns="order").reset_index(drop=True)
    trend_src = warehouse.read("stw_q_results_all_runs")
    trend_rows = []
    for rid, g in trend_src.groupby("run_id"):
        row = {"run_id": rid, "started_at": g["started_at"].iloc[0], "overall": _weighted(g, None)}
        for d, s in _weighted(g, ["dimension"])[["dimension", "score"]].itertuples(index=False):
            row[d] = s
        trend_rows.append(row)
    return Scorecard(
        run=run_row,
        overall=overall_score(res),
        by_dimension=dim,
        by_field=_weighted(res, ["field"]).sort_values("score").reset_index(drop=True),
        by_source=_weighted(res, ["source"]).sort_values("score").reset_index(drop=True),
        by_channel=_weighted(res, ["channel"]).sort_values("score").reset_index(drop=True),
        by_rule=by_rule,
        by_source_dimension=_weighted(res, ["source", "dimension"]),
        trend=pd.DataFrame(trend_rows),
    )


@auth.pii_reader("run_quality")
def failing_records(
    user: auth.User, rule_id: str, *, source: str | None = None, channel: str | None = None, limit: int = 200
) -> pd.DataFrame:
    """The records failing a rule now, with their keys (customer_id, source, source_record_id)."""
    auth.require(user, "run_quality")
    rule = RULES_BY_ID.get(rule_id)
    if rule is None:
        raise ValueError(f"Unknown rule {rule_id!r}")
    sql = _wrap("stw_q_drilldown", rule).replace("__VALUE__", _VALUE_SQL[rule.field])
    frame = warehouse.read(warehouse.raw_sql(sql), source=source, channel=channel, limit=int(limit), **rule_params())
    frame["value"] = [
        privacy.mask_value(user, v, rule.field) if isinstance(v, str) else v for v in frame["value"].tolist()
    ]
    return frame


@auth.pii_reader("view_customer")
def open_flags(user: auth.User, customer_id: int) -> pd.DataFrame:
    """Open flags of one customer, their details masked for the user (judged by each flag's
    field: a rejected ID number is always masked, a rejected e-mail unless contacts may be seen)."""
    auth.require(user, "view_customer")
    frame = warehouse.read("stw_q_open_flags_for_customer", customer_id=int(customer_id))
    frame["detail"] = [
        privacy.mask_value(user, d, f) if isinstance(d, str) else d
        for d, f in zip(frame["detail"].tolist(), frame["field"].tolist())
    ]
    return frame
