"""Marketing jobs: segment export, RFM refresh, lifecycle recompute, churn train/score, CLV score.

Jobs run as the system user (auth.SYSTEM) and are audited like the same action in the app.
"""

from __future__ import annotations

from datetime import date
from lib.security import auth
from lib.core import warehouse
from lib.marketing import audience, churn, clv, lifecycle, rfm


def register(subparsers) -> None:
    p = subparsers.add_parser("segment", help="saved segments: export a reachable audience")
    sub = p.add_subparsers(dest="segment_command", required=True)
    e = sub.add_parser("export", help="export the reachable members of a saved segment")
    e.add_argument("name", help="saved segment name")
    e.add_argument("--channel", required=True, choices=("sms", "email", "phone"))
    e.add_argument("--out", required=True, help="output file, .csv or .xlsx")
    e.add_argument("--as-of", type=date.fromisoformat, default=None)
    e.set_defaults(func=cmd_segment_export)

    p = subparsers.add_parser("rfm", help="RFM snapshot used by the segment builder")
    sub = p.add_subparsers(dest="rfm_command", required=True)
    r = sub.add_parser("refresh", help="recompute RFM scores as of a date into customer_rfm")
    r.add_argument("--as-of", type=date.fromisoformat, default=None)
    r.set_defaults(func=cmd_rfm_refresh)

    p = subparsers.add_parser("lifecycle", help="lifecycle stages")
    sub = p.add_subparsers(dest="lifecycle_command", required=True)
    r = sub.add_parser("recompute", help="recompute customers.lifecycle_stage (set-based)")
    r.add_argument("--as-of", type=date.fromisoformat, default=None)
    r.add_argument("--churn-days", type=int, default=None)
    r.add_argument("--repeat-orders", type=int, default=2)
    r.add_argument("--intent-days", type=int, default=90)
    r.set_defaults(func=cmd_lifecycle_recompute)

    p = subparsers.add_parser("churn", help="churn risk model")
    sub = p.add_subparsers(dest="churn_command", required=True)
    for verb, helptext in (
        ("train", "train and evaluate a model version"),
        ("score", "score every purchaser with the latest model"),
    ):
        c = sub.add_parser(verb, help=helptext)
        c.add_argument("--as-of", type=date.fromisoformat, default=None)
        c.add_argument("--horizon-days", type=int, default=90)
        c.add_argument("--out", default=None, help="also write the scores to this CSV file")
        c.set_defaults(func=cmd_churn_train if verb == "train" else cmd_churn_score)

    p = subparsers.add_parser("clv", help="customer lifetime value (BG/NBD + Gamma-Gamma)")
    sub = p.add_subparsers(dest="clv_command", required=True)
    c = sub.add_parser("score", help="backtest, fit and score every purchaser")
    c.add_argument("--as-of", type=date.fromisoformat, default=None)
    c.add_argument("--horizon-days", type=int, default=180)
    c.add_argument("--out", required=True, help="CSV keyed by source, source_record_id")
    c.add_argument("--no-backtest", action="store_true")
    c.set_defaults(func=cmd_clv_score)


def _system():
    warehouse.migrate()
    return auth.SYSTEM


def cmd_segment_export(args) -> int:
    result = audience.export_to_file(_system(), args.name, args.channel, args.out, args.as_of)
    print(f"exported {result.rows:,} reachable {args.channel} contacts of {args.name!r} to {args.out}")
    return 0


def cmd_rfm_refresh(args) -> int:
    count = rfm.refresh(_system(), args.as_of)
    print(f"RFM snapshot: {count:,} customers")
    return 0


def cmd_lifecycle_recompute(args) -> int:
    user = _system()
    defaults = lifecycle.Rules.default()
    rules = lifecycle.Rules(
        churn_days=args.churn_days or defaults.churn_days,
        repeat_orders=args.repeat_orders,
        intent_days=args.intent_days,
    )
    detail = lifecycle.recompute(user, args.as_of, rules)
    print(f"lifecycle: {detail['changed']:,} customers changed stage")
    for t in detail["transitions"]:
        print(f"  {t['before']:>9} -> {t['after']:<9} {t['customers']:,}")
    return 0


def _progress(fraction: float, message: str) -> None:
    print(f"  {fraction:4.0%} {message}", flush=True)


def cmd_churn_train(args) -> int:
    m = churn.train(_system(), args.as_of, args.horizon_days, progress=_progress)
    print(
        f"churn model {m['model_id']}: holdout ROC AUC {m['auc']:.3f} "
        f"(recency baseline {m['baseline_auc']:.3f}); precision@10% {m['precision_at_k']:.3f} "
        f"(baseline {m['baseline_precision_at_k']:.3f}); base rate {m['base_rate']:.3f}; "
        f"{m['n_train']:,} training / {m['n_holdout']:,} holdout rows; {m['seconds']['total']} s"
    )
    for note in m.get("notes", []):
        print(f"  note: {note}")
    if args.out:
        churn.score(_system(), args.as_of, args.horizon_days, model_id=m["model_id"])
        print(f"wrote {churn.export_scores(_system(), args.out):,} scores to {args.out}")
    return 0


def cmd_churn_score(args) -> int:
    d = churn.score(_system(), args.as_of, args.horizon_days, progress=_progress)
    print(
        f"scored {d['scored']:,} customers with model {d['model_id']} "
        f"(high {d['tiers']['high']:,}, medium {d['tiers']['medium']:,}, low {d['tiers']['low']:,}) "
        f"in {d['seconds']['total']} s"
    )
    if args.out:
        print(f"wrote {churn.export_scores(_system(), args.out):,} scores to {args.out}")
    return 0


def cmd_clv_score(args) -> int:
    d = clv.fit_and_score(
        _system(), args.as_of, args.horizon_days, progress=_progress, with_backtest=not args.no_backtest
    )
    bg, gg = d["bgnbd"], d["gamma_gamma"]
    print(
        f"BG/NBD r={bg['r']:.3f} alpha={bg['alpha']:.2f} a={bg['a']:.3f} b={bg['b']:.3f}; "
        f"Gamma-Gamma p={gg['p']:.3f} q={gg['q']:.3f} gamma={gg['gamma']:.2f}"
    )
    if d["backtest"]:
        bt = d["backtest"]
        print(
            f"backtest ({bt['horizon_days']} days after {bt['calibration_cutoff']}): predicted "
            f"{bt['predicted_purchases']:,.0f} purchases vs actual {bt['actual_purchases']:,.0f}; "
            f"MAE {bt['mae']:.3f} per customer; correlation {bt['correlation']:.3f}"
        )
    print(f"wrote {clv.export_scores(_system(), args.out):,} CLV scores to {args.out} ({d['seconds']['total']} s)")
    return 0
