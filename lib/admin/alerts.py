"""Alerts: rules with thresholds, evaluated on every audited action and after every job.

Rules (thresholds are run-time settings, lib/core/settings.py, changed on the settings page):

| rule | fires when | evaluated on |
|---|---|---|
| quality_drop | the quality score or a dimension falls by more than `alert_quality_drop_points` between two runs | `quality.run` |
| churn_rise | the share of high churn risk rises by more than `alert_churn_rise_points` between two scorings | `churn.score` |
| job_failed | a scheduled job (snapshot included) ends `failed` | `on_job_finished(run)` |
| job_overdue | a job's last success is older than its interval plus `alert_job_grace_hours` | `check_overdue(...)` |
| mass_export | one user exports/downloads more than `alert_export_rows_per_hour` rows within an hour | exports, downloads |
| reveal_burst | more than `alert_reveals_max` ID reveals by one user within `alert_reveals_minutes` | `pii.reveal` |
| off_hours | a login or personal-data read outside working hours (when `off_hours_enabled`) | logins, PII reads |
| failed_logins | `alert_failed_logins_max` failed logins for one username within `alert_failed_logins_minutes` | `login.failed` |
| dormant_access | an attempt by a disabled account, or a login after `alert_idle_days` without activity | logins, access |

The audit log calls `on_audit(entry)` after each entry commits (lib/security/audit.SUBSCRIBERS).
Only the rules registered for that action run (ACTION_RULES; most actions run none), and each
reads the audit log through a query bounded by time first (the log is stored in time order, so
DuckDB skips older row groups), then by user and action. Evaluation never fails the audited
action: an error is logged.

One open alert per rule and subject within `alert_dedup_minutes`: a repeat adds to its
occurrences. A new alert is sent to the configured SMTP server and/or webhook
(lib/admin/notify.py) in a background thread; the outcome is stored on the alert.

Who sees what (enforced here): admins (`manage_alerts`) every alert; stewards (`view_alerts`)
quality alerts only, and may acknowledge only those.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import pandas as pd

from lib.admin import notify
from lib.core import errors, hooks, i18n, settings, warehouse
from lib.security import audit, auth

log = logging.getLogger(__name__)

CATEGORIES = ("quality", "marketing", "operations", "security")
STEWARD_CATEGORIES = ("quality",)


@dataclass(frozen=True)
class Rule:
    category: str
    settings: tuple[str, ...]  # the thresholds it reads (shown on the alerts page)


RULES: dict[str, Rule] = {
    "quality_drop": Rule("quality", ("alert_quality_drop_points",)),
    "churn_rise": Rule("marketing", ("alert_churn_rise_points",)),
    "job_failed": Rule("operations", ()),
    "job_overdue": Rule("operations", ("alert_job_grace_hours",)),
    "mass_export": Rule("security", ("alert_export_rows_per_hour",)),
    "reveal_burst": Rule("security", ("alert_reveals_max", "alert_reveals_minutes")),
    "off_hours": Rule("security", ("off_hours_enabled", "work_hours_start", "work_hours_end", "off_hours_weekends")),
    "failed_logins": Rule("security", ("alert_failed_logins_max", "alert_failed_logins_minutes")),
    "dormant_access": Rule("security", ("alert_idle_days",)),
}

EXPORTS = (
    "download",
    "audience.export",
    "audit.export",
    "dedup.export",
    "churn.export",
    "clv.export",
    "privacy.export",
)
LOGINS = ("login", "login.cookie")
PII_READS = ("customer.view", "pii.reveal", *EXPORTS)
SYSTEM_USERS = frozenset({auth.SYSTEM.username})

# The injectable clock of the off-hours rule (tests set it; everything else uses the entry's time).
clock: Callable[[], datetime] = datetime.now


class JobRun(Protocol):
    """What the scheduler reports when a job ends (lib/core/hooks.JobRun; read-only here)."""

    @property
    def name(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def finished_at(self) -> datetime | None: ...
    @property
    def outcome(self) -> str: ...  # ok | failed | skipped
    @property
    def rows(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def run_id(self) -> Any: ...


@dataclass(frozen=True)
class Raised:
    alert_id: int
    new: bool  # False: an open alert of the same rule and subject was bumped


# ---------------------------------------------------------------- raising and de-duplication


def raise_alert(rule: str, subject: str, severity: str, detail: dict, at: datetime | None = None) -> Raised:
    """Open an alert, or add an occurrence to the open one of this rule and subject seen within
    the de-duplication window. A new alert is delivered (if a target is configured)."""
    if rule not in RULES:
        raise KeyError(f"Unknown alert rule {rule!r}")
    at = at or datetime.now()
    raised = _store(rule, str(subject)[:200], severity, detail, at)
    if raised.new:
        dispatch(raised.alert_id)
    return raised


@warehouse.retrying
def _store(rule: str, subject: str, severity: str, detail: dict, at: datetime) -> Raised:
    window = timedelta(minutes=int(settings.get("alert_dedup_minutes")))
    with warehouse.transaction() as tx:
        current = tx.one("alerts_open_for", rule=rule, subject=subject, since=at - window)
        if current is not None:
            tx.run("alerts_bump", alert_id=current["alert_id"], at=at, detail=audit.to_json(detail))
            return Raised(int(current["alert_id"]), False)
        alert_id = tx.scalar(
            "alerts_insert",
            rule=rule,
            category=RULES[rule].category,
            severity=severity,
            subject=subject,
            at=at,
            detail=audit.to_json(detail),
        )
    return Raised(int(alert_id), True)


# ---------------------------------------------------------------- delivery

_deliveries: list[threading.Thread] = []
_deliveries_lock = threading.Lock()


def dispatch(alert_id: int) -> None:
    """Send a new alert to the configured targets in a background thread (the action that
    raised it does not wait for a mail server); the outcome is written on the alert."""
    targets = notify.targets()
    if not targets.any():
        return
    where = warehouse.current_location().url
    thread = threading.Thread(target=_deliver, args=(alert_id, targets, where), name=f"alert-{alert_id}", daemon=True)
    with _deliveries_lock:
        _deliveries[:] = [t for t in _deliveries if t.is_alive()]
        _deliveries.append(thread)
    thread.start()


def wait_for_deliveries(timeout: float = 30.0) -> None:
    """Wait until the deliveries started so far have ended (tests, jobs before they exit)."""
    with _deliveries_lock:
        pending = list(_deliveries)
    for thread in pending:
        thread.join(timeout)


def _deliver(alert_id: int, targets: notify.Targets, where: str) -> None:
    try:
        if warehouse.current_location().url != where:
            return  # the process moved to another warehouse meanwhile (tests)
        row = warehouse.one("alerts_by_id", alert_id=alert_id)
        if row is None:
            return
        outcome = notify.deliver(notify.Message.of(row), targets)
        _write_delivery(alert_id, outcome)
    except Exception as exc:  # noqa: BLE001 - a delivery problem is recorded, never raised
        log.warning("alert %s: delivery failed: %s", alert_id, exc)
        try:
            _write_delivery(alert_id, {"error": str(exc)[:300]})
        except Exception:  # noqa: BLE001
            log.exception("alert %s: could not record the delivery failure", alert_id)


@warehouse.retrying
def _write_delivery(alert_id: int, outcome: dict) -> None:
    with warehouse.transaction() as tx:
        tx.run("alerts_set_delivery", alert_id=alert_id, delivery=audit.to_json(outcome))


# ---------------------------------------------------------------- rules on audited actions


def _rows_exported(entry: audit.Entry) -> None:
    limit = int(settings.get("alert_export_rows_per_hour"))
    since = entry.at - timedelta(hours=1)
    found = warehouse.one("alerts_rows_exported", username=entry.username, since=since) or {}
    rows = int(found.get("exported_rows") or 0)
    if rows > limit:
        raise_alert(
            "mass_export",
            entry.username,
            "high",
            {"rows": rows, "exports": int(found.get("exports") or 0), "threshold": limit, "window_minutes": 60},
            entry.at,
        )


def _reveal_burst(entry: audit.Entry) -> None:
    most, minutes = int(settings.get("alert_reveals_max")), int(settings.get("alert_reveals_minutes"))
    since = entry.at - timedelta(minutes=minutes)
    count = int(warehouse.scalar("alerts_action_count", username=entry.username, action="pii.reveal", since=since))
    if count > most:
        raise_alert(
            "reveal_burst",
            entry.username,
            "high",
            {"reveals": count, "threshold": most, "window_minutes": minutes},
            entry.at,
        )


def _failed_logins(entry: audit.Entry) -> None:
    most, minutes = int(settings.get("alert_failed_logins_max")), int(settings.get("alert_failed_logins_minutes"))
    since = entry.at - timedelta(minutes=minutes)
    count = int(warehouse.scalar("alerts_action_count", username=entry.username, action="login.failed", since=since))
    if count >= most:
        raise_alert(
            "failed_logins",
            entry.username,
            "medium",
            {"failures": count, "threshold": most, "window_minutes": minutes},
            entry.at,
        )


def off_hours(moment: datetime) -> bool:
    """Is `moment` outside the configured working hours (or on a weekend, when those count)?"""
    values = settings.get_many("work_hours_start", "work_hours_end", "off_hours_weekends")
    if values["off_hours_weekends"] and moment.weekday() >= 5:
        return True
    return not int(values["work_hours_start"]) <= moment.hour < int(values["work_hours_end"])


def _off_hours(entry: audit.Entry, now: datetime | None) -> None:
    if entry.username in SYSTEM_USERS or not settings.get("off_hours_enabled"):
        return
    moment = now or clock()
    if off_hours(moment):
        raise_alert(
            "off_hours",
            entry.username,
            "medium",
            {"action": entry.action, "at": moment.isoformat(timespec="minutes"), "record": entry.entity_id},
            entry.at,
        )


def _dormant(entry: audit.Entry) -> None:
    if entry.username in SYSTEM_USERS:
        return
    account = next((r for r in auth.user_rows(auth.SESSION_RECHECK_SECONDS) if r["username"] == entry.username), None)
    if account is None:
        return
    if account["disabled"]:
        raise_alert("dormant_access", entry.username, "high", {"action": entry.action, "reason": "disabled"}, entry.at)
        return
    if entry.action != "login":
        return
    days = int(settings.get("alert_idle_days"))
    before = warehouse.one("alerts_activity_before", username=entry.username)
    if before is None:
        return
    last = before["last_seen"] or before["created_at"]
    if last is not None and last < entry.at - timedelta(days=days):
        raise_alert(
            "dormant_access",
            entry.username,
            "medium",
            {
                "action": entry.action,
                "reason": "idle",
                "idle_days": (entry.at - last).days,
                "threshold": days,
                "last_activity": last,
            },
            entry.at,
        )


def _quality(entry: audit.Entry) -> None:
    check_quality()


def _churn(entry: audit.Entry) -> None:
    check_churn()


Check = Callable[[audit.Entry], None]
ACTION_RULES: dict[str, tuple[Check, ...]] = {}


def _on(actions: Iterable[str], check: Check) -> None:
    for action in actions:
        ACTION_RULES[action] = ACTION_RULES.get(action, ()) + (check,)


_on(EXPORTS, _rows_exported)
_on(["pii.reveal"], _reveal_burst)
_on(["login.failed"], _failed_logins)
_on([*LOGINS, "login.failed", "access.denied", *PII_READS], _dormant)
_on(["quality.run"], _quality)
_on(["churn.score"], _churn)
OFF_HOURS_ACTIONS = frozenset((*LOGINS, *PII_READS))


def evaluate(entry: audit.Entry, now: datetime | None = None) -> None:
    """Run the rules registered for this entry's action (none for most actions). `now` is the
    clock of the off-hours rule (default `clock()`)."""
    for check in ACTION_RULES.get(entry.action, ()):
        check(entry)
    if entry.action in OFF_HOURS_ACTIONS:
        _off_hours(entry, now)


@audit.after_record
def on_audit(entry: audit.Entry) -> None:
    """The audit log's subscriber: evaluate, and never let a rule fail the audited action."""
    if entry.action not in ACTION_RULES and entry.action not in OFF_HOURS_ACTIONS:
        return
    try:
        evaluate(entry)
    except Exception as exc:  # noqa: BLE001 - an alert rule must never break the action
        log.warning("alert rules failed on %s by %s: %s", entry.action, entry.username, exc)


