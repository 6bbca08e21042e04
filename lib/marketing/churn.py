"""Churn risk: a scikit-learn model trained on the warehouse's own history, time-split.

Label: a customer (at least one purchase before the cutoff) *churns* when they make no
purchase within the next ``horizon_days`` days after the cutoff.

Features (lib/core/sql/marketing_models.sql ``churn_features``) use only rows strictly before the
cutoff: recency, frequency, monetary, average order value, orders in the last 90 days and the
90 before (trend), spend in 365 days, tenure, average gap between orders, refund ratio,
categories, browsing and carts, complaints, consults and returns in 365 days, days since the
last event, age, acquisition channel, customer type, gender. (Profile fields are their current
values; they rarely change and never encode the label.)

Time-based split, for a model trained "as of" day D (all data used is on or before D):

    train_cutoff = D + 1 - 2N      features before it, labels in [train_cutoff, +N)
    eval_cutoff  = D + 1 - N       features before it, labels in [eval_cutoff, D + 1)

The model is fitted on the train rows and evaluated on the holdout rows (a later period):
ROC AUC, precision at the top k (10 %), Brier score, calibration bins and permutation
importance, all next to the same figures for a plain recency baseline (the longer since the
last purchase, the riskier). The evaluated model is the one stored (``churn_models``, with its
metrics) and used for scoring, so its numbers describe exactly what scores customers.

Features with no information in the training rows (empty or constant, e.g. every browsing
count on a warehouse of orders alone, or age when no birth dates were given) are dropped
before fitting (HistGradientBoosting fails on an all-NaN column) and named in the model's
notes (``dropped_features``, ``notes``). Before any feature is computed, the history is
checked: when it is too short for the horizon (fewer than 50 purchasers before the training
cutoff, or a window in which everyone or no one bought again) the error names the longest
standard horizon, or the as-of date, that would work.

Scoring as of day D reads features before D + 1 for every purchaser in batches of customer
ids, writes ``churn_scores`` (probability, tier, top reasons) in one transaction. Tiers use
thresholds fixed at training time from the holdout: high = top 20 % of holdout probabilities,
medium = the next 30 %. Reasons: for each group of features, how much the probability drops
when the group is set to the typical value of retained customers; the top three groups that
raise the risk by at least one percentage point (high and medium tiers only).
"""

from __future__ import annotations

import json
import math
import pickle
import time
from datetime import date, timedelta
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import brier_score_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from lib.security import audit, auth
from lib.core import settings, warehouse
from lib.marketing.queries import cutoff, fast_frame, top_rows, write_export

NUMERIC = [
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "orders_90d",
    "orders_prev_90d",
    "order_trend",
    "spend_365d",
    "tenure_days",
    "avg_gap_days",
    "refund_ratio",
    "categories",
    "browse_30d",
    "browse_90d",
    "carts_90d",
    "complaints_365d",
    "consults_365d",
    "returns_365d",
    "days_since_event",
    "age",
]
CATEGORICAL = ["channel", "customer_type", "gender"]
FEATURES = NUMERIC + CATEGORICAL

# reason code (i18n marketing.reason.<code>) -> the features it stands for
REASON_GROUPS: dict[str, list[str]] = {
    "recency": ["recency_days", "days_since_event"],
    "frequency": ["frequency", "avg_gap_days"],
    "spend": ["monetary", "avg_order_value", "spend_365d"],
    "declining": ["orders_90d", "orders_prev_90d", "order_trend"],
    "engagement": ["browse_30d", "browse_90d", "carts_90d"],
    "complaints": ["complaints_365d", "consults_365d"],
    "returns": ["returns_365d", "refund_ratio"],
    "tenure": ["tenure_days"],
}
REASON_MIN_DELTA = 0.01
TOP_K_SHARE = 0.10
TIER_HIGH_SHARE, TIER_MEDIUM_SHARE = 0.20, 0.30
MAX_TRAIN_ROWS = 200_000
IMPORTANCE_ROWS = 20_000
SCORE_BATCH = 250_000
DEFAULT_HORIZON = 90

