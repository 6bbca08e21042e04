"""Building the warehouse file: generate, load, verify; fingerprint; the command line."""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lib.security import privacy, search_index
from lib.core import warehouse
from lib.core.config import ConfigError
from lib.demo.spec import (
    BLOCK_CUSTOMERS,
    CHANNELS,
    CHURN_DAYS,
    CHURN_REASONS,
    DAY,
    DEFAULT_AS_OF,
    DemoError,
    INTENT_DAYS,
    SOURCES,
    STAGES,
)
from lib.demo.pools import _cat, _null_where, _num, _strs, _take, _unique_ints, _where
from lib.demo import feedback as demo_feedback
from lib.demo.generator import _Build
from lib.demo import campaigns as demo_campaigns
from lib.demo.rows import _draw_ids, _events_sql, _is_empty, _orders_sql, _ts


def build(
    n_customers: int,
    seed: int = 42,
    as_of: date = DEFAULT_AS_OF,
    path: str | None = None,
    *,
    replace: bool = False,
    progress=None,
) -> dict:
    """Build the demo warehouse; returns counts, defect counts, timings and the file size.

    ``path`` points this process at that warehouse first (``warehouse.use(path)``); without
    it the configured warehouse is used. A warehouse that already holds customers, orders,
    events, consents or ground truth is refused unless ``replace`` (the file is deleted).
    """
    say = progress or (lambda _msg: None)
    started, cpu_started = time.perf_counter(), time.process_time()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 2)
        say(f"{name}: {timings[name]:.1f}s")
        return now

    privacy.cipher()  # fail now, not after minutes, when keys are missing
    privacy.id_hash("0")
    if path is not None:
        warehouse.use(str(path))
    loc = warehouse.current_location()
    if replace:
        if loc.kind != "file" or loc.path is None:
            raise DemoError("--replace only works for a warehouse file.")
        warehouse.dispose()
        for p in (loc.path, Path(str(loc.path) + ".wal")):
            if p.exists():
                p.unlink()
    warehouse.migrate()
    with warehouse.transaction() as tx:
        if not _is_empty(tx):
            raise DemoError(
                f"The warehouse {loc.describe()} already holds customer data; "
                "use --replace (replace=True) to delete it and build anew."
            )
    t = time.perf_counter()
    g = _Build(int(n_customers), int(seed), as_of)
    g.customers()
    g.plan()
    t = lap("generate_customers", t)
    # Python-heavy work (encrypting resident IDs, generating the next block) runs in worker
    # threads while DuckDB, which releases the GIL, loads the current block.
    ids = g.id_number.tolist()
    n = g.n
    counts = {"orders": 0, "events": 0}
    blocks = [(a, min(n, a + BLOCK_CUSTOMERS)) for a in range(0, n, BLOCK_CUSTOMERS)]
    with ThreadPoolExecutor(max_workers=2) as pool, warehouse.transaction() as tx:
        crypto = pool.submit(lambda: (privacy.encrypt_many(ids), _id_hashes(ids)))
        g.ids = _draw_ids(tx, "customer_id_seq", n) + np.arange(n, dtype=np.int64)
        purchases = np.zeros(n, dtype=np.int64)
        last_purchase = np.full(n, -1, dtype=np.int64)
        last_intent = np.full(n, -1, dtype=np.int64)
        t_wait = 0.0
        pending = pool.submit(g.block, *blocks[0])
        for i, (a, b) in enumerate(blocks):
            k0 = time.perf_counter()
            orders, events, summary = pending.result()
            t_wait += time.perf_counter() - k0
            if i + 1 < len(blocks):
                pending = pool.submit(g.block, *blocks[i + 1])
            purchases[a:b] = summary["purchases"]
            last_purchase[a:b] = summary["last_purchase"]
            last_intent[a:b] = summary["last_intent"]
            oid0 = _draw_ids(tx, "order_id_seq", orders.num_rows)
            eid0 = _draw_ids(tx, "event_id_seq", events.num_rows)
            orders = orders.set_column(1, "customer_id", pa.array(g.ids[orders["customer_id"].to_numpy()]))
            events = events.set_column(1, "customer_id", pa.array(g.ids[events["customer_id"].to_numpy()]))
            tx.register("demo_orders_block", orders)
            tx.run(warehouse.raw_sql(_orders_sql("demo_orders_block", oid0)))
            tx.unregister("demo_orders_block")
            tx.register("demo_events_block", events)
            tx.run(warehouse.raw_sql(_events_sql("demo_events_block", eid0, oid0)))
            tx.unregister("demo_events_block")
            counts["orders"] += orders.num_rows
            counts["events"] += events.num_rows
            say(f"customers {b:,}/{n:,}: {counts['orders']:,} orders, {counts['events']:,} events")
        timings["waited_for_generator"] = round(t_wait, 2)
        t = lap("orders_events", t)
        k0 = time.perf_counter()
        enc, hashes = crypto.result()
        timings["waited_for_encryption"] = round(time.perf_counter() - k0, 2)

        # lifecycle stage from what was generated, by lib/marketing/lifecycle.py's rules
        churned = (purchases > 0) & (last_purchase < g.end - CHURN_DAYS * DAY)
        intent = last_intent >= g.end - INTENT_DAYS * DAY
        stage = np.where(purchases == 0, np.where(intent, 1, 0), np.where(churned, 4, np.where(purchases == 1, 2, 3)))
        reason = np.where(churned & (g.reason >= 0), g.reason, -1)
        cols = g.cols
        cust = pa.table(
            {
                "customer_id": g.ids,
                "source": _take(_strs(SOURCES), g.source),
                "source_record_id": _source_record_ids(g),
                "family_name": cols["family_name"],
                "given_name": cols["given_name"],
                "full_name": cols["full_name"],
                "name_pinyin": cols["name_pinyin"],
                "gender": cols["gender"],
                "birth_date": pa.array(g.birth.astype("datetime64[D]").astype(np.int32), type=pa.int32()).cast(
                    pa.date32()
                ),
                "mobile": cols["mobile"],
                "email": cols["email"],
                "id_number_enc": pa.array(enc, type=pa.string()),
                "id_number_hash": pa.array(hashes, type=pa.string()),
                "id_number_last4": pa.array([v[-4:] if v else None for v in ids], type=pa.string()),
                "country": cols["country"],
                "province": cols["province"],
                "city": cols["city"],
                "district": cols["district"],
                "address": cols["address"],
                "postcode": cols["postcode"],
                "customer_type": cols["customer_type"],
                "company": cols["company"],
                "industry": cols["industry"],
                "job_title": cols["job_title"],
                "uscc": cols["uscc"],
                "channel": _take(_strs(CHANNELS), g.channel),
                "registered_at": _ts(g.t0_epoch, g.reg),
                "updated_at": _ts(g.t0_epoch, g.updated),
                "verified_at": _ts(g.t0_epoch, g.verified),
                "lifecycle_stage": _take(_strs(STAGES), stage),
                "churn_reason": _null_where(reason < 0, _take(_strs(CHURN_REASONS), np.maximum(reason, 0))),
            }
        )
        tx.register("demo_customers", cust)
        tx.run(warehouse.raw_sql("INSERT INTO customers BY NAME SELECT * FROM demo_customers"))
        tx.unregister("demo_customers")
        t = lap("load_customers", t)

        cons = _consents(g, cols)
        tx.register("demo_consents", cons)
        tx.run(
            warehouse.raw_sql(
                "INSERT INTO consents (customer_id, channel, status, source, recorded_at,"
                " recorded_by) SELECT customer_id, channel, status, source, recorded_at,"
                " recorded_by FROM demo_consents ORDER BY customer_id, recorded_at, channel"
            )
        )
        tx.unregister("demo_consents")
        counts["consents"] = cons.num_rows
        # survey responses from their own RNG stream (lib/demo/feedback.py): the tables above
        # are the same with or without them
        counts["feedback"] = demo_feedback.load(tx, g, stage, purchases, last_purchase)

        truth = sorted(g.truth, key=lambda r: (r[0], r[1]))
        gt = pa.table(
            {
                "customer_id": pa.array([int(g.ids[r[0]]) for r in truth], type=pa.int64()),
                "defect": pa.array([r[1] for r in truth], type=pa.string()),
                "field": pa.array([r[2] for r in truth], type=pa.string()),
                "detail": pa.array([r[3] for r in truth], type=pa.string()),
                "duplicate_of": pa.array(
                    [int(g.ids[r[4]]) if r[4] is not None else None for r in truth], type=pa.int64()
                ),
            }
        )
        tx.register("demo_truth", gt)
        tx.run(warehouse.raw_sql("INSERT INTO demo_ground_truth SELECT * FROM demo_truth"))
        tx.unregister("demo_truth")
        tx.run("warehouse_mark_demo")  # `demo --if-missing` adds demo logins only here
        t = lap("load_consents_truth", t)
        search_index.rebuild(tx)
        t = lap("search_index", t)
    # past campaigns with a control group (own random stream; reads the tables above only)
    made = demo_campaigns.add(int(seed), as_of)
    counts["campaigns"] = len(made)
    t = lap("campaigns", t)
    warehouse.checkpoint()
    t = lap("checkpoint", t)

    defects: dict[str, int] = {}
    for r in g.truth:
        defects[r[1]] = defects.get(r[1], 0) + 1
    stages = {s: int((stage == i).sum()) for i, s in enumerate(STAGES)}
    timings["total"] = round(time.perf_counter() - started, 2)
    timings["cpu_total"] = round(time.process_time() - cpu_started, 2)  # all threads
    size = loc.path.stat().st_size if loc.kind == "file" and loc.path and loc.path.exists() else None
    return {
        "warehouse": loc.describe(),
        "customers": n,
        **counts,
        "ground_truth": len(g.truth),
        "defects": defects,
        "stages": stages,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "seconds": timings,
        "file_bytes": size,
    }


