"""Churn model vs recency alone vs BG/NBD P(alive): holdout ROC AUC on public purchases and on
the demo, computed in one run.

    .venv/bin/python -m bench.churn_models [--demo-customers 50000] [--horizon-days 90]
                                           [--work /tmp/churn-bench] [--cdnow-only]

Public data: the CDNOW master file (23,570 customers who first bought CDs in Q1 1997, their
69,659 purchases to June 1998; Fader, Hardie & Lee 2005) that ships inside the ``lifetimes``
wheel (requirements-dev.txt). The file is read straight from the installed package folder:
the library itself is not imported (unmaintained since 2020). It becomes two CSV files - a
customer list with ids and names and no registration dates, and an orders file (customer id,
date, quantity, amount) - loaded THROUGH ``python -m lib.cli import`` into a fresh temporary
warehouse, so registration dates are inferred from the first purchase, exactly as for any
company's export. Then ``churn train`` and ``clv score`` run as CLI commands.

The demo: ``python -m lib.cli demo --customers N`` into another temporary warehouse, then the
same CLI commands.

For each, on the churn model's holdout (purchasers before the evaluation cutoff, labelled by
the ``horizon`` days after it; see lib/marketing/churn.py):

* churn model - the stored model's holdout AUC (recomputed here from the stored model; the
  two must agree);
* recency alone - days since the last purchase as the score;
* BG/NBD P(alive) - lib/marketing/clv.py's own BG/NBD fitted on the purchases before the evaluation
  cutoff (the same information the churn model has), score = 1 - P(alive); also the model's
  expected purchases in the horizon (score = minus that).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
CDNOW_AS_OF = date(1998, 6, 30)  # the last day of the CDNOW purchases


def cdnow_master_path() -> Path:
    """CDNOW_master.txt inside the installed lifetimes package, found without importing it."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "lifetimes is not installed: pip install -r requirements-dev.txt (it only supplies the CDNOW data file)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "CDNOW_master.txt"
    if not path.exists():
        raise SystemExit(f"{path} is missing from the lifetimes package")
    return path


