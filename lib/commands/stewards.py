"""Data stewardship jobs: import files, run quality rules, find and export duplicates.

    python -m lib.cli import customers FILE --source NAME [--mapping FILE] [--country AU]
    python -m lib.cli entry-rules show [--source NAME] [--kind customers]
    python -m lib.cli entry-rules set --source NAME [--kind customers] --require FIELD=quarantine|flag ...
    python -m lib.cli quality run
    python -m lib.cli dedup run | dedup export --out FILE | dedup evaluate
    python -m lib.cli registration infer      (unknown registration dates from first activity)

Jobs run as the system user (auth.SYSTEM) and are audited like page actions.
"""

from __future__ import annotations

import json
import sys
import time

from lib.security import auth
from lib.stewardship import dedup, importer, quality, registration
from lib.core import i18n, warehouse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "import", help="import customers, orders, events, consents, interactions or feedback from CSV/Excel"
    )
    p.add_argument("kind", choices=list(importer.KINDS))
    p.add_argument("file")
    p.add_argument("--source", required=True, help="source system name, e.g. crm, shop, tmall")
    p.add_argument("--mapping", help="JSON mapping {field: [columns]} (saved from the import page)")
    p.add_argument(
        "--customer-source", help="source whose customer keys orders/events/feedback refer to (default: --source)"
    )
    p.add_argument(
        "--country",
        help="country of rows without one (ISO code or name, e.g. AU): phones "
        "and postcodes are read in it; default: the source's entry rules, else CN",
    )
    p.add_argument("--no-dedup", action="store_true", help="skip incremental duplicate matching")
    p.add_argument(
        "--create-customers",
        action="store_true",
        help="orders/events: create the customers the file names that the customer source does not have "
        "(from the key, and the file's customer name and country columns; checked by that source's entry rules)",
    )
    p.set_defaults(func=cmd_import)

    r = subparsers.add_parser("entry-rules", help="entry rules: required fields per source and kind")
    rs = r.add_subparsers(dest="rules_command", required=True)
    rshow = rs.add_parser("show", help="print the rules in force for a source")
    rshow.add_argument("--source", default="*", help="source name (default: * = every other source)")
    rshow.add_argument("--kind", choices=["customers", "orders", "events"], help="default: all kinds")
    rshow.add_argument("--json", action="store_true", help="print JSON instead of text")
    rshow.set_defaults(func=cmd_rules_show)
    rset = rs.add_parser(
        "set", help="save a new version of a source's rules (audited; replaces the required fields as a whole)"
    )
    rset.add_argument("--source", required=True, help="source name, or * for every source without its own")
    rset.add_argument("--kind", choices=["customers", "orders", "events"], default="customers")
    rset.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="FIELD=quarantine|flag",
        help="a required field and what a missing one does (repeat the option)",
    )
    rset.add_argument("--country", help="default country of the source's rows (customers)")
    rset.add_argument("--note", help="why (kept in the history and the audit log)")
    rset.set_defaults(func=cmd_rules_set)

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

    # The import runs this step after every load; the command is for warehouses filled by
    # other means (a script, a restore of an older file).
    g = subparsers.add_parser("registration", help="registration dates not given by a source")
    gs = g.add_subparsers(dest="registration_command", required=True)
    gi = gs.add_parser("infer", help="set unknown registration dates to the first known activity")
    gi.set_defaults(func=cmd_registration_infer)


def _progress(fraction: float, stage: str) -> None:
    print(f"\r{int(fraction * 100):3d}% {stage:<12}", end="", file=sys.stderr, flush=True)


def _rules_text(rules, country: str | None = None) -> str:
    head = f"{rules.kind} ({rules.origin}" + (f", version {rules.version}" if rules.version else "") + ")"
    lines = rules.describe("en")
    if country:
        lines[-1] = f"Country: {i18n.country_name(country, 'en')} ({country})"
    return "\n".join([head] + [f"  {line}" for line in lines])