def replay(
    since: datetime, until: datetime | None = None, off_hours_clock: Callable[[], datetime] | None = None
) -> int:
    """Evaluate the rules on every audit entry written in [since, until), each at its own time
    (off-hours by the entry's time, or by `off_hours_clock`): a catch-up after downtime, and the
    demo's quiet check. Returns the number of entries evaluated."""
    entries = warehouse.records("alerts_audit_between", since=since, until=until or datetime.now())
    for row in entries:
        entry = audit.Entry(
            row["username"],
            frozenset((row["roles"] or "").split(",")) - {""},
            row["action"],
            row["entity"],
            row["entity_id"],
            None,
            row["occurred_at"],
        )
        evaluate(entry, now=off_hours_clock() if off_hours_clock else row["occurred_at"])
    return len(entries)


# ---------------------------------------------------------------- rules on results


def check_quality() -> list[Raised]:
    """Compare the latest finished quality run with the one before: overall and per dimension
    (severity-weighted as on the scorecard), in points (score × 100)."""
    runs = warehouse.records("alerts_quality_last_two_runs")
    if len(runs) < 2:
        return []
    latest, previous = runs
    points = float(settings.get("alert_quality_drop_points"))
    now_scores = _dimension_scores(latest["run_id"])
    before_scores = _dimension_scores(previous["run_id"])
    now_scores["overall"] = latest["overall_score"]
    before_scores["overall"] = previous["overall_score"]
    raised = []
    for subject, score in now_scores.items():
        was = before_scores.get(subject)
        if score is None or was is None:
            continue
        drop = round((float(was) - float(score)) * 100, 2)
        if drop > points:
            raised.append(
                raise_alert(
                    "quality_drop",
                    subject,
                    "high" if drop > 2 * points else "medium",
                    {
                        "drop_points": drop,
                        "threshold": points,
                        "before": round(float(was) * 100, 2),
                        "after": round(float(score) * 100, 2),
                        "run_id": int(latest["run_id"]),
                        "previous_run_id": int(previous["run_id"]),
                    },
                )
            )
    return raised


