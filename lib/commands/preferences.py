"""Category preferences, the next-category recommender and the revenue outlook.

python -m lib.cli preferences refresh [--as-of DATE] [--window-days 90]
python -m lib.cli preferences evaluate [--as-of DATE] [--horizon-days 182]
python -m lib.cli preferences outlook
"""

from __future__ import annotations

from datetime import date

from lib.core import warehouse
from lib.marketing import outlook, preferences, recommend


def register(subparsers) -> None:
    p = subparsers.add_parser("preferences", help="category preferences, next category to offer, revenue outlook")
    sub = p.add_subparsers(dest="preferences_command", required=True)
    r = sub.add_parser("refresh", help="rebuild customer_preferences (and the category similarity) as of a date")
    r.add_argument("--as-of", type=date.fromisoformat, default=None)
    r.add_argument("--window-days", type=int, default=preferences.DEFAULT_WINDOW_DAYS)
    r.set_defaults(func=cmd_refresh)
    e = sub.add_parser("evaluate", help="hit rate of the next-category model vs most popular, on a time split")
    e.add_argument("--as-of", type=date.fromisoformat, default=None)
    e.add_argument("--horizon-days", type=int, default=recommend.DEFAULT_HORIZON_DAYS)
    e.set_defaults(func=cmd_evaluate)
    o = sub.add_parser("outlook", help="next three months' expected revenue and its one-year-earlier backtest")
    o.set_defaults(func=cmd_outlook)


def cmd_refresh(args) -> int:
    warehouse.migrate()
    d = preferences.refresh(args.as_of, args.window_days)
    print(
        f"preferences as of {d['as_of']} ({d['window_days']}-day window): {d['customers']:,} customers in {d['seconds']} s"
    )
    return 0


def cmd_evaluate(args) -> int:
    warehouse.migrate()
    d = recommend.evaluate(args.as_of, args.horizon_days)
    if not d["customers"]:
        print("no customer bought after the cut date: nothing to evaluate")
        return 0
    print(
        f"next category, trained before {d['cut']}, tested on the first purchase of {d['customers']:,} customers "
        f"in the next {d['horizon_days']} days: hit@1 {d['model_hit_1']:.3f} (most popular {d['baseline_hit_1']:.3f}), "
        f"hit@3 {d['model_hit_3']:.3f} (most popular {d['baseline_hit_3']:.3f}) over {d['categories']} categories"
    )
    return 0


def cmd_outlook(args) -> int:
    warehouse.migrate()
    o = outlook.outlook()
    if o["model"] is None:
        print("no CLV model is fitted: run `python -m lib.cli clv score --out FILE` first")
        return 1
    print(
        f"{o['start']} to {o['end']}: existing customers {o['existing']:,.0f} + new customers {o['new']:,.0f} "
        f"= {o['total']:,.0f} CNY (CLV model {o['model']['clv_model_id']} as of {o['origin']})"
    )
    bt = o["backtest"]
    if bt and bt["available"]:
        err = bt["error"]["total"]
        print(
            f"backtest from {bt['origin']}: forecast {bt['forecast']['total']:,.0f} vs actual "
            f"{bt['actual']['total']:,.0f} CNY ({'n/a' if err is None else f'{100 * err:+.1f} %'})"
        )
    else:
        print("backtest: not enough history a year before the model's date")
    return 0