def _id_hashes(values: list[str | None]) -> list[str | None]:
    """privacy.id_hash for a column (the key is read once and cached by lib.core.config)."""
    return [privacy.id_hash(v) if v else None for v in values]


def _source_record_ids(g: _Build) -> pa.Array:
    """A key per source system, unique within the source, in that system's own style."""
    rng = g.rng(4)
    n = g.n
    out = pa.nulls(n, pa.string())
    for s, name in enumerate(SOURCES):
        rows = np.flatnonzero(g.source == s)
        if len(rows) == 0:
            continue
        mask = g.source == s
        serial = np.zeros(n, dtype=np.int64)
        serial[rows] = _unique_ints(rng, len(rows), 1, max(10 * len(rows), 1_000_000))
        if name == "crm":
            val = _cat("C", _num(serial, 8))
        elif name == "shop":
            val = _cat("U", _num(serial + 10_000_000))
        elif name == "wechat_mall":
            # openid-like: "o" + 21 random url-safe characters + a unique serial
            alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
            chars = np.ascontiguousarray(alphabet[rng.integers(0, 64, (n, 21))])
            head = _strs(chars.view("<U21").reshape(n).tolist())
            val = _cat("o", head, _num(serial, 6))
        elif name == "store_pos":
            val = _cat("S", _num(serial % 997 + 1, 4), "-", _num(serial, 7))
        else:
            val = _cat("tb", _num(serial + 2_200_000_000))
        out = _where(mask, val, out)
    return out


