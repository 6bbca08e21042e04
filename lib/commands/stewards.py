"""Data stewardship jobs: import files, run quality rules, find and export duplicates.

    python -m lib.cli import customers FILE --source NAME [--mapping FILE]
    python -m lib.cli quality run
    python -m lib.cli dedup run | dedup export --out FILE | dedup evaluate

Jobs run as the system user (auth.SYSTEM) and are audited like page actions.
"""
from __future__ import annotations

import json
import sys
import time

from lib.security import auth
from lib.stewardship import dedup, importer, quality
from lib.core import warehouse


def register(subparsers) -> None:
    p = subparsers.add_parser("import", help="import customers, orders or events from CSV/Excel")
    p.add_argument("kind", choices=["customers", "orders", "events"])
    p.add_argument("file")
    p.add_argument("--source", required=True, help="source system name, e.g. crm, shop, tmall")
    p.add_argument("--mapping", help="JSON mapping {field: [columns]} (saved from the import page)")
    p.add_argument("--customer-source", help="source whose customer keys orders/events refer to "
                                             "(default: --source)")
    p.add_argument("--no-dedup", action="store_true", help="skip incremental duplicate matching")
    p.set_defaults(func=cmd_import)

    q = subparsers.add_parser("quality", help="data-quality rules")
    qs = q.add_subparsers(dest="quality_command", required=True)
    qr = qs.add_parser("run", help="run every rule, store a scorecard, update the flags")
    qr.set_defaults(func=cmd_quality_run)

    d = subparsers.add_parser("dedup", help="duplicate customers (splink)")
    ds = d.add_subparsers(dest="dedup_command", required=True)
    dr = ds.add_parser("run", help="train the model on all customers and store candidate pairs")
    dr.add_argument("--threshold", type=float, default=None)
    dr.set_defaults(func=cmd_dedup_run)
    de = ds.add_parser("export", help="write candidate pairs and clusters as CSV")
    de.add_argument("--out", required=True)
    de.add_argument("--min-probability", type=float, default=None)
    de.set_defaults(func=cmd_dedup_export)
    dv = ds.add_parser("evaluate", help="precision/recall/F1 against the demo's injected duplicates")
    dv.add_argument("--threshold", type=float, default=None)
    dv.set_defaults(func=cmd_dedup_evaluate)


def _progress(fraction: float, stage: str) -> None:
    print(f"\r{int(fraction * 100):3d}% {stage:<12}", end="", file=sys.stderr, flush=True)


def cmd_import(args) -> int:
    warehouse.migrate()
    mapping = importer.load_mapping(args.mapping) if args.mapping else None
    if mapping and mapping.get("kind") not in (None, args.kind):
        raise ValueError(f"The mapping file is for {mapping['kind']}, not {args.kind}.")
    result = importer.import_file(auth.SYSTEM, args.kind, args.file, args.source, mapping,
                                  customer_source=args.customer_source, progress=_progress,
                                  match_duplicates=not args.no_dedup)
    print(file=sys.stderr)
    print(json.dumps(result.as_dict(), ensure_ascii=False, default=str))
    return 0


def cmd_quality_run(args) -> int:
    warehouse.migrate()
    r = quality.run(auth.SYSTEM)
    print(f"quality run {r.run_id}: {r.customers:,} customers, overall score "
          f"{100 * (r.overall_score or 0):.1f}%, flags opened {r.flags_opened}, resolved "
          f"{r.flags_resolved}, {r.seconds:.1f} s")
    return 0


def cmd_dedup_run(args) -> int:
    warehouse.migrate()
    started = time.perf_counter()
    r = dedup.run(auth.SYSTEM, threshold=args.threshold or dedup.CANDIDATE_THRESHOLD)
    print(f"dedup run {r.run_id}: {r.records:,} records, {r.pairs:,} pairs (new {r.new_pairs:,}), "
          f"{r.clusters:,} clusters, {time.perf_counter() - started:.1f} s")
    return 0


def cmd_dedup_export(args) -> int:
    warehouse.migrate()
    out = dedup.export(auth.SYSTEM, args.out, args.min_probability
                       if args.min_probability is not None else dedup.CANDIDATE_THRESHOLD)
    print(json.dumps(out))
    return 0


def cmd_dedup_evaluate(args) -> int:
    print(json.dumps(dedup.evaluate(args.threshold or dedup.CLUSTER_THRESHOLD)))
    return 0