def _dimension_scores(run_id: int) -> dict[str, float | None]:
    return {r["dimension"]: r["score"] for r in warehouse.records("alerts_quality_dimension_scores", run_id=run_id)}


def check_churn() -> list[Raised]:
    """Compare the share of high churn risk now (churn_scores) with the previous scoring's (its
    `churn.score` audit entry's tier counts), in percentage points."""
    now = warehouse.one("alerts_churn_high_share") or {}
    scored = int(now.get("scored") or 0)
    entries = warehouse.records("alerts_churn_scorings")
    if scored == 0 or len(entries) < 2:
        return []
    tiers = _json(entries[1]["detail"]).get("tiers") or {}
    before_total = sum(int(v) for v in tiers.values())
    if before_total == 0:
        return []
    share_now = 100 * int(now.get("high") or 0) / scored
    share_before = 100 * int(tiers.get("high", 0)) / before_total
    rise = round(share_now - share_before, 2)
    points = float(settings.get("alert_churn_rise_points"))
    if rise <= points:
        return []
    return [
        raise_alert(
            "churn_rise",
            "high_risk_share",
            "medium",
            {
                "rise_points": rise,
                "threshold": points,
                "before": round(share_before, 2),
                "after": round(share_now, 2),
                "scored": scored,
            },
        )
    ]


