"""Customer lifetime value: BG/NBD (purchases, P(alive)) + Gamma-Gamma (value per purchase).

Implemented here with scipy.optimize against the published log-likelihoods, because no
maintained package works with our pinned numpy/pandas (``lifetimes`` is abandoned):

* BG/NBD - Fader, Hardie & Lee (2005), "Counting your customers the easy way", eq. (6)::

    L(r, alpha, a, b | x, t_x, T) = B(a, b + x) / B(a, b) * G(r + x) / G(r) * alpha^r / (alpha + T)^(r + x)
                                  + [x > 0] B(a + 1, b + x - 1) / B(a, b) * G(r + x) / G(r) * alpha^r / (alpha + t_x)^(r + x)

  P(alive) = 1 / (1 + [x > 0] a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x)), and the
  conditional expected number of purchases in the next t (eq. 10) uses the Gauss
  hypergeometric function 2F1.

* Gamma-Gamma - Fader & Hardie (2013), "The Gamma-Gamma model of monetary value": for a
  customer with x repeat purchases of mean value m_x,

    f(m_x | p, q, gamma, x) = G(p x + q) / (G(p x) G(q)) * gamma^q * m_x^(p x - 1) * x^(p x) / (gamma + m_x x)^(p x + q)

  and E[value | p, q, gamma, m_x, x] = p (gamma + m_x x) / (p x + q - 1) (the population mean
  p gamma / (q - 1) for customers without repeat purchases).

Data (lib/core/sql/marketing_models.sql ``clv_summary``): purchases counted per distinct day; x =
repeat purchase days, t_x and T in days from the first purchase, m_x = mean value of the repeat
purchase days. Expected value over a horizon = expected purchases x expected value per purchase
(undiscounted, CNY).

Backtest: fit on data before D + 1 - H, predict purchases in the following H days and compare
with what happened (totals, mean absolute error, and means per calibration-frequency bucket).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Callable

import numpy as np
import pandas as pd
from scipy import optimize, special

from lib.security import audit, auth
from lib.core import settings, warehouse
from lib.marketing.queries import cutoff, fast_frame, top_rows, write_export

MAX_FIT_ROWS = 200_000
DEFAULT_HORIZON = 180
Progress = Callable[[float, str], None]


def _quiet(fraction: float, message: str) -> None:
    """Default progress callback: nothing to show."""


# ---------------------------------------------------------------- BG/NBD


@dataclass(frozen=True)
class BGNBD:
    r: float
    alpha: float
    a: float
    b: float


def bgnbd_log_likelihood(params: BGNBD, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood, eq. (6) of Fader, Hardie & Lee (2005)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    common = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.betaln(a, b + x)
        - special.betaln(a, b)
    )
    term1 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        # B(a + 1, b + x - 1) / B(a, b + x) = a / (b + x - 1)
        term2 = np.where(
            x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf
        )
    return common + np.logaddexp(term1, term2)


def fit_bgnbd(x, t_x, T, weights=None) -> BGNBD:
    """Maximum-likelihood fit (log-parameters, L-BFGS-B then Nelder-Mead polish)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    scale = max(float(np.mean(T)), 1.0)

    def nll(theta: np.ndarray) -> float:
        r, alpha, a, b = np.exp(np.clip(theta, -20, 20))
        ll = bgnbd_log_likelihood(BGNBD(r, alpha * scale, a, b), x, t_x, T)
        value = -float(np.sum(w * ll)) / w.sum()
        return value if np.isfinite(value) else 1e12

    start = np.log([0.5, 0.1, 0.8, 2.0])
    best = optimize.minimize(nll, start, method="L-BFGS-B")
    best = optimize.minimize(
        nll, best.x, method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-10, "maxiter": 4000}
    )
    r, alpha, a, b = np.exp(best.x)
    return BGNBD(float(r), float(alpha * scale), float(a), float(b))


