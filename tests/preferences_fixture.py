"""A hand-computable warehouse for category preferences, the next category and the outlook.

As of 2026-06-30 (cutoff 2026-07-01), 90-day window from 2026-04-02:

    id  kept orders (category: net)                     favourite  bought             browsed, not bought
     1  apparel 100, apparel 200, beauty 1000           apparel    apparel, beauty    electronics
     2  beauty 300, home 500 (tie on count: more net)   home       beauty, home       -
     3  (none; carted baby 2026-06-15)                  -          -                  baby
     4  deleted: apparel 900                            (no row)
     5  apparel 1000 - refund 400 = 600, apparel 400    apparel    apparel            -
     6  refunded electronics only                       (no row: nothing kept, no browsing)
     7  apparel 100                                     apparel    apparel            -

Noise: 1's cancelled electronics order, 1's beauty browse (bought in the window), 1's old cart
of home (before the window), 1's books browse after the as-of date.

Category medians (kept orders of live customers): apparel [100, 100, 200, 400, 600] -> 200;
beauty [300, 1000] -> 650; home [500] -> 500. Mean order values: 1: 1300/3 = 433.33 (2.17x
apparel: high), 2: 400 (0.8x home: mid), 5: 500 (2.5x: high), 7: 100 (0.5x: low).

Co-purchase cosine: buyers apparel {1, 5, 7}, beauty {1, 2}, home {2}; apparel~beauty
1/sqrt(6) = 0.408, beauty~home 1/sqrt(2) = 0.707. Scores: 1: apparel 2 + 0.408 = 2.408 (beauty
0.816 + 1 = 1.816) -> apparel; 2: beauty 1 + 0.707 = home 0.707 + 1 -> tie, by name: beauty;
5 and 7: apparel.

Birthdays: 1 on 2000-02-29, 2 on 1990-12-31, 5 on 1990-07-01, others unknown.
"""

from __future__ import annotations

from datetime import date, datetime

from lib.admin import setting_changes
from lib.core import warehouse
from tests import factories as f

AS_OF = date(2026, 6, 30)


def build() -> None:
    setting_changes.put_system("data_as_of", AS_OF.isoformat())
    with warehouse.transaction() as tx:
        f.customer(tx, 1, birth_date=date(2000, 2, 29), gender="F")
        f.customer(tx, 2, birth_date=date(1990, 12, 31))
        f.customer(tx, 3)
        f.customer(tx, 4, deleted_at=datetime(2026, 6, 1))
        f.customer(tx, 5, birth_date=date(1990, 7, 1))
        f.customer(tx, 6)
        f.customer(tx, 7)
        f.order(tx, 1, datetime(2026, 1, 10, 10), 100, category="apparel", channel="web")
        f.order(tx, 1, datetime(2026, 5, 10, 10), 200, category="apparel", channel="app")
        f.order(tx, 1, datetime(2026, 6, 1, 10), 1000, category="beauty", channel="app")
        f.order(tx, 1, datetime(2026, 6, 2, 10), 5000, category="electronics", status="cancelled")
        f.event(tx, 1, "browse", datetime(2026, 6, 20, 9), category="electronics")
        f.event(tx, 1, "browse", datetime(2026, 6, 10, 9), category="beauty")
        f.event(tx, 1, "add_to_cart", datetime(2026, 3, 1, 9), category="home")
        f.event(tx, 1, "browse", datetime(2026, 7, 5, 9), category="books")
        f.order(tx, 2, datetime(2026, 2, 1, 10), 300, category="beauty", channel="store")
        f.order(tx, 2, datetime(2026, 3, 1, 10), 500, category="home", channel="store")
        f.event(tx, 3, "add_to_cart", datetime(2026, 6, 15, 9), category="baby")
        f.order(tx, 4, datetime(2026, 5, 1, 10), 900, category="apparel")
        f.order(tx, 5, datetime(2026, 4, 1, 10), 1000, refund=400, status="partially_refunded", category="apparel")
        f.order(tx, 5, datetime(2026, 4, 20, 10), 400, category="apparel")
        f.order(tx, 6, datetime(2026, 4, 1, 10), 800, refund=800, status="refunded", category="electronics")
        f.order(tx, 7, datetime(2025, 12, 24, 10), 100, category="apparel")
