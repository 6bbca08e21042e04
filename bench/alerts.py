"""Cost of the alert rules on audited actions, on an audit log of 3M entries (issue #17).

`python -m bench.alerts [--entries N]`: builds a migrated warehouse whose audit_log holds N
entries spread over the 180 days before the last two hours, in time order (as the log grows),
then times, with and without the alerts subscriber (alternating, so both see the same machine
load), the audited actions a page view or an export writes: a Customer 360 view
(`customer.view`), a login, a download, an ID reveal, a failed login, and one no rule reads.
Median of RUNS runs each. No threshold is crossed: this is the cost of evaluating the rules.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import bench  # noqa: F401 - keys, inline SQL for the set-up
from lib.admin import alerts, setting_changes
from lib.core import warehouse
from lib.security import audit, auth

RUNS = 100


def build(path: Path, entries: int) -> None:
    warehouse.use(str(path))
    warehouse.migrate()
    auth.seed_demo_users()
    with warehouse.transaction() as tx:
        tx.run(
            "INSERT INTO audit_log (occurred_at, username, roles, action, entity, entity_id, detail) "
            "SELECT now() - INTERVAL 2 HOUR - INTERVAL 180 DAY + (i * (180 * 86400.0 / :n)) * INTERVAL 1 SECOND, "
            "['admin','steward','manager','marketing','lead'][1 + i % 5], 'admin', "
            "['customer.view','login','download','pii.reveal','login.failed','tag.add'][1 + i % 6], "
            "'customer', CAST(i % 50000 AS VARCHAR), '{\"rows\": 3}' "
            "FROM range(:n) t(i) ORDER BY 1",
            n=entries,
        )
    warehouse.checkpoint()


def timed(action) -> tuple[float, float]:
    """Median ms of the action without and with the alerts subscriber, runs alternating."""
    without, with_rules = [], []
    for _ in range(RUNS):
        for subscribed, times in ((False, without), (True, with_rules)):
            audit._subscribers[:] = [alerts.on_audit] if subscribed else []
            started = time.perf_counter()
            action()
            times.append(time.perf_counter() - started)
    return statistics.median(without) * 1000, statistics.median(with_rules) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=3_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "warehouse.duckdb"
        started = time.perf_counter()
        build(path, args.entries)
        print(f"audit_log: {args.entries:,} entries over 180 days, built in {time.perf_counter() - started:.1f} s")
        audit._subscribed = True  # the subscriber list is set per measurement below
        setting_changes.put_system("alert_reveals_max", 10 * RUNS)  # the bench's own reveals stay under it
        setting_changes.put_system("alert_failed_logins_max", 10 * RUNS)
        steward = auth.User("steward", roles=frozenset({"steward"}))
        admin = auth.User("admin", roles=frozenset({"admin"}))
        actions = {
            "customer.view (a 360 page view)": lambda: audit.record(None, steward, "customer.view", "customer", 7),
            "login": lambda: audit.record(None, steward, "login", detail={"client": "bench"}),
            "download (mass export rule)": lambda: audit.record(None, admin, "download", "x", detail={"rows": 3}),
            "pii.reveal (reveal burst rule)": lambda: audit.record(None, admin, "pii.reveal", "customer", 7),
            "login.failed (failed logins rule)": lambda: audit.record(None, "ghost", "login.failed"),
            "tag.add (no rule)": lambda: audit.record(None, admin, "tag.add", "customer", 7),
        }
        print(f"{'audited action':<36} {'no alerts ms':>12} {'with alerts ms':>15} {'added ms':>9}")
        for name, action in actions.items():
            base, with_rules = timed(action)
            print(f"{name:<36} {base:>12.2f} {with_rules:>15.2f} {with_rules - base:>9.2f}")
        print(f"{'rules alone (alerts.on_audit)':<36} {'median ms':>12} {'p90 ms':>15}")
        for name, action in actions.items():
            entry = audit.Entry(*_entry_of(name))
            times = []
            for _ in range(RUNS):
                started = time.perf_counter()
                alerts.on_audit(entry)
                times.append(time.perf_counter() - started)
            times.sort()
            print(f"{name:<36} {statistics.median(times) * 1000:>12.2f} {times[int(0.9 * RUNS)] * 1000:>15.2f}")
        warehouse.dispose()
    return 0


def _entry_of(name: str) -> tuple:
    action = name.split(" ")[0]
    username = {"login.failed": "ghost", "customer.view": "steward", "login": "steward"}.get(action, "admin")
    return (username, frozenset({"admin"}), action, "customer", "7", {"rows": 3})


if __name__ == "__main__":
    sys.exit(main())