def _consents(g: _Build, cols: dict) -> pa.Table:
    """Grant at registration for most contactable customers; some withdraw later; a few of
    those grant again through the preference centre."""
    rng = g.rng(5)
    n, end = g.n, g.end
    has_mobile = pc.is_valid(cols["mobile"]).to_numpy(zero_copy_only=False)
    has_email = pc.is_valid(cols["email"]).to_numpy(zero_copy_only=False)
    signup_source = np.array(["call_centre", "signup_form", "wechat", "store", "marketplace"])
    parts = []
    for channel, p_grant, has, withdraw_src in (
        ("sms", 0.78, has_mobile, "sms_reply_td"),
        ("email", 0.66, has_email, "unsubscribe_link"),
        ("phone", 0.55, has_mobile, "call_centre"),
    ):
        grant = has & (rng.random(n) < p_grant)
        rows = np.flatnonzero(grant)
        t_grant = g.reg[rows] + rng.integers(0, 120, len(rows))
        parts.append((rows, channel, "granted", signup_source[g.source[rows]], t_grant, "system"))
        w = rng.random(len(rows)) < 0.12
        wr = rows[w]
        t_w = t_grant[w] + (rng.random(len(wr)) * (end - 1 - t_grant[w])).astype(np.int64)
        parts.append((wr, channel, "withdrawn", np.full(len(wr), withdraw_src), t_w, "system"))
        rg = rng.random(len(wr)) < 0.10
        t_rg = t_w[rg] + (rng.random(int(rg.sum())) * (end - 1 - t_w[rg])).astype(np.int64)
        parts.append((wr[rg], channel, "granted", np.full(int(rg.sum()), "preference_centre"), t_rg, "system"))
    rows = np.concatenate([p[0] for p in parts])
    return pa.table(
        {
            "customer_id": pa.array(g.ids[rows]),
            "channel": pa.array(np.concatenate([np.full(len(p[0]), p[1]) for p in parts]).tolist(), type=pa.string()),
            "status": pa.array(np.concatenate([np.full(len(p[0]), p[2]) for p in parts]).tolist(), type=pa.string()),
            "source": pa.array(
                np.concatenate([np.asarray(p[3], dtype=object) for p in parts]).tolist(), type=pa.string()
            ),
            "recorded_at": _ts(g.t0_epoch, np.concatenate([p[4] for p in parts])),
            "recorded_by": pa.array(["system"] * len(rows), type=pa.string()),
        }
    )