def p_alive(params: BGNBD, x, t_x, T) -> np.ndarray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = (
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
        out = 1.0 / (1.0 + np.exp(np.minimum(log_ratio, 700)))
    return np.where(x > 0, out, 1.0)


def expected_purchases(params: BGNBD, t: float, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchase days in the next t days, eq. (10)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if abs(a - 1) < 1e-9:
        # (a + b + x - 1) / (a - 1) and the bracket both vanish at a = 1; nudge off the pole
        a = 1.0 + 1e-6
    aa, bb, cc = r + x, b + x, a + b + x - 1
    z = t / (alpha + T + t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        hyp = special.hyp2f1(aa, bb, cc, z)
        ln_hyp = np.log(hyp)
        bad = ~np.isfinite(ln_hyp)
        if bad.any():  # Euler's transformation keeps 2F1 finite when z is close to 1
            alt = np.log(special.hyp2f1(cc[bad] - aa[bad], cc[bad] - bb[bad], cc[bad], z[bad])) + (
                cc[bad] - aa[bad] - bb[bad]
            ) * np.log(1 - z[bad])
            ln_hyp[bad] = alt
        first = (a + b + x - 1) / (a - 1)
        second = 1 - np.exp(ln_hyp + (r + x) * np.log((alpha + T) / (alpha + t + T)))
        numerator = first * second
        log_ratio = (
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
        denominator = 1 + np.where(x > 0, np.exp(np.minimum(log_ratio, 700)), 0.0)
    return np.maximum(numerator / denominator, 0.0)


def simulate_bgnbd(params: BGNBD, T: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Draw (x, t_x, T) from the BG/NBD generative story (used by tests and docs).

    Each customer: lambda ~ Gamma(r, 1/alpha), p ~ Beta(a, b); purchases follow a Poisson
    process with rate lambda; after each purchase the customer drops out with probability p.
    The first purchase is at time 0 (T is measured from it, as in the model)."""
    n = len(T)
    lam = rng.gamma(params.r, 1 / params.alpha, size=n)
    p = rng.beta(params.a, params.b, size=n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        t, alive = 0.0, True
        while alive:
            t += rng.exponential(1 / lam[i])
            if t > T[i]:
                break
            x[i] += 1
            t_x[i] = t
            alive = rng.random() >= p[i]
    return pd.DataFrame({"x": x, "t_x": t_x, "T": np.asarray(T, dtype=float)})


# ---------------------------------------------------------------- Gamma-Gamma


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float


def gamma_gamma_log_likelihood(params: GammaGamma, x: np.ndarray, m_x: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood of the mean value m_x of x purchases (Fader & Hardie 2013)."""
    p, q, g = params.p, params.q, params.gamma
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(g)
        + (px - 1) * np.log(m_x)
        + px * np.log(x)
        - (px + q) * np.log(g + m_x * x)
    )


def fit_gamma_gamma(x, m_x) -> GammaGamma:
    x, m_x = np.asarray(x, dtype=float), np.asarray(m_x, dtype=float)
    keep = (x > 0) & (m_x > 0)
    x, m_x = x[keep], m_x[keep]
    if len(x) < 10:
        raise ValueError("Too few customers with repeat purchases to fit the Gamma-Gamma model.")
    scale = float(np.mean(m_x))

    def nll(theta: np.ndarray) -> float:
        p, q, g = np.exp(np.clip(theta, -20, 20))
        value = -float(np.mean(gamma_gamma_log_likelihood(GammaGamma(p, q, g * scale), x, m_x)))
        return value if np.isfinite(value) else 1e12

    best = optimize.minimize(nll, np.log([2.0, 3.0, 1.0]), method="L-BFGS-B")
    best = optimize.minimize(
        nll, best.x, method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-10, "maxiter": 4000}
    )
    p, q, g = np.exp(best.x)
    return GammaGamma(float(p), float(q), float(g * scale))


def expected_value_per_purchase(params: GammaGamma, x, m_x) -> np.ndarray:
    p, q, g = params.p, params.q, params.gamma
    x, m_x = np.asarray(x, dtype=float), np.asarray(m_x, dtype=float)
    population_mean = p * g / (q - 1) if q > 1 else float("nan")
    individual = p * (g + m_x * x) / (p * x + q - 1)
    return np.where((x > 0) & (m_x > 0), individual, population_mean)


def simulate_gamma_gamma(params: GammaGamma, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mean value of x purchases per customer: nu ~ Gamma(q, 1/gamma), z ~ Gamma(p, 1/nu)."""
    nu = rng.gamma(params.q, 1 / params.gamma, size=len(x))
    return np.array([rng.gamma(params.p, 1 / v, size=int(k)).mean() if k > 0 else 0.0 for v, k in zip(nu, x)])


# ---------------------------------------------------------------- on the warehouse


def summary(tx: warehouse.Tx, cutoff_day: date, sample: tuple[int, int] = (1, 1)) -> pd.DataFrame:
    return fast_frame(
        tx, warehouse.query("clv_summary"), cutoff=cutoff_day, sample_mod=sample[0], sample_keep=sample[1]
    )


def _sample(population: int, max_rows: int) -> tuple[int, int]:
    if population <= max_rows:
        return 1, 1
    return 10_000, max(1, math.floor(10_000 * max_rows / population))


def _fit(frame: pd.DataFrame) -> tuple[BGNBD, GammaGamma]:
    bg = fit_bgnbd(frame["x"], frame["t_x"], frame["T"])
    gg = fit_gamma_gamma(frame["x"], frame["m_x"])
    return bg, gg


def predict(bg: BGNBD, gg: GammaGamma, frame: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    purchases = expected_purchases(bg, horizon_days, frame["x"], frame["t_x"], frame["T"])
    value = expected_value_per_purchase(gg, frame["x"], frame["m_x"])
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "p_alive": p_alive(bg, frame["x"], frame["t_x"], frame["T"]),
            "expected_purchases": purchases,
            "expected_avg_value": value,
            "expected_value": purchases * value,
        }
    )


def backtest(as_of: date, horizon_days: int, max_rows: int = MAX_FIT_ROWS) -> dict:
    """Fit on data before (as_of + 1 - H), compare predicted with actual purchases in the H days."""
    cal_cut = cutoff(as_of).date() - timedelta(days=horizon_days)
    with warehouse.transaction() as tx:
        sample = _sample(int(tx.scalar("marketing_customer_count")), max_rows)
        cal = summary(tx, cal_cut, sample)
        actual = fast_frame(tx, warehouse.query("clv_holdout_actuals"), cutoff=cal_cut, horizon_days=horizon_days)
    if len(cal) < 50:
        raise ValueError("Not enough purchase history before the backtest cutoff.")
    bg, gg = _fit(cal)
    pred = predict(bg, gg, cal, horizon_days)
    merged = pred.merge(actual, on="customer_id", how="left").fillna({"actual_purchases": 0.0, "actual_value": 0.0})
    merged["x"] = cal["x"].to_numpy()
    bucket = np.minimum(merged["x"], 7).astype(int)
    by_x = (
        merged.assign(bucket=bucket)
        .groupby("bucket")
        .agg(
            customers=("customer_id", "size"),
            predicted=("expected_purchases", "mean"),
            actual=("actual_purchases", "mean"),
        )
        .reset_index()
    )
    err = merged["expected_purchases"] - merged["actual_purchases"]
    return {
        "calibration_cutoff": cal_cut.isoformat(),
        "horizon_days": horizon_days,
        "customers": int(len(merged)),
        "predicted_purchases": float(merged["expected_purchases"].sum()),
        "actual_purchases": float(merged["actual_purchases"].sum()),
        "predicted_value": float(merged["expected_value"].sum()),
        "actual_value": float(merged["actual_value"].sum()),
        "mae": float(np.mean(np.abs(err))),
        "correlation": float(np.corrcoef(merged["expected_purchases"], merged["actual_purchases"])[0, 1]),
        "by_repeat_purchases": by_x.to_dict("records"),
        "bgnbd": asdict(bg),
        "gamma_gamma": asdict(gg),
    }


def fit_and_score(
    user: auth.User,
    as_of: date | None = None,
    horizon_days: int = DEFAULT_HORIZON,
    *,
    progress: Progress = _quiet,
    max_fit_rows: int = MAX_FIT_ROWS,
    with_backtest: bool = True,
) -> dict:
    """Backtest, fit on everything before as_of + 1, score every purchaser; stores the results."""
    auth.require(user, "train_models")
    as_of = as_of or settings.as_of()
    if not 7 <= horizon_days <= 1825:
        raise ValueError("horizon_days must be between 7 and 1825")
    started = time.perf_counter()
    progress(0.05, "backtest")
    bt = backtest(as_of, horizon_days, max_fit_rows) if with_backtest else None
    progress(0.4, "fit")
    cut = cutoff(as_of).date()
    with warehouse.transaction() as tx:
        sample = _sample(int(tx.scalar("marketing_customer_count")), max_fit_rows)
        fit_frame = summary(tx, cut, sample)
    if len(fit_frame) < 50:
        raise ValueError("Not enough purchase history to fit the CLV models.")
    bg, gg = _fit(fit_frame)
    fit_seconds = time.perf_counter() - started
    progress(0.7, "score")
    result = _score(user, as_of, cut, horizon_days, bg, gg, bt, len(fit_frame))
    result.update(
        {
            "bgnbd": asdict(bg),
            "gamma_gamma": asdict(gg),
            "backtest": bt,
            "seconds": {"fit_and_backtest": round(fit_seconds, 2), "total": round(time.perf_counter() - started, 2)},
        }
    )
    progress(1.0, "done")
    return result


@warehouse.retrying
def _score(user, as_of, cut, horizon_days, bg, gg, bt, n_fit) -> dict:
    with warehouse.transaction() as tx:
        everyone = summary(tx, cut)
        scores = predict(bg, gg, everyone, horizon_days)
        model_id = int(
            tx.scalar(
                "clv_model_insert",
                fitted_by=user.username,
                as_of=as_of,
                horizon_days=horizon_days,
                n_customers=n_fit,
                bgnbd=json.dumps(asdict(bg)),
                gamma_gamma=json.dumps(asdict(gg)),
                backtest=json.dumps(bt) if bt else None,
            )
        )
        tx.run("clv_scores_delete")
        tx.register("clv_scores_batch", scores)
        tx.run("clv_scores_insert", clv_model_id=model_id, as_of=as_of, horizon_days=horizon_days)
        tx.unregister("clv_scores_batch")
        audit.record(
            tx,
            user,
            "clv.score",
            "clv_model",
            model_id,
            detail={
                "as_of": as_of,
                "horizon_days": horizon_days,
                "scored": len(scores),
                "bgnbd": asdict(bg),
                "gamma_gamma": asdict(gg),
                "backtest": {k: bt[k] for k in ("predicted_purchases", "actual_purchases", "mae")} if bt else None,
            },
        )
    return {
        "clv_model_id": model_id,
        "as_of": as_of,
        "horizon_days": horizon_days,
        "scored": len(scores),
        "fitted_on": n_fit,
    }


def models() -> pd.DataFrame:
    frame = warehouse.read("clv_models_all")
    for col in ("bgnbd", "gamma_gamma", "backtest"):
        frame[col] = frame[col].map(lambda v: json.loads(v) if isinstance(v, str) else v)
    return frame


def by_segment() -> pd.DataFrame:
    return warehouse.read("clv_by_segment")


@auth.pii_reader("view_customer")
def top_customers(user: auth.User, limit: int = 200) -> pd.DataFrame:
    """The most valuable customers with their names (masked per role)."""
    from lib.security import privacy

    auth.require(user, "view_customer")
    return privacy.mask_frame(user, top_rows("clv_top_customers", limit))


def export_scores(user: auth.User, path) -> int:
    """Write the stored CLV scores to a file keyed by source and source_record_id (CSV, or Excel
    for .xlsx; formula-safe, created 0600). Marketing or admin; the export is audited."""
    auth.require(user, "export_scores")
    return write_export(user, "clv_scores_export", path, "clv.export", "clv_scores")