def cmd_import(args) -> int:
    from lib.core import validation, warehouse

    warehouse.migrate()
    mapping = importer.load_mapping(args.mapping) if args.mapping else None
    if mapping and mapping.get("kind") not in (None, args.kind):
        raise ValueError(f"The mapping file is for {mapping['kind']}, not {args.kind}.")
    country = None
    if args.country:
        try:
            country = validation.country(args.country)
        except validation.FieldError:
            raise ValueError(f"{args.country!r} is not a country: give an ISO code such as AU, GB, US or CN.") from None
    rules = importer.rules_for(args.source, args.kind)
    print(f"entry rules in force for {args.source}: " + _rules_text(rules, country), file=sys.stderr)
    result = importer.import_file(
        auth.SYSTEM,
        args.kind,
        args.file,
        args.source,
        mapping,
        customer_source=args.customer_source,
        progress=_progress,
        country=country,
        match_duplicates=not args.no_dedup,
        create_customers=args.create_customers,
    )
    print(file=sys.stderr)
    print(json.dumps(result.as_dict(), ensure_ascii=False, default=str))
    return 0


def cmd_rules_show(args) -> int:
    from lib.stewardship import entry_rules
    from lib.core import warehouse

    warehouse.migrate()
    kinds = [args.kind] if args.kind else list(entry_rules.KINDS)
    found = [entry_rules.in_force(args.source, k) for k in kinds]
    if args.json:
        print(json.dumps([r.as_dict() for r in found], ensure_ascii=False))
    else:
        print(f"entry rules in force for source {args.source}:")
        for r in found:
            print(_rules_text(r))
    return 0


def cmd_rules_set(args) -> int:
    from lib.stewardship import entry_rules
    from lib.core import warehouse

    warehouse.migrate()
    required = {}
    for item in args.require:
        field, sep, action = item.partition("=")
        if not sep:
            raise ValueError(f"--require {item!r}: write FIELD=quarantine or FIELD=flag.")
        required[field.strip()] = action.strip()
    rules = entry_rules.save(auth.SYSTEM, args.source, args.kind, required, country=args.country, note=args.note)
    print(f"saved: entry rules for source {args.source}:")
    print(_rules_text(rules))
    return 0


def cmd_quality_run(args) -> int:
    warehouse.migrate()
    r = quality.run(auth.SYSTEM)
    print(
        f"quality run {r.run_id}: {r.customers:,} customers, overall score "
        f"{100 * (r.overall_score or 0):.1f}%, flags opened {r.flags_opened}, resolved "
        f"{r.flags_resolved}, {r.seconds:.1f} s"
    )
    return 0


def cmd_dedup_run(args) -> int:
    warehouse.migrate()
    started = time.perf_counter()
    r = dedup.run(auth.SYSTEM, threshold=args.threshold or dedup.CANDIDATE_THRESHOLD)
    print(
        f"dedup run {r.run_id}: {r.records:,} records, {r.pairs:,} pairs (new {r.new_pairs:,}), "
        f"{r.clusters:,} clusters, {time.perf_counter() - started:.1f} s"
    )
    return 0


def cmd_dedup_export(args) -> int:
    warehouse.migrate()
    out = dedup.export(
        auth.SYSTEM, args.out, args.min_probability if args.min_probability is not None else dedup.CANDIDATE_THRESHOLD
    )
    print(json.dumps(out))
    return 0


def cmd_dedup_evaluate(args) -> int:
    print(json.dumps(dedup.evaluate(args.threshold or dedup.CLUSTER_THRESHOLD)))
    return 0


def cmd_registration_infer(args) -> int:
    warehouse.migrate()
    result = registration.infer_dates(auth.SYSTEM)
    print(
        f"registration dates: {result['changed']:,} set now; {result['inferred']:,} inferred from first activity, "
        f"{result['unknown']:,} still unknown (no order or event yet)"
    )
    return 0
