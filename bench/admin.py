"""Admin operations at 1M customers / 8M orders / 20M events: backup, verify, drill, restore,
key rotation, data-subject export and erasure, audit search.

    .venv/bin/python -m bench.admin [--source /tmp/bench/warehouse-1m.duckdb] [--work /tmp/admin/bench]

Copies the source warehouse first (never opens it read-write). Key rotation adds a fresh key
in front of the configured (demo) key, as the operations guide says. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from contextlib import contextmanager

from bench import SOURCE_1M, timed, working_copy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default=SOURCE_1M)
    parser.add_argument("--work", default="/tmp/admin/bench")
    args = parser.parse_args()
    work, path = working_copy(args.source, args.work)
    os.environ["C360_BACKUP_DIR"] = str(work / "backups")

    from cryptography.fernet import Fernet

    from lib.admin import audit_log as audit_trail, backup, users
    from lib.security import auth, privacy
    from lib.core import config, warehouse

    warehouse.use(str(path))
    warehouse.migrate()
    admin = auth.SYSTEM
    rows: list[tuple[str, str, str]] = []
    pauses: list[float] = []
    closed = backup._warehouse_closed

    @contextmanager
    def measured(wait_seconds):
        started = time.perf_counter()
        with closed(wait_seconds):
            yield
        pauses.append(time.perf_counter() - started)

    backup._warehouse_closed = measured  # how long other sessions wait
    customers = warehouse.scalar("SELECT count(*) FROM customers")
    mb = path.stat().st_size / 1e6

    seconds, manifest = timed(lambda: backup.create(admin, note="bench"))
    total_rows = sum(t["rows"] for t in manifest["tables"].values())
    rows.append(
        (
            "backup create (connections closed, byte copy + hash; then checksums)",
            f"{seconds:.1f} s",
            f"{len(manifest['tables'])} tables, {total_rows:,} rows, "
            f"{manifest['file_bytes'] / 1e6:.0f} MB snapshot of a {mb:.0f} MB file",
        )
    )
    rows.append(("… of which other sessions wait (connections closed, file copied)", f"{pauses[-1]:.1f} s", ""))
    seconds, result = timed(lambda: backup.verify(admin, manifest["id"]))
    rows.append(
        ("backup verify (SHA-256 + every table's checksum)", f"{seconds:.1f} s", "pass" if result.passed else "FAIL")
    )
    seconds, result = timed(lambda: backup.drill(admin))
    rows.append(
        (
            "restore drill (copy to temp, open, compare, keys, credentials)",
            f"{seconds:.1f} s",
            "pass" if result.passed else "FAIL",
        )
    )
    seconds, _ = timed(lambda: backup.restore(admin, manifest["id"]))
    rows.append(
        ("… of which other sessions wait (pre-restore copy + file swap)", f"{pauses[-2] + pauses[-1]:.1f} s", "")
    )
    rows.append(
        (
            "restore (pre-restore snapshot + staged verify + swap + reopen)",
            f"{seconds:.1f} s",
            "checksums equal: "
            + str(
                {k: v for k, v in backup.live_checksums().items() if k != "audit_log"}
                == {k: v for k, v in manifest["tables"].items() if k != "audit_log"}
            ),
        )
    )

    old = [k.decode() for k in config.field_keys()]
    os.environ["C360_FIELD_KEYS"] = ",".join([Fernet.generate_key().decode(), *old])
    seconds, result = timed(lambda: privacy.rotate_keys(admin))
    rate = result["rows_rotated"] / seconds if seconds else 0
    rows.append(
        (
            "keys rotate (re-encrypt every ID number, 50k batches)",
            f"{seconds:.1f} s",
            f"{result['rows_rotated']:,} rows, {rate:,.0f} rows/s",
        )
    )
    seconds, remaining = timed(privacy.undecryptable_with_newest_key)
    rows.append(("check nothing needs the old key", f"{seconds:.1f} s", f"{remaining} remaining"))

    sample = warehouse.read(
        "SELECT customer_id FROM customers WHERE id_number_enc IS NOT NULL ORDER BY hash(customer_id) LIMIT 7"
    )["customer_id"].tolist()
    times = [timed(lambda c=c: privacy.export_subject(admin, c))[0] for c in sample[:5]]
    rows.append(
        ("subject export (one customer, every table)", f"{statistics.median(times) * 1000:.0f} ms", "median of 5")
    )
    times = [timed(lambda c=c: privacy.reveal_id_number(admin, c, "bench reveal"))[0] for c in sample[:5]]
    rows.append(("reveal an ID number (audited)", f"{statistics.median(times) * 1000:.0f} ms", "median of 5"))
    times = [timed(lambda c=c: privacy.erase_customer(admin, c, "bench erasure"))[0] for c in sample[5:7]]
    rows.append(
        ("erase a customer (incl. events notes scan)", f"{statistics.median(times) * 1000:.0f} ms", "median of 2")
    )
    seconds, (page, total) = timed(lambda: audit_trail.search(admin, audit_trail.AuditFilter(), page=1))
    rows.append(("audit log, first page of 50", f"{seconds * 1000:.0f} ms", f"{total:,} entries"))
    seconds, _ = timed(lambda: users.access_review(admin))
    rows.append(("access review", f"{seconds * 1000:.0f} ms", ""))
    warehouse.dispose()

    print(f"\n{customers:,} customers; machine: 2 cores; 2026-11-23\n")
    print("| operation | time | notes |")
    print("|---|---|---|")
    for name, value, note in rows:
        print(f"| {name} | {value} | {note} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