def cdnow_files(folder: Path) -> tuple[Path, Path, dict]:
    """The CDNOW purchases as an external company's export: customers.csv (id, name; no
    registration date) and orders.csv (order id, customer id, date, quantity, amount)."""
    raw = pd.read_csv(
        cdnow_master_path(),
        sep=r"\s+",
        header=None,
        skiprows=1,
        names=["customer", "day", "quantity", "amount"],
        dtype={"customer": str, "day": str},
    )
    ids = sorted(raw["customer"].unique())
    customers = pd.DataFrame({"id": ids, "name": [f"CDNOW Customer {i}" for i in ids]})
    orders = pd.DataFrame(
        {
            "order_id": [f"C{i + 1}" for i in range(len(raw))],
            "customer_id": raw["customer"],
            "date": pd.to_datetime(raw["day"], format="%Y%m%d").dt.strftime("%Y-%m-%d"),
            "quantity": raw["quantity"].astype(int),
            "amount": raw["amount"].map(lambda v: f"{v:.2f}"),
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    c_path, o_path = folder / "cdnow_customers.csv", folder / "cdnow_orders.csv"
    customers.to_csv(c_path, index=False)
    orders.to_csv(o_path, index=False)
    return (
        c_path,
        o_path,
        {
            "customers": len(customers),
            "orders": len(orders),
            "first": orders["date"].min(),
            "last": orders["date"].max(),
        },
    )


def cli(warehouse: Path, *args: str) -> str:
    """Run `python -m lib.cli --warehouse W ...` as a separate process; its output."""
    cmd = [sys.executable, "-m", "lib.cli", "--warehouse", str(warehouse), *args]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=os.environ.copy())
    took = time.perf_counter() - started
    print(f"$ python -m lib.cli {' '.join(args)}   ({took:.1f} s)", flush=True)
    out = (done.stdout + done.stderr).strip()
    for line in out.splitlines()[-12:]:
        if not line.lstrip().startswith(("0%", "1", "2", "3", "4", "5", "6", "7", "8", "9")) or "note" in line:
            print("   " + line, flush=True)
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(args)}` failed ({done.returncode}):\n{out}")
    return out


def _json_line(out: str) -> dict:
    """The import's result (the CLI prints it as one JSON line)."""
    result = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    return {k: result[k] for k in ("rows_total", "rows_loaded", "rows_quarantined", "rows_flagged")}


def compare(warehouse: Path) -> dict:
    """Holdout AUCs of the latest churn model, recency, and BG/NBD, on the same rows."""
    from sklearn.metrics import roc_auc_score

    from lib.marketing import churn, clv
    from lib.core import warehouse as wh

    wh.use(str(warehouse))
    try:
        model_row = churn.models().iloc[0]
        model_id, bundle = churn.load(int(model_row["model_id"]))
        horizon = int(model_row["horizon_days"])
        eval_cut = pd.Timestamp(model_row["eval_cutoff"]).date()
        sample = tuple(model_row["metrics"]["sample"])
        with wh.transaction() as tx:
            hold = churn.features(tx, eval_cut, sample=sample)
            y = churn.labels(tx, hold, eval_cut, horizon)
            # BG/NBD sees the same purchases as the churn model: everything before eval_cut
            summary = clv.summary(tx, eval_cut)
        proba = churn.predict(bundle, hold, with_reasons=False)["probability"].to_numpy()
        bg = clv.fit_bgnbd(summary["x"], summary["t_x"], summary["T"])
        s = summary.set_index("customer_id").loc[hold["customer_id"].to_numpy()]
        alive = clv.p_alive(bg, s["x"], s["t_x"], s["T"])
        expected = clv.expected_purchases(bg, horizon, s["x"], s["t_x"], s["T"])
        result = {
            "model_id": model_id,
            "horizon_days": horizon,
            "eval_cutoff": str(eval_cut),
            "train_cutoff": str(pd.Timestamp(model_row["train_cutoff"]).date()),
            "n_train": int(model_row["n_train"]),
            "n_holdout": int(len(hold)),
            "base_rate": float(np.mean(y)),
            "auc_model": float(roc_auc_score(y, proba)),
            "auc_model_stored": float(model_row["auc"]),
            "auc_recency": float(roc_auc_score(y, hold["recency_days"].to_numpy(dtype=float))),
            "auc_bgnbd_p_alive": float(roc_auc_score(y, 1 - alive)),
            "auc_bgnbd_expected": float(roc_auc_score(y, -expected)),
            "bgnbd": {k: round(v, 4) for k, v in bg.__dict__.items()},
            "dropped_features": model_row["metrics"].get("dropped_features", []),
        }
        return result
    finally:
        wh.dispose()
        wh.use(None)


def run_cdnow(work: Path, horizon: int) -> dict:
    folder = work / "cdnow"
    c_path, o_path, info = cdnow_files(folder)
    path = folder / "warehouse.duckdb"
    for p in (path, Path(str(path) + ".wal")):
        p.unlink(missing_ok=True)
    started = time.perf_counter()
    out_c = cli(path, "import", "customers", str(c_path), "--source", "cdnow", "--no-dedup")
    out_o = cli(path, "import", "orders", str(o_path), "--source", "cdnow")
    train = cli(path, "churn", "train", "--as-of", str(CDNOW_AS_OF), "--horizon-days", str(horizon))
    clv_out = cli(
        path, "clv", "score", "--as-of", str(CDNOW_AS_OF), "--horizon-days", "180", "--out", str(folder / "clv.csv")
    )
    result = compare(path)
    result.update(
        dataset="CDNOW (lifetimes wheel)",
        customers=info["customers"],
        orders=info["orders"],
        as_of=str(CDNOW_AS_OF),
        span=f"{info['first']} .. {info['last']}",
        seconds=round(time.perf_counter() - started, 1),
        import_customers=_json_line(out_c),
        import_orders=_json_line(out_o),
        clv=[line for line in clv_out.splitlines() if line.startswith(("BG/NBD", "backtest"))],
    )
    from lib.core import warehouse as wh

    wh.use(str(path))
    try:
        result["registration"] = wh.one(
            "SELECT count(*) FILTER (WHERE registered_inferred) AS inferred,"
            " count(*) FILTER (WHERE registered_at IS NULL) AS unknown,"
            " count(*) FILTER (WHERE registered_inferred AND registered_at = f.first_order) AS equal_first_order"
            " FROM customers JOIN (SELECT customer_id, min(order_time) AS first_order FROM orders GROUP BY 1) f"
            " USING (customer_id)"
        )
        result["quarantined"] = int(wh.scalar("SELECT count(*) FROM quarantine"))
    finally:
        wh.dispose()
        wh.use(None)
    return result


def run_demo(work: Path, customers: int, horizon: int) -> dict:
    folder = work / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "warehouse.duckdb"
    for p in (path, Path(str(path) + ".wal")):
        p.unlink(missing_ok=True)
    started = time.perf_counter()
    cli(path, "demo", "--customers", str(customers))
    cli(path, "churn", "train", "--horizon-days", str(horizon))
    result = compare(path)
    result.update(
        dataset=f"demo ({customers:,} customers)", customers=customers, seconds=round(time.perf_counter() - started, 1)
    )
    return result


def table(results: list[dict]) -> str:
    head = (
        "| data set | holdout (cutoff, horizon) | rows train / holdout | churn rate | churn model "
        "| recency alone | BG/NBD P(alive) | BG/NBD E[purchases] | features dropped |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in results:
        lines.append(
            f"| {r['dataset']} | {r['eval_cutoff']}, {r['horizon_days']} d | {r['n_train']:,} / "
            f"{r['n_holdout']:,} | {r['base_rate']:.1%} | **{r['auc_model']:.3f}** | "
            f"{r['auc_recency']:.3f} | {r['auc_bgnbd_p_alive']:.3f} | {r['auc_bgnbd_expected']:.3f} | "
            f"{len(r['dropped_features'])}: {', '.join(r['dropped_features']) or '-'} |"
        )
    return head + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", default=None, help="folder for the temporary warehouses")
    parser.add_argument("--demo-customers", type=int, default=50_000)
    parser.add_argument("--horizon-days", type=int, default=90)
    parser.add_argument("--cdnow-only", action="store_true")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="churn-bench-"))
    load_before = os.getloadavg()
    started = datetime.now(timezone.utc)
    results = [run_cdnow(work, args.horizon_days)]
    if not args.cdnow_only:
        results.append(run_demo(work, args.demo_customers, args.horizon_days))
    load_after = os.getloadavg()
    print()
    print(
        f"Run {started:%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores; load average (1 min) "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after."
    )
    print(table(results))
    for r in results:
        print(f"\n{r['dataset']}: {json.dumps({k: v for k, v in r.items() if k != 'dropped_features'}, default=str)}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"started": started.isoformat(), "load": [load_before, load_after], "results": results},
                indent=2,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
