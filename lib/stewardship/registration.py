"""Registration dates a source did not give: inferred from the first known activity.

A customer file without registration dates stores them as unknown (``registered_at`` NULL),
never as the import's clock time: with "today" as the registration date every as-of metric
and model (RFM, churn, lifecycle, cohorts) would see nobody registered before its cutoff.

After every load (``lib/stewardship/importer.py`` inside the import's transaction, the demo build, and
``python -m lib.cli registration infer`` for warehouses filled by other means) the named query
``infer_registration_dates`` (lib/core/sql/registration.sql) sets each unknown or previously
inferred date to the customer's earliest order (any status) or event, and marks it
``registered_inferred``. A date given by a source is never changed. A customer with no
activity at all keeps an unknown date until some arrives.
"""

from __future__ import annotations

from lib.security import audit, auth
from lib.core import warehouse


def infer(tx: warehouse.Tx, user: auth.User | None = None) -> dict:
    """Fill unknown (and re-check inferred) registration dates in this transaction.

    Returns {"changed": dates set now, "inferred": customers whose date is inferred,
    "unknown": live customers still without a date}. Audited (``registration.infer``) when
    a date changed."""
    changed = int(tx.scalar("registration_changes_count")) if tx.scalar("registration_to_infer_count") else 0
    if changed:
        tx.run("infer_registration_dates")
    result = {
        "changed": changed,
        "inferred": int(tx.scalar("registration_inferred_count")),
        "unknown": int(tx.scalar("registration_unknown_count")),
    }
    if changed:
        audit.record(tx, user or auth.SYSTEM, "registration.infer", "customers", None, detail=result)
    return result


@warehouse.retrying
def infer_dates(user: auth.User) -> dict:
    """The CLI's entry point: infer in one transaction of its own."""
    auth.require(user, "import_data")
    with warehouse.transaction() as tx:
        return infer(tx, user)
