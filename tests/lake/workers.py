"""Separate OS processes for the lake concurrency tests: `python -m tests.lake.workers ...`.

Each prints one JSON line with what it did and every error it met, so the test can assert
zero errors and exact counts.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def _setup(spec: str) -> None:
    os.environ.setdefault("C360_DEMO", "1")
    from lib.core import warehouse

    warehouse.allow_inline_sql()
    warehouse.use(spec)


def importer(spec: str, folder: str, batches: int, rows: int, done_flag: str) -> dict:
    """The nightly import: `batches` event files of `rows` rows each, through lib.stewardship.importer."""
    _setup(spec)
    from lib.security import auth
    from lib.stewardship import importer as imp

    loaded, errors = [], []
    try:
        for b in range(batches):
            path = Path(folder) / f"events-{b}.csv"
            lines = ["event_id,customer_id,event_type,event_time,channel"]
            lines += [
                f"N{b}-{i},C{1 + i % 20},browse,2026-11-{1 + b % 20:02d} 10:{i % 60:02d}:00,web" for i in range(rows)
            ]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            try:
                result = imp.import_file(
                    auth.SYSTEM, "events", path, "nightly", customer_source="crm", match_duplicates=False
                )
                loaded.append(result.rows_loaded)
            except Exception as exc:  # noqa: BLE001 - reported to the test
                errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        Path(done_flag).write_text("done")
    return {"loaded": loaded, "errors": errors}


def reader(spec: str, done_flag: str) -> dict:
    """An app replica: aggregates what has been committed, over and over, until the import ends."""
    _setup(spec)
    from lib.core import warehouse

    seen, errors, reads = [], [], 0
    finished = False
    while True:
        finished = finished or Path(done_flag).exists()
        try:
            n = warehouse.scalar("SELECT count(*) FROM events WHERE source = 'nightly'")
            warehouse.read(
                "SELECT event_type, count(DISTINCT customer_id) AS customers, count(*) AS n "
                "FROM events GROUP BY event_type ORDER BY event_type"
            )
            reads += 1
            if not seen or seen[-1] != n:
                seen.append(int(n))
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors.append(f"{type(exc).__name__}: {exc}")
        if finished:
            break  # one full read after the importer said it was done
        time.sleep(0.05)
    return {"seen": seen, "reads": reads, "errors": errors}


def editor(spec: str, first: int, last: int, step: int) -> dict:
    """A steward's edits: bump version and city of customers first..last (step), retried on
    conflicts exactly as lib code is."""
    _setup(spec)
    from lib.security import audit, auth
    from lib.core import warehouse

    @warehouse.retrying(attempts=40)
    def edit(customer_id: int) -> None:
        with warehouse.transaction() as tx:
            before = tx.one("SELECT version, city FROM customers WHERE customer_id = :id", id=customer_id)
            tx.run(
                "UPDATE customers SET city = :city, version = :v WHERE customer_id = :id AND version = :old",
                city=f"edited-{customer_id}",
                v=before["version"] + 1,
                old=before["version"],
                id=customer_id,
            )
            audit.record(
                tx,
                auth.SYSTEM,
                "customer.update",
                "customer",
                customer_id,
                before=before,
                after={"city": f"edited-{customer_id}"},
            )

    done, errors = [], []
    for cid in range(first, last + 1, step):
        try:
            edit(cid)
            done.append(cid)
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors.append(f"{cid}: {type(exc).__name__}: {exc}")
    return {"done": done, "errors": errors}


def scheduler(spec: str, folder: str, job: str, slots: str) -> dict:
    """An app replica's scheduler: at each scheduled time in `slots` (comma-separated ISO
    times; the test says when by creating `go-<i>` in `folder`) fire `job` as APScheduler would
    (jobs.run_due), then report `done-<i>-<pid>`."""
    _setup(spec)
    from datetime import datetime

    from lib.admin import jobs

    ran, errors = [], []
    for i, text in enumerate(slots.split(",")):
        now = datetime.fromisoformat(text)
        while not (Path(folder) / f"go-{i}").exists():
            time.sleep(0.01)
        try:
            ran += [f"{r.name}@{now:%H:%M}:{r.outcome}" for r in jobs.run_due(now=now, names=[job])]
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors.append(f"{now}: {type(exc).__name__}: {exc}")
        (Path(folder) / f"done-{i}-{os.getpid()}").write_text("done")
    return {"ran": ran, "errors": errors, "pid": os.getpid()}


if __name__ == "__main__":
    role, args = sys.argv[1], sys.argv[2:]
    if role == "importer":
        out = importer(args[0], args[1], int(args[2]), int(args[3]), args[4])
    elif role == "reader":
        out = reader(args[0], args[1])
    elif role == "editor":
        out = editor(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif role == "scheduler":
        out = scheduler(args[0], args[1], args[2], args[3])
    else:
        raise SystemExit(f"unknown role {role}")
    from lib.core import warehouse

    warehouse.dispose()
    print(json.dumps(out))
