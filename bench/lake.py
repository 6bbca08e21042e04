"""Lake vs file: the Overview and Customer 360° pages and their queries, at 1M customers.

    .venv/bin/python -m bench.lake [--source /tmp/bench/warehouse-1m.duckdb] [--runs 5]
    .venv/bin/python -m bench.lake --catalog-cost      # ms per table reference, six small tables

Copies the source warehouse (never opens it read-write), ages it to a year of use
(bench/aging.py: quality flags, tags, 3M audit rows), refreshes its pre-aggregates,
starts a throwaway PostgreSQL, moves the copy into a lake with the same code as
`lake migrate` (checksums compared), then times on both:

* the Overview's queries (`metrics.overview`, what the page calls, in one snapshot), and each
  query function on its own;
* `customers.customer_360` (everything the 360° page shows) for 20 customers;
* both pages end to end in AppTest (a logged-in manager; st.cache_data cleared per run).

Medians of warm runs; the first (cold) run is reported separately. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

import bench  # noqa: F401  (demo-mode settings for benchmarks)


def _median_ms(fn, runs: int) -> tuple[float, float]:
    started = time.perf_counter()
    fn()
    cold = (time.perf_counter() - started) * 1000
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return cold, statistics.median(times)


def measure(location: str, runs: int, customer_ids: list[int]) -> dict[str, tuple[float, float]]:
    import streamlit as st

    from lib.security import auth
    from lib.dashboards import customers, metrics
    from lib.core import warehouse
    from lib.dashboards.filters import default as default_filters
    from lib.core import settings
    from tests.app.helpers import as_user, open_page

    warehouse.use(location)
    os.environ["C360_WAREHOUSE"] = location
    out: dict[str, tuple[float, float]] = {}
    try:
        f = default_filters(settings.as_of())
        manager = auth.User("manager", "Manager", frozenset({"manager"}))

        def overview_queries():
            metrics.aggregates_meta()
            metrics.overview(f)

        out["Overview queries (metrics.overview: kpis, trends, breakdowns, funnel, cohorts in one snapshot)"] = (
            _median_ms(overview_queries, runs)
        )
        for name, fn in [
            ("kpis", lambda: metrics.kpis(f)),
            ("monthly_trends", lambda: metrics.monthly_trends(f)),
            ("breakdowns", lambda: metrics.breakdowns(f)),
            ("cohort_retention", lambda: metrics.cohort_retention(f)),
        ]:
            out[f"  metrics.{name}"] = _median_ms(fn, runs)

        def one_customer(cid: int):
            customers.customer_360(manager, cid)

        per_customer = []
        cold_360 = None
        for i, cid in enumerate(customer_ids):
            started = time.perf_counter()
            one_customer(cid)
            ms = (time.perf_counter() - started) * 1000
            if i == 0:
                cold_360 = ms
            else:
                per_customer.append(ms)
        out[
            "360° queries per customer (customers.customer_360: profile, tags, consents, flags, history, orders, timeline)"
        ] = (cold_360, statistics.median(per_customer))

        at = as_user("manager")

        def overview_page():
            st.cache_data.clear()
            open_page(at, "pages/01_overview.py")
            assert not at.exception, at.exception

        out["Overview page (AppTest run, caches cleared)"] = _median_ms(overview_page, runs)

        pages = iter(customer_ids * (runs + 2))

        def page_360():
            st.cache_data.clear()
            at.query_params["id"] = str(next(pages))
            open_page(at, "pages/03_customer_360.py")
            assert not at.exception, at.exception

        out["360° page (AppTest run)"] = _median_ms(page_360, runs)
    finally:
        warehouse.dispose()
        warehouse.use(None)
        os.environ.pop("C360_WAREHOUSE", None)
    return out


def catalog_cost() -> None:
    """What one table reference costs on a lake: six small tables, read in different ways."""
    from lib.core import warehouse
    from tests.lake.pg import PostgresServer

    server = PostgresServer().start()
    data = Path("/tmp/lake/catalog-cost")
    shutil.rmtree(data, ignore_errors=True)
    try:
        os.environ["C360_LAKE_DATA"] = str(data)
        warehouse.use(server.spec(server.create_database("catalog_cost")))
        tables = [f"t{i}" for i in range(6)]
        with warehouse.transaction() as tx:
            for table in tables:  # identifiers from the list above, never from input
                tx.script("CREATE TABLE " + table + " (customer_id BIGINT, v VARCHAR)")
                tx.script("INSERT INTO " + table + " SELECT range, 'x' FROM range(1000)")
        conn = warehouse.engine().raw_connection()
        cur = conn.cursor()

        def lookup(table: str):
            cur.execute("SELECT * FROM " + table + " WHERE customer_id = 5")
            cur.fetchall()

        def in_transaction(names):
            cur.execute("BEGIN TRANSACTION")
            for name in names:
                lookup(name)
            cur.execute("ROLLBACK")

        union = " UNION ALL ".join("SELECT * FROM " + t + " WHERE customer_id = 5" for t in tables)
        cases = {
            "one statement, one table": lambda: lookup("t0"),
            "six statements, six tables, autocommit": lambda: [lookup(t) for t in tables],
            "six statements, six tables, one transaction": lambda: in_transaction(tables),
            "six statements, the same table, one transaction": lambda: in_transaction(["t0"] * 6),
            "one statement over six tables (UNION ALL)": lambda: (cur.execute(union), cur.fetchall()),
        }
        for label, fn in cases.items():
            print(f"{label}: {_median_ms(fn, 10)[1]:.1f} ms")
        conn.close()
    finally:
        warehouse.dispose()
        warehouse.use(None)
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default="/tmp/bench/warehouse-1m.duckdb")
    parser.add_argument("--work", default="/tmp/lake/bench")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--catalog-cost", action="store_true", help="only measure what one table reference costs on a lake"
    )
    args = parser.parse_args()
    if args.catalog_cost:
        catalog_cost()
        return

    from bench import aging
    from lib.dashboards import aggregates
    from lib.core import lake, warehouse
    from tests.lake.pg import PostgresServer

    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    copy = work / "warehouse.duckdb"
    shutil.copyfile(args.source, copy)
    warehouse.use(str(copy))
    warehouse.migrate()
    aged = aging.age(str(copy))  # a year of flags, tags and audit rows, as bench.dashboards
    print(f"aged the copy: {aged}")
    started = time.perf_counter()
    aggregates.refresh()
    print(f"pre-aggregates refreshed on the copy in {time.perf_counter() - started:.1f} s")
    customer_ids = [
        int(x)
        for x in warehouse.read("SELECT customer_id FROM customers USING SAMPLE 20 ROWS (reservoir, 7)")["customer_id"]
    ]
    n_customers = warehouse.scalar("SELECT count(*) FROM customers")
    n_events = warehouse.scalar("SELECT count(*) FROM events")
    warehouse.dispose()
    warehouse.use(None)

    server = PostgresServer().start()
    try:
        db = server.create_database("c360_bench")
        spec = server.spec(db)
        data = work / "lake-data"
        moved = lake.migrate_file_to_lake(copy, spec, str(data), progress=lambda m: None)
        lake_bytes = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
        print(
            f"lake migrate: {moved.rows:,} rows, {len(moved.tables)} tables in {moved.seconds:.1f} s; "
            f"checksums {'match' if moved.ok else 'MISMATCH'}; file {copy.stat().st_size / 1e6:.0f} MB, "
            f"lake Parquet {lake_bytes / 1e6:.0f} MB"
        )
        os.environ["C360_LAKE_DATA"] = str(data)
        on_file = measure(str(copy), args.runs, customer_ids)
        on_lake = measure(spec, args.runs, customer_ids)
    finally:
        server.stop()

    print(
        f"\n{n_customers:,} customers, {n_events:,} events; median of {args.runs} warm runs "
        "(cold first run in brackets), ms\n"
    )
    print("| measure | file | lake | lake / file |")
    print("|---|---:|---:|---:|")
    for key, (cold_f, warm_f) in on_file.items():
        cold_l, warm_l = on_lake[key]
        print(f"| {key} | {warm_f:,.0f} ({cold_f:,.0f}) | {warm_l:,.0f} ({cold_l:,.0f}) | {warm_l / warm_f:.2f}× |")


if __name__ == "__main__":
    main()