Progress = Callable[[float, str], None]


def _quiet(fraction: float, message: str) -> None:
    """Default progress callback: nothing to show."""


def _threads(rows: int):
    """One OpenMP thread for scikit-learn. The app shares its cores with Streamlit sessions and
    DuckDB; OpenMP's spin-waiting threads degrade badly when cores are busy (on the shared
    2-core bench host a 100k-row fit took 160 s with two threads under load, see
    docs/benchmarks.md), and below ~100k rows thread start-up costs more than it saves."""
    return threadpool_limits(limits=1, user_api="openmp")


# ---------------------------------------------------------------- features and labels


def _windows(as_of: date, horizon_days: int) -> tuple[date, date]:
    end = cutoff(as_of).date()
    eval_cutoff = end - timedelta(days=horizon_days)
    return eval_cutoff - timedelta(days=horizon_days), eval_cutoff


def _sample(population: int, max_rows: int) -> tuple[int, int]:
    if population <= max_rows:
        return 1, 1
    return 10_000, max(1, math.floor(10_000 * max_rows / population))


@auth.pii_internal("model features (channel, type, gender, age); returns them to the trainer only")
def features(
    tx: warehouse.Tx,
    cutoff_day: date,
    *,
    sample: tuple[int, int] = (1, 1),
    id_range: tuple[int, int] = (-(2**62), 2**62),
) -> pd.DataFrame:
    """Feature rows of every purchaser before the cutoff (00:00 of cutoff_day)."""
    frame = fast_frame(
        tx,
        warehouse.query("churn_features"),
        cutoff=cutoff_day,
        sample_mod=sample[0],
        sample_keep=sample[1],
        id_lo=id_range[0],
        id_hi=id_range[1],
    )
    for col in CATEGORICAL:
        frame[col] = frame[col].astype("object").where(frame[col].notna(), None)
    return frame


def labels(tx: warehouse.Tx, frame: pd.DataFrame, cutoff_day: date, horizon_days: int) -> np.ndarray:
    """1 = no purchase in [cutoff, cutoff + horizon), else 0, aligned with frame rows."""
    buyers = fast_frame(tx, warehouse.query("churn_buyers_in_window"), cutoff=cutoff_day, horizon_days=horizon_days)[
        "customer_id"
    ]
    return (~frame["customer_id"].isin(set(buyers.tolist()))).to_numpy().astype(int)


def _matrix(frame: pd.DataFrame, categories: dict[str, list[str]], numeric: list[str] = NUMERIC) -> pd.DataFrame:
    """Model input: the numeric features, then the categorical ones named in categories."""
    X = frame[numeric].astype(float).copy()
    for col, values in categories.items():
        X[col] = pd.Categorical(frame[col], categories=values)
    return X