# ============================================================== inspection helpers

FINGERPRINT_EXCLUDES = {"id_number_enc"}  # Fernet tokens carry a random IV and a timestamp


FINGERPRINT_TABLES = {"customers": "customer_id", "orders": "order_id", "events": "event_id"}


def fingerprint() -> dict[str, str]:
    """md5 of every deterministic column of customers, orders and events (in id order):
    the same (n, seed, as_of) must give the same fingerprints."""
    out = {}
    for table, key in FINGERPRINT_TABLES.items():
        # Identifiers: the table and key from the whitelist above, columns from the catalog.
        names = [
            c for c in warehouse.read("demo_table_columns", table=table)["column_name"] if c not in FINGERPRINT_EXCLUDES
        ]
        expr = ", ".join("coalesce(CAST(" + c + " AS VARCHAR), '∅')" for c in names)
        out[table] = warehouse.scalar(
            warehouse.raw_sql(
                "SELECT md5(string_agg(concat_ws('|', " + expr + "), chr(10) ORDER BY " + key + ")) FROM " + table
            )
        )
    return out


# ============================================================== command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.demo", description="Build the deterministic demo warehouse.")
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--warehouse", help="warehouse file (default: C360_WAREHOUSE / secrets)")
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=DEFAULT_AS_OF,
        help="last day covered is the day before (default %(default)s)",
    )
    parser.add_argument("--replace", action="store_true", help="delete an existing warehouse file first")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    say = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        stats = build(args.customers, args.seed, args.as_of, args.warehouse, replace=args.replace, progress=say)
    except (DemoError, warehouse.WarehouseError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        warehouse.dispose()
    size = stats["file_bytes"]
    print(
        f"built {stats['warehouse']}: {stats['customers']:,} customers, "
        f"{stats['orders']:,} orders, {stats['events']:,} events, "
        f"{stats['consents']:,} consents, {stats['ground_truth']:,} ground-truth rows "
        f"in {stats['seconds']['total']:.1f}s" + (f" ({size / 1e6:.0f} MB)" if size else "")
    )
    print(f"stages: {stats['stages']}")
    print(f"defects: {stats['defects']}")
    print(f"timings: {stats['seconds']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
