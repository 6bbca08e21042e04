"""Lifecycle stages (prospect, intent, customer, repeat, churned) by documented rules.

Rules, evaluated as of a date with data strictly before as_of + 1 day; the first match wins:

1. churned  - has purchases, but none within ``churn_days`` (default: the admin setting
              ``churn_window_days``, 365);
2. repeat   - at least ``repeat_orders`` purchases (default 2);
3. customer - exactly one purchase (fewer than ``repeat_orders``);
4. intent   - no purchase, but an add_to_cart or consult event within ``intent_days`` (90);
5. prospect - everything else (registered, no purchase, no recent intent).

A purchase is an order paid or partially refunded. Churned customers keep a churn reason
already recorded (a steward's note wins); otherwise they get ``complaint`` or ``return``
when such an event came within ``reason_days`` (30) before their last purchase or after it;
otherwise the reason stays unknown (NULL).

``recompute`` writes the stage into customers.lifecycle_stage in one set-based UPDATE (only
rows whose stage changes) and audits the transition counts. The stage is derived data, so
recompute does not bump customers.version (a bulk job must not make every open edit form stale).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

import pandas as pd

from lib.security import audit, auth
from lib.core import settings, warehouse
from lib.marketing.queries import compose

STAGES = ("prospect", "intent", "customer", "repeat", "churned")


@dataclass(frozen=True)
class Rules:
    churn_days: int = 365
    repeat_orders: int = 2
    intent_days: int = 90
    reason_days: int = 30

    @classmethod
    def default(cls) -> "Rules":
        return cls(churn_days=int(settings.get("churn_window_days")))

    def validate(self) -> "Rules":
        if not 1 <= self.churn_days <= 3650:
            raise ValueError("churn_days must be between 1 and 3650")
        if not 2 <= self.repeat_orders <= 100:
            raise ValueError("repeat_orders must be between 2 and 100")
        if not 1 <= self.intent_days <= 365 or not 0 <= self.reason_days <= 365:
            raise ValueError("intent_days must be 1..365 and reason_days 0..365")
        return self


def _params(as_of: date, rules: Rules) -> dict:
    return {"as_of": as_of, **asdict(rules.validate())}


def stages(as_of: date | None = None, rules: Rules | None = None) -> pd.DataFrame:
    """Stage and derived churn reason per customer as of a date (small warehouses, tests)."""
    return warehouse.read(
        warehouse.raw_sql(compose("lifecycle_stages") + " ORDER BY customer_id"),
        **_params(as_of or settings.as_of(), rules or Rules.default()),
    )


def counts_as_of(as_of: date | None = None, rules: Rules | None = None) -> dict[str, int]:
    frame = warehouse.read(
        compose("lifecycle_counts_as_of"), **_params(as_of or settings.as_of(), rules or Rules.default())
    )
    found = dict(zip(frame["stage"], frame["customers"].astype(int)))
    return {stage: found.get(stage, 0) for stage in STAGES}


def counts_stored() -> pd.DataFrame:
    """Stage counts as stored on the customers (the last recompute)."""
    return warehouse.read("lifecycle_counts_stored")


def churn_reasons() -> pd.DataFrame:
    return warehouse.read("churn_reasons")


def recompute(user: auth.User, as_of: date | None = None, rules: Rules | None = None) -> dict:
    """Write the stage of every live customer as of a date; returns transition counts."""
    auth.require(user, "manage_segments")
    return _recompute(user, as_of or settings.as_of(), rules or Rules.default())


@warehouse.retrying
def _recompute(user: auth.User, as_of: date, rules: Rules) -> dict:
    params = _params(as_of, rules)
    with warehouse.transaction() as tx:
        transitions = tx.df(compose("lifecycle_transitions"), **params)
        tx.run(compose("lifecycle_apply"), **params)
        changed = int(transitions["customers"].sum()) if len(transitions) else 0
        detail = {
            "as_of": as_of,
            "rules": asdict(rules),
            "changed": changed,
            "transitions": [
                {"before": r.before, "after": r.after, "customers": int(r.customers)} for r in transitions.itertuples()
            ],
        }
        audit.record(tx, user, "lifecycle.recompute", "customers", None, detail=detail)
    return detail