def _json(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    return json.loads(value) if value else {}


# ---------------------------------------------------------------- rules on jobs


@hooks.after_job
def after_job(run: hooks.JobRun) -> None:
    """The scheduler's hook (lib/core/hooks.JOB_SUBSCRIBERS): the failed-job rule for this run,
    then the overdue rule for every job, so an hourly job keeps checking the nightly ones."""
    on_job_finished(run)
    jobs_overdue(run.finished_at or datetime.now())


def jobs_overdue(now: datetime | None = None) -> list[Raised]:
    """`check_overdue` over every enabled job of this deployment, each job's interval being the
    gap between its scheduled times around `now` (lib/admin/jobs.py)."""
    from lib.admin import jobs  # the runner imports the areas' jobs; only needed here

    now = now or datetime.now()
    plan = jobs.schedules()
    last: dict[str, datetime | None] = {}
    every: dict[str, timedelta] = {}
    for name, spec in jobs.specs().items():
        cron, enabled = plan[name]
        previous, following = jobs.last_due(cron, now), jobs.next_run(cron, now)
        if not enabled or not jobs.applies(spec) or previous is None or following is None:
            continue
        every[name] = following - previous
        last[name] = jobs.last_success(name)
    return check_overdue(last, every, now)


def on_job_finished(run: JobRun) -> Raised | None:
    """After every job (the scheduler's `after_job` hook): a failed job (snapshot, restore
    drill ...) raises `job_failed`. The quality and churn rules run on their own audit entries."""
    if run.outcome != "failed":
        return None
    return raise_alert(
        "job_failed",
        run.name,
        "high",
        {
            "run_id": None if run.run_id is None else str(run.run_id),
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "error": (run.error or "")[:500],
        },
        run.finished_at or datetime.now(),
    )


def check_overdue(
    last_success_by_job: Mapping[str, datetime | None],
    schedule: Mapping[str, timedelta],
    now: datetime | None = None,
    running_since: datetime | None = None,
) -> list[Raised]:
    """Raise `job_overdue` for each scheduled job whose last success is older than its interval
    (`schedule[name]`, e.g. 24 h for a nightly job) plus `alert_job_grace_hours`. A job that
    never succeeded is overdue once the scheduler has run (`running_since`) that long."""
    now = now or datetime.now()
    grace = timedelta(hours=int(settings.get("alert_job_grace_hours")))
    raised = []
    for name, every in schedule.items():
        last = last_success_by_job.get(name)
        reference = last or running_since
        if reference is None or now - reference <= every + grace:
            continue
        late = now - reference - every
        raised.append(
            raise_alert(
                "job_overdue",
                name,
                "medium",
                {
                    "last_success": last,
                    "every_hours": round(every.total_seconds() / 3600, 2),
                    "late_hours": round(late.total_seconds() / 3600, 1),
                    "grace_hours": int(grace.total_seconds() // 3600),
                },
                now,
            )
        )
    return raised


# ---------------------------------------------------------------- the inbox


def _visible(user: auth.User) -> tuple[str, ...] | None:
    """Categories the user may see: None = all (admin)."""
    return None if auth.can(user, "manage_alerts") else STEWARD_CATEGORIES


def inbox(user: auth.User, status: str | None = "open", limit: int = 500) -> pd.DataFrame:
    """Alerts the user may see, newest first: every one for admins, quality ones for stewards.
    `status`: open, acknowledged, or None for both."""
    auth.require(user, "view_alerts")
    if status not in (None, "open", "acknowledged"):
        raise errors.ValidationError(f"Unknown alert status {status!r}.")
    visible = _visible(user)
    frame = warehouse.read("alerts_list", status=status, limit=int(limit), quality_only=visible is not None)
    return frame


class AlertError(errors.ValidationError):
    """An acknowledgement the inbox cannot take (no note, already acknowledged)."""


@warehouse.retrying
def acknowledge(user: auth.User, alert_id: int, note: str) -> dict:
    """Acknowledge an open alert with a note (3-500 characters), audited as `alert.acknowledge`.
    Stewards may acknowledge quality alerts only (others are refused and the refusal audited)."""
    auth.require(user, "view_alerts")
    row = warehouse.one("alerts_by_id", alert_id=int(alert_id))
    if row is None or (row["category"] not in STEWARD_CATEGORIES and not auth.can(user, "manage_alerts")):
        if row is not None:
            auth.require(user, "manage_alerts")  # audited refusal
        raise errors.NotFoundError(f"Alert {alert_id} does not exist.")
    text = (note or "").strip()
    if not 3 <= len(text) <= 500:
        raise AlertError("Write a note of 3 to 500 characters: what was checked, what was done.")
    with warehouse.transaction() as tx:
        # read again inside the transaction: two people acknowledging at once conflict on the row
        # (retried), and the second one then finds it acknowledged
        if (tx.one("alerts_by_id", alert_id=int(alert_id)) or {}).get("status") != "open":
            raise errors.ConflictError(f"Alert {alert_id} was already acknowledged.")
        tx.run("alerts_acknowledge", alert_id=int(alert_id), username=user.username, note=text)
        audit.record(
            tx,
            user,
            "alert.acknowledge",
            "alert",
            alert_id,
            before={"status": "open"},
            after={"status": "acknowledged", "note": text},
            detail={"rule": row["rule"], "subject": row["subject"], "category": row["category"]},
        )
    return {**row, "status": "acknowledged", "acknowledged_by": user.username, "note": text}


def describe(row: Mapping[str, Any]) -> str:
    """One line on what an alert measured, in the current language (figures from its detail)."""
    detail = _json(row.get("detail"))
    rule = row.get("rule", "")
    key = f"alerts.summary.{rule}"
    if rule == "dormant_access":
        key += f".{detail.get('reason', 'idle')}"
    if rule == "off_hours" and "action" in detail:
        detail = {**detail, "at": str(detail.get("at", "")).replace("T", " ")}
    try:
        return i18n.t(key, **detail) if i18n.has(key) else json.dumps(detail, ensure_ascii=False, default=str)
    except (KeyError, ValueError, TypeError, IndexError):
        return json.dumps(detail, ensure_ascii=False, default=str)


def rules_overview(user: auth.User) -> pd.DataFrame:
    """Every rule with its category and the thresholds in force (admin: the alerts page)."""
    auth.require(user, "manage_alerts")
    rows = []
    for name, rule in RULES.items():
        values = settings.get_many(*rule.settings) if rule.settings else {}
        rows.append(
            {
                "rule": name,
                "category": rule.category,
                "thresholds": ", ".join(f"{i18n.t(f'settings.name.{k}')} = {_shown(v)}" for k, v in values.items()),
            }
        )
    return pd.DataFrame(rows)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return i18n.t("settings.yes" if value else "settings.no")
    if isinstance(value, (int, float)):
        return f"{value:,g}" if isinstance(value, float) else f"{value:,}"
    return str(value)


def counts(user: auth.User) -> dict[str, int]:
    """Open, open-and-high and acknowledged alerts the user may see (KPI cards)."""
    auth.require(user, "view_alerts")
    row = warehouse.one("alerts_counts", quality_only=_visible(user) is not None) or {}
    return {k: int(row.get(k) or 0) for k in ("open", "high", "acknowledged")}