def informative_features(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(kept, dropped): a feature is dropped when its column is empty or holds one value only
    (a missing value counts as a value, so "age known for some" stays informative)."""
    kept, dropped = [], []
    for col in FEATURES:
        (kept if frame[col].nunique(dropna=False) > 1 else dropped).append(col)
    return kept, dropped


# ---------------------------------------------------------------- history check

HORIZON_CHOICES = (365, 270, 180, 120, 90, 60, 45, 30, 21, 14, 7)
MIN_TRAIN_ROWS = 50


def _window_ok(tx: warehouse.Tx, cutoff_day: date, horizon_days: int) -> tuple[bool, dict]:
    counts = tx.one("churn_window_counts", cutoff=cutoff_day, horizon_days=horizon_days) or {}
    n, churned = int(counts.get("purchasers") or 0), int(counts.get("churned") or 0)
    return n >= MIN_TRAIN_ROWS and 0 < churned < n, {"purchasers": n, "churned": churned}


def _fits(tx: warehouse.Tx, as_of: date, horizon_days: int) -> tuple[bool, dict, dict]:
    train_cut, eval_cut = _windows(as_of, horizon_days)
    ok_train, train = _window_ok(tx, train_cut, horizon_days)
    ok_hold, hold = _window_ok(tx, eval_cut, horizon_days)
    return ok_train and ok_hold, train, hold


def history_problem(tx: warehouse.Tx, as_of: date, horizon_days: int) -> str | None:
    """None when the history supports this horizon as of this date; else a message saying
    why not and which horizon (or as-of date) would work."""
    fits, train, hold = _fits(tx, as_of, horizon_days)
    if fits:
        return None
    train_cut, eval_cut = _windows(as_of, horizon_days)
    span = tx.one("churn_purchase_span") or {}
    first, last = span.get("first_purchase"), span.get("last_purchase")
    if first is None:
        return "No purchases in the warehouse: a churn model needs order history."
    first, last = _day(first), _day(last)
    said = (
        f"Not enough purchase history for a {horizon_days}-day churn horizon as of {as_of}: "
        f"the model trains on customers who bought before {train_cut} and labels them by "
        f"the next {horizon_days} days, then checks itself on the {horizon_days} days from "
        f"{eval_cut}; purchases run from {first} to {last} ({train['purchasers']:,} "
        f"purchasers before {train_cut}, {train['churned']:,} of them churned; "
        f"{hold['purchasers']:,} before {eval_cut}, {hold['churned']:,} churned)."
    )
    tries = [as_of] + ([last] if last < as_of else [])
    for day in tries:
        if day != as_of and _fits(tx, day, horizon_days)[0]:
            return f"{said} The {horizon_days}-day horizon works as of {day} (the last purchase)."
        for h in HORIZON_CHOICES:
            if h < horizon_days and _fits(tx, day, h)[0]:
                at = "" if day == as_of else f" as of {day} (the last purchase)"
                return f"{said} A {h}-day horizon would work{at}."
    return f"{said} No horizon of 7 days or more works on this history."


def _day(value) -> date:
    return value.date() if hasattr(value, "date") and callable(value.date) else value


# ---------------------------------------------------------------- metrics


def precision_at_k(y: np.ndarray, score: np.ndarray, share: float = TOP_K_SHARE) -> float:
    """Share of actual churners among the k highest scores (k = share of rows, at least 1)."""
    k = max(1, int(round(len(y) * share)))
    order = np.argsort(-score, kind="stable")[:k]
    return float(np.mean(y[order]))


def evaluate(y: np.ndarray, proba: np.ndarray, recency: np.ndarray) -> dict:
    prob_true, prob_pred = calibration_curve(y, proba, n_bins=10, strategy="quantile")
    return {
        "auc": float(roc_auc_score(y, proba)),
        "baseline_auc": float(roc_auc_score(y, recency)),
        "precision_at_k": precision_at_k(y, proba),
        "baseline_precision_at_k": precision_at_k(y, recency),
        "brier": float(brier_score_loss(y, proba)),
        "base_rate": float(np.mean(y)),
        "calibration": {"predicted": prob_pred.tolist(), "observed": prob_true.tolist()},
    }


# ---------------------------------------------------------------- training


def train(
    user: auth.User,
    as_of: date | None = None,
    horizon_days: int = DEFAULT_HORIZON,
    *,
    progress: Progress = _quiet,
    max_train_rows: int = MAX_TRAIN_ROWS,
    seed: int = 0,
) -> dict:
    """Fit, evaluate on the later holdout period, store the model version; returns its metrics."""
    auth.require(user, "train_models")
    as_of = as_of or settings.as_of()
    if not 7 <= horizon_days <= 730:
        raise ValueError("horizon_days must be between 7 and 730")
    started = time.perf_counter()
    train_cut, eval_cut = _windows(as_of, horizon_days)
    progress(0.02, "features")
    with warehouse.transaction() as tx:
        problem = history_problem(tx, as_of, horizon_days)
        if problem:
            raise ValueError(problem)
        population = int(tx.scalar("marketing_customer_count"))
        sample = _sample(population, max_train_rows)
        train_rows = features(tx, train_cut, sample=sample)
        y_train = labels(tx, train_rows, train_cut, horizon_days)
        progress(0.25, "features")
        hold_rows = features(tx, eval_cut, sample=sample)
        y_hold = labels(tx, hold_rows, eval_cut, horizon_days)
    if len(train_rows) < MIN_TRAIN_ROWS or len(set(y_train)) < 2 or len(set(y_hold)) < 2:
        raise ValueError(
            "Not enough purchase history before the cutoff to train a churn model "
            f"(training rows: {len(train_rows)}); choose a later as-of date or a shorter horizon."
        )
    feature_seconds = time.perf_counter() - started
    progress(0.45, "fit")
    kept, dropped = informative_features(train_rows)
    numeric = [c for c in NUMERIC if c in kept]
    categories = {col: sorted({v for v in train_rows[col].dropna().unique()}) for col in CATEGORICAL if col in kept}
    if not kept:
        raise ValueError("No feature varies between customers in the training rows: nothing to learn from.")
    notes = (
        [f"Dropped {len(dropped)} feature(s) that are empty or constant in the training rows: {', '.join(dropped)}."]
        if dropped
        else []
    )
    X_train, X_hold = _matrix(train_rows, categories, numeric), _matrix(hold_rows, categories, numeric)
    model = HistGradientBoostingClassifier(
        max_iter=300,
        learning_rate=0.06,
        max_leaf_nodes=31,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=True,
        validation_fraction=0.15,
        n_iter_no_change=20,
        categorical_features="from_dtype",
        random_state=seed,
    )
    fit_started = time.perf_counter()
    with _threads(len(X_train)):
        model.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - fit_started
    progress(0.7, "evaluate")
    with _threads(len(X_hold)):
        proba = model.predict_proba(X_hold)[:, 1]
    metrics = evaluate(y_hold, proba, hold_rows["recency_days"].to_numpy(dtype=float))
    progress(0.8, "importance")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(X_hold), size=min(IMPORTANCE_ROWS, len(X_hold)), replace=False)
    with _threads(len(pick)):
        imp = permutation_importance(
            model, X_hold.iloc[pick], y_hold[pick], scoring="roc_auc", n_repeats=3, random_state=seed
        )
    importance = sorted(
        (
            {"feature": f, "importance": float(m), "std": float(s)}
            for f, m, s in zip(X_hold.columns, imp.importances_mean, imp.importances_std)
        ),
        key=lambda d: -d["importance"],
    )
    retained = X_hold[y_hold == 0]
    reference = {col: float(retained[col].median()) for col in numeric}
    thresholds = {
        "high": float(np.quantile(proba, 1 - TIER_HIGH_SHARE)),
        "medium": float(np.quantile(proba, 1 - TIER_HIGH_SHARE - TIER_MEDIUM_SHARE)),
    }
    bundle = {
        "model": model,
        "categories": categories,
        "reference": reference,
        "thresholds": thresholds,
        "features": list(X_hold.columns),
        "numeric": numeric,
        "dropped": dropped,
        "horizon_days": horizon_days,
    }
    details = {
        **metrics,
        "importance": importance,
        "thresholds": thresholds,
        "features": list(X_hold.columns),
        "dropped_features": dropped,
        "notes": notes,
        "iterations": int(model.n_iter_),
        "sample": list(sample),
        "seconds": {
            "features": round(feature_seconds, 2),
            "fit": round(fit_seconds, 2),
            "total": round(time.perf_counter() - started, 2),
        },
    }
    progress(0.95, "save")
    model_id = _store(
        user,
        as_of,
        horizon_days,
        train_cut,
        eval_cut,
        len(train_rows),
        len(hold_rows),
        metrics,
        details,
        pickle.dumps(bundle),
    )
    progress(1.0, "done")
    return {
        "model_id": model_id,
        "as_of": as_of,
        "horizon_days": horizon_days,
        "train_cutoff": train_cut,
        "eval_cutoff": eval_cut,
        "n_train": len(train_rows),
        "n_holdout": len(hold_rows),
        **details,
    }


@warehouse.retrying
def _store(user, as_of, horizon_days, train_cut, eval_cut, n_train, n_hold, metrics, details, blob) -> int:
    with warehouse.transaction() as tx:
        model_id = int(
            tx.scalar(
                "churn_model_insert",
                trained_by=user.username,
                as_of=as_of,
                horizon_days=horizon_days,
                train_cutoff=train_cut,
                eval_cutoff=eval_cut,
                n_train=n_train,
                n_holdout=n_hold,
                base_rate=metrics["base_rate"],
                auc=metrics["auc"],
                baseline_auc=metrics["baseline_auc"],
                precision_at_k=metrics["precision_at_k"],
                baseline_precision_at_k=metrics["baseline_precision_at_k"],
                k_share=TOP_K_SHARE,
                brier=metrics["brier"],
                metrics=json.dumps(details),
                model_blob=blob,
            )
        )
        audit.record(
            tx,
            user,
            "churn.train",
            "churn_model",
            model_id,
            detail={
                "as_of": as_of,
                "horizon_days": horizon_days,
                "n_train": n_train,
                "n_holdout": n_hold,
                "auc": metrics["auc"],
                "baseline_auc": metrics["baseline_auc"],
            },
        )
    return model_id


def models() -> pd.DataFrame:
    frame = warehouse.read("churn_models_all")
    frame["metrics"] = frame["metrics"].map(lambda m: json.loads(m) if isinstance(m, str) else m)
    return frame


def load(model_id: int | None = None, horizon_days: int | None = None) -> tuple[int, dict]:
    """(model id, bundle) of a stored model; the latest (for the horizon) when no id is given."""
    if model_id is None:
        model_id = warehouse.scalar("churn_latest_model_id", horizon_days=horizon_days)
        if model_id is None:
            raise ValueError(
                "No churn model has been trained yet"
                + (f" for a {horizon_days}-day horizon" if horizon_days else "")
                + ": run `churn train` first."
            )
    row = warehouse.one("churn_model_blob", model_id=int(model_id))
    if row is None:
        raise ValueError(f"No churn model {model_id}.")
    # Trusted input: model blobs are written only by train() above, into our own warehouse.
    return int(model_id), pickle.loads(row["model_blob"])


# ---------------------------------------------------------------- scoring


def predict(bundle: dict, frame: pd.DataFrame, *, with_reasons: bool = True) -> pd.DataFrame:
    """Probability, tier and reasons for feature rows (pure: no warehouse access)."""
    model, categories = bundle["model"], bundle["categories"]
    numeric = bundle.get("numeric", NUMERIC)  # models stored before features were dropped
    X = _matrix(frame, categories, numeric)
    proba = model.predict_proba(X)[:, 1]
    t = bundle["thresholds"]
    tier = np.where(proba >= t["high"], "high", np.where(proba >= t["medium"], "medium", "low"))
    out = pd.DataFrame({"customer_id": frame["customer_id"].to_numpy(), "probability": proba, "risk_tier": tier})
    if not with_reasons:
        out["reasons"] = [[] for _ in range(len(out))]
        return out
    # Reasons explain risk, so only high and medium tiers get them (half the rows; each costs
    # one prediction per reason group).
    explain = np.flatnonzero(tier != "low")
    reasons: list[list[str]] = [[] for _ in range(len(out))]
    if len(explain):
        # a reason group stands for the features the model kept
        codes = [code for code, cols in REASON_GROUPS.items() if set(cols) & set(numeric)]
        Xe = X.iloc[explain]
        deltas = np.empty((len(explain), len(codes)))
        for j, code in enumerate(codes):
            Xr = Xe.copy()
            for col in REASON_GROUPS[code]:
                if col in numeric:
                    Xr[col] = bundle["reference"][col]
            deltas[:, j] = proba[explain] - model.predict_proba(Xr)[:, 1]
        order = np.argsort(-deltas, axis=1)[:, :3]
        top = np.take_along_axis(deltas, order, axis=1)
        names = np.array(codes, dtype=object)[order]
        for row, n, d in zip(explain, names, top):
            reasons[row] = list(n[d >= REASON_MIN_DELTA])
    out["reasons"] = reasons
    return out


def score(
    user: auth.User,
    as_of: date | None = None,
    horizon_days: int | None = None,
    *,
    model_id: int | None = None,
    progress: Progress = _quiet,
    batch_size: int = SCORE_BATCH,
) -> dict:
    """Score every purchaser as of a date with a stored model; replaces churn_scores."""
    auth.require(user, "train_models")
    as_of = as_of or settings.as_of()
    model_id, bundle = load(model_id, horizon_days)
    return _score(user, as_of, model_id, bundle, progress, batch_size)


@warehouse.retrying
def _score(user, as_of, model_id, bundle, progress, batch_size) -> dict:
    started = time.perf_counter()
    cut = cutoff(as_of).date()
    seconds = {"features": 0.0, "predict": 0.0, "write": 0.0}
    with warehouse.transaction() as tx:
        total = int(tx.scalar("marketing_customer_count"))
        batches = max(1, math.ceil(total / batch_size))
        qs = [i / batches for i in range(1, batches)]
        bounds_row = tx.one("churn_id_bounds", qs=qs or [0.5])
        edges = [-(2**62)] + (list(bounds_row["bounds"]) if qs else []) + [2**62]
        tx.run("churn_scores_delete")
        scored = 0
        tiers = {"high": 0, "medium": 0, "low": 0}
        for i in range(len(edges) - 1):
            t0 = time.perf_counter()
            frame = features(tx, cut, id_range=(edges[i], edges[i + 1]))
            seconds["features"] += time.perf_counter() - t0
            if frame.empty:
                continue
            t0 = time.perf_counter()
            with _threads(len(frame)):
                result = predict(bundle, frame)
            seconds["predict"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            tx.register("churn_scores_batch", result)
            tx.run("churn_scores_insert", model_id=model_id, as_of=as_of)
            tx.unregister("churn_scores_batch")
            seconds["write"] += time.perf_counter() - t0
            scored += len(result)
            for k, v in result["risk_tier"].value_counts().items():
                tiers[k] += int(v)
            progress((i + 1) / (len(edges) - 1), "score")
        detail = {
            "model_id": model_id,
            "as_of": as_of,
            "scored": scored,
            "tiers": tiers,
            "batches": len(edges) - 1,
            "seconds": {k: round(v, 2) for k, v in seconds.items()},
        }
        audit.record(tx, user, "churn.score", "churn_model", model_id, detail=detail)
    detail["seconds"]["total"] = round(time.perf_counter() - started, 2)
    return detail


def tier_summary() -> pd.DataFrame:
    return warehouse.read("churn_tier_summary")


@auth.pii_reader("view_customer")
def top_scores(user: auth.User, tiers: list[str] | None = None, limit: int = 200) -> pd.DataFrame:
    """The riskiest customers with their names (masked per role like every reader's output)."""
    from lib.security import privacy

    auth.require(user, "view_customer")
    return privacy.mask_frame(user, top_rows("churn_scores_page", limit, tiers=tiers or ["high", "medium", "low"]))


def export_scores(user: auth.User, path) -> int:
    """Write the stored scores to a file keyed by source and source_record_id (CSV, or Excel
    for .xlsx; formula-safe, created 0600). Marketing or admin; the export is audited."""
    auth.require(user, "export_scores")
    return write_export(user, "churn_scores_export", path, "churn.export", "churn_scores")
