"""The generator: one seeded build of n customers as of a date (its parts are mixins)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from lib.demo.spec import DAY, DemoError, HISTORY_DAYS, REGISTRATION_GROWTH
from lib.demo.pools import Curve, _season
from lib.demo.customers import Customers
from lib.demo.defects import Defects
from lib.demo.activity import Activity


class _Build(Customers, Defects, Activity):
    """One build: state shared by its parts (customers, defects, activity)."""

    def __init__(self, n: int, seed: int, as_of: date):
        if n < 100:
            raise DemoError("Build at least 100 customers (defect rates need a population).")
        self.n, self.seed, self.as_of = n, seed, as_of
        self.t0 = np.datetime64(as_of - timedelta(days=HISTORY_DAYS), "s")
        self.t0_epoch = int(self.t0.astype(np.int64))
        # Data runs through the end of the as-of day (lib/marketing/lifecycle.py's cutoff = as_of + 1 day).
        self.end = (HISTORY_DAYS + 1) * DAY
        days = np.datetime64(as_of - timedelta(days=HISTORY_DAYS), "D") + np.arange(HISTORY_DAYS + 1)
        season = _season(days)
        growth = np.exp(np.log(REGISTRATION_GROWTH) / 365 * np.arange(HISTORY_DAYS + 1))
        self.reg_curve = Curve(growth * season**0.5)
        self.order_curve = Curve(season)
        self.browse_curve = Curve(season**0.7)

    def rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *key])
