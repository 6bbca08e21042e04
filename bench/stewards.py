"""Stewardship benchmarks on a COPY of the 1M-customer warehouse.

    .venv/bin/python -m bench.stewards [--source /tmp/bench/warehouse-1m.duckdb] [--work /tmp/stewards/bench]
                                       [--skip-dedup] [--skip-quality] [--only-import]

Measures (wall clock, this machine):
  * quality: a full rule run over the live customers (target < 15 s);
  * dedup: splink training + scoring + clustering over all live customers, and precision /
    recall / F1 against demo_ground_truth (pairs with p >= 0.9);
  * import: a generated 1M-row messy customer CSV (formatted mobiles, mixed-case emails,
    slashed dates, resident IDs for 60 %, ~2 % invalid mobiles, ~1 % rows without a name)
    imported through lib.stewardship.importer in one transaction (target < 60 s); the after-import steps
    (aggregates refresh, incremental duplicate matching) are timed separately.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import bench  # noqa: F401  (demo-mode settings for benchmarks)


def make_csv(db: Path, out: Path, rows: int = 1_000_000) -> None:
    """A messy export of the warehouse's own customers under new keys (DuckDB, seconds)."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    # region codes stdnum knows for every birth year 1920-2025 (most others are time-bounded)
    regions = "['110101','110105','310101','310104','120101','110101','110105','310101']"
    con.execute(f"""
        COPY (
          WITH base AS (
            SELECT row_number() OVER () AS n, *
            FROM (SELECT * FROM customers WHERE full_name IS NOT NULL ORDER BY customer_id LIMIT {rows})
          ), ids AS (
            SELECT *, {regions}[1 + n % 8] || strftime(birth_date, '%Y%m%d') || lpad(CAST(n % 1000 AS VARCHAR), 3, '0') AS body
            FROM base
          ), chk AS (
            SELECT *, list_sum(list_transform(range(17), i -> CAST(body[i + 1] AS INTEGER)
                        * [7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2][i + 1])) % 11 AS s
            FROM ids
          )
          SELECT 'B' || n AS "客户编号",
                 CASE WHEN n % 100 = 7 THEN '' ELSE full_name END AS "姓名",
                 CASE WHEN n % 50 = 3 THEN '12345'
                      WHEN mobile LIKE '+86%' AND n % 3 = 0 THEN substr(mobile, 4, 3) || ' ' || substr(mobile, 7, 4) || ' ' || substr(mobile, 11)
                      WHEN mobile LIKE '+86%' AND n % 3 = 1 THEN substr(mobile, 4)
                      ELSE coalesce(mobile, '') END AS "手机",
                 CASE WHEN n % 4 = 0 THEN upper(coalesce(email, '')) ELSE coalesce(email, '') END AS "邮箱",
                 CASE WHEN birth_date IS NULL THEN '' WHEN n % 2 = 0 THEN strftime(birth_date, '%Y/%-m/%-d')
                      ELSE CAST(birth_date AS VARCHAR) END AS "出生日期",
                 CASE WHEN birth_date IS NOT NULL AND country = 'CN' AND n % 10 < 6
                           AND birth_date >= DATE '1900-01-01' AND birth_date <= DATE '2026-01-01'
                      THEN body || substr('10X98765432', CAST(s AS BIGINT) + 1, 1) ELSE '' END AS "身份证号",
                 coalesce(postcode, '') AS "邮编", country AS "国家", coalesce(province, '') AS "省份",
                 coalesce(city, '') AS "城市", coalesce(district, '') AS "区县",
                 coalesce(address, '') AS "地址", gender AS "性别", channel AS "渠道",
                 strftime(registered_at, '%Y-%m-%d %H:%M:%S') AS "注册时间"
          FROM chk
        ) TO '{out}' (HEADER, DELIMITER ',')
    """)
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default="/tmp/bench/warehouse-1m.duckdb")
    parser.add_argument("--work", default="/tmp/stewards/bench")
    parser.add_argument("--skip-dedup", action="store_true", help="skip the full dedup run")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument(
        "--keep", action="store_true", help="reuse the working copy (and its trained model) instead of copying again"
    )
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument(
        "--only-import", action="store_true", help="only the CSV import (same as --skip-quality --skip-dedup)"
    )
    args = parser.parse_args()
    if args.only_import:
        args.skip_quality = args.skip_dedup = True
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    db = work / "warehouse.duckdb"
    if not (args.keep and db.exists()):
        shutil.copyfile(args.source, db)
        for suffix in (".wal",):
            if Path(str(args.source) + suffix).exists():
                shutil.copyfile(str(args.source) + suffix, str(db) + suffix)

    from lib.security import auth
    from lib.stewardship import dedup, importer, quality
    from lib.core import warehouse

    warehouse.use(str(db))
    warehouse.migrate()
    results: dict = {}
    live = warehouse.scalar("SELECT count(*) FROM customers WHERE merged_into IS NULL")
    results["customers"] = live

    if not args.skip_quality:
        started = time.perf_counter()
        r = quality.run(auth.SYSTEM)
        results["quality_run_s"] = round(time.perf_counter() - started, 2)
        results["quality_flags_opened"] = r.flags_opened
        started = time.perf_counter()
        quality.run(auth.SYSTEM)
        results["quality_rerun_s"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        quality.scorecard()
        results["scorecard_s"] = round(time.perf_counter() - started, 3)
        print(json.dumps(results), flush=True)

    if not args.skip_dedup:
        started = time.perf_counter()
        d = dedup.run(auth.SYSTEM)
        results["dedup_run_s"] = round(time.perf_counter() - started, 1)
        results["dedup_pairs"] = d.pairs
        results["dedup_clusters"] = d.clusters
        for th in (0.5, 0.9, 0.99):
            ev = dedup.evaluate(th)
            results[f"dedup_p{th}"] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in ev.items()}
        print(json.dumps(results), flush=True)

    if not args.skip_import:
        csv = work / "customers-1m.csv"
        started = time.perf_counter()
        warehouse.dispose()  # the generator opens the file read-only itself
        make_csv(db, csv)
        results["csv_make_s"] = round(time.perf_counter() - started, 1)
        results["csv_mb"] = round(csv.stat().st_size / 1e6, 1)
        stages: dict[str, float] = {}
        t0 = time.perf_counter()

        def progress(fraction: float, stage: str) -> None:
            stages[stage] = round(time.perf_counter() - t0, 1)

        res = importer.import_file(
            auth.SYSTEM, "customers", csv, "bench_import", progress=progress, match_duplicates=False
        )
        results["import_1m_s"] = round(time.perf_counter() - t0, 1)
        results["import_stages_s"] = stages
        results["import_result"] = res.as_dict()
        if warehouse.one("stw_dedup_latest_model") is not None:
            sample = res.new_customer_ids[:10_000]
            started = time.perf_counter()
            results["incremental_match_10k_new"] = dedup.match_new(auth.SYSTEM, sample)
            results["incremental_match_10k_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        res2 = importer.import_file(auth.SYSTEM, "customers", csv, "bench_import", match_duplicates=False)
        results["reimport_1m_s"] = round(time.perf_counter() - started, 1)
        results["reimport_loaded"] = res2.rows_loaded
    print(json.dumps(results, indent=2, default=str))
    warehouse.dispose()


if __name__ == "__main__":
    main()
