"""A tiny warehouse whose dashboard numbers are computed by hand in the tests' docstrings.

as_of 2026-06-30; the period W = 2026-04-01..2026-06-30 (91 days), the previous period
P = 2025-12-31..2026-03-31; churn window 365 days.

  1 web  广东 B2C  reg 2024-01-01  orders 2025-01-10 100, 2026-04-15 200, 2026-05-20 300; browse 2026-02-10  repeat
  2 app  广东 B2C  reg 2026-05-05  order 2026-05-06 500; refunded order 2026-05-07 80/80; return 2026-05-08     customer
  3 web  广东 B2C  reg 2024-03-01  no orders; browse 2026-01-15 and 2026-06-30                                  intent
  4 web  浙江 B2B  reg 2023-06-01  orders 2024-12-01 1000, 2025-02-01 400 partially refunded 100               churned
  5 web  广东 B2C  reg 2025-12-31  order 2026-03-31 50; cancelled order 2026-04-02 999 (no event)            customer
  6 merged into 1: reg 2026-04-10, order 2026-04-11 700    (never counted)
  7 deleted:       reg 2026-04-10, browse 2026-04-12       (never counted)
  8 web  广东 B2C  reg 2025-06-01  nothing                                                                    prospect
"""

from __future__ import annotations

from datetime import date, datetime as dt  # noqa: F401 - dt is used by tests too

from lib.dashboards import aggregates
from lib.core import warehouse
from lib.admin import setting_changes
from tests import factories as fx

AS_OF = date(2026, 6, 30)
W = (date(2026, 4, 1), date(2026, 6, 30))


def build() -> None:
    setting_changes.put_system("data_as_of", AS_OF.isoformat())
    with warehouse.transaction() as tx:
        fx.customer(
            tx,
            1,
            registered_at=dt(2024, 1, 1),
            lifecycle_stage="repeat",
            mobile="+8613812345678",
            email="zhang.san@example.com",
            full_name="张三",
            name_pinyin="zhang san|zs|zhangsan",
        )
        fx.order(tx, 1, dt(2025, 1, 10, 10), 100)
        fx.order(tx, 1, dt(2026, 4, 15, 10), 200)
        fx.order(tx, 1, dt(2026, 5, 20, 10), 300)
        fx.event(tx, 1, "browse", dt(2026, 2, 10, 9))

        fx.customer(
            tx,
            2,
            registered_at=dt(2026, 5, 5),
            channel="app",
            lifecycle_stage="customer",
            full_name="李四",
            name_pinyin="li si|ls|lisi",
            mobile="+8613900001111",
        )
        fx.order(tx, 2, dt(2026, 5, 6, 12), 500)
        fx.order(tx, 2, dt(2026, 5, 7, 12), 80, status="refunded", refund=80)
        fx.event(tx, 2, "return", dt(2026, 5, 8, 12))

        fx.customer(
            tx,
            3,
            registered_at=dt(2024, 3, 1),
            lifecycle_stage="intent",
            full_name="王五",
            name_pinyin="wang wu|ww|wangwu",
        )
        fx.event(tx, 3, "browse", dt(2026, 1, 15, 8))
        fx.event(tx, 3, "browse", dt(2026, 6, 30, 23, 59))

        fx.customer(
            tx,
            4,
            registered_at=dt(2023, 6, 1),
            province="浙江省",
            customer_type="B2B",
            industry="retail",
            company="杭州示例贸易有限公司",
            lifecycle_stage="churned",
            full_name="赵六",
            name_pinyin="zhao liu|zl|zhaoliu",
            email="liu.zhao@example.cn",
        )
        fx.order(tx, 4, dt(2024, 12, 1), 1000)
        fx.order(tx, 4, dt(2025, 2, 1), 400, status="partially_refunded", refund=100)

        fx.customer(
            tx,
            5,
            registered_at=dt(2025, 12, 31),
            lifecycle_stage="customer",
            full_name="Anna Smith",
            name_pinyin="anna smith|as|annasmith",
        )
        fx.order(tx, 5, dt(2026, 3, 31, 20), 50)
        fx.order(tx, 5, dt(2026, 4, 2), 999, status="cancelled", with_event=False)

        fx.customer(tx, 6, registered_at=dt(2026, 4, 10), merged_into=1, full_name="张三")
        fx.order(tx, 6, dt(2026, 4, 11), 700)

        fx.customer(tx, 7, registered_at=dt(2026, 4, 10), deleted_at=dt(2026, 5, 1))
        fx.event(tx, 7, "browse", dt(2026, 4, 12))

        fx.customer(
            tx,
            8,
            registered_at=dt(2025, 6, 1),
            lifecycle_stage="prospect",
            full_name="周八",
            name_pinyin="zhou ba|zb|zhouba",
        )
    aggregates.refresh()
