"""Several OS processes on one lake: an import job while an app replica reads, racing editors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

from lib.core import warehouse
from tests import factories
from tests.conftest import ROOT


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.lake.workers", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "C360_DEMO": "1"},
    )


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _customers(n: int) -> None:
    with warehouse.transaction() as tx:
        for i in range(1, n + 1):
            factories.customer(
                tx,
                i,
                source="crm",
                source_record_id=f"C{i}",
                registered_at=datetime(2025, 1, 1),
                updated_at=datetime(2025, 1, 1),
            )
    warehouse.dispose()  # release nothing in particular: a lake has no file lock; keep it clean


def test_an_import_job_and_an_app_reader_run_at_once_with_no_errors(lake_spec, tmp_path):
    _customers(20)
    done = tmp_path / "import.done"
    reader = _start("reader", lake_spec, str(done))
    writer = _start("importer", lake_spec, str(tmp_path), "6", "250", str(done))
    wrote, read = _result(writer), _result(reader)

    assert wrote["errors"] == [] and read["errors"] == []
    assert wrote["loaded"] == [250] * 6
    # The reader only ever saw whole committed imports, in order, and finally all of them.
    assert read["seen"] == sorted(read["seen"])
    assert len(read["seen"]) >= 3  # it kept reading while the imports committed
    assert set(read["seen"]) <= {250 * k for k in range(7)}
    assert read["seen"][-1] == 1500
    assert warehouse.scalar("SELECT count(*) FROM events WHERE source = 'nightly'") == 1500
    assert warehouse.scalar("SELECT count(*) FROM imports WHERE source = 'nightly' AND status <> 'running'") == 6
    ids = warehouse.one("SELECT count(*) AS n, count(DISTINCT import_id) AS d FROM imports")
    assert ids["n"] == ids["d"] == 6


def test_racing_edits_of_different_customers_from_two_processes_lose_nothing(lake_spec):
    _customers(40)
    evens = _start("editor", lake_spec, "2", "40", "2")
    odds = _start("editor", lake_spec, "1", "39", "2")
    a, b = _result(evens), _result(odds)

    assert a["errors"] == [] and b["errors"] == []
    assert sorted(a["done"] + b["done"]) == list(range(1, 41))
    rows = warehouse.read("SELECT customer_id, version, city FROM customers ORDER BY customer_id")
    assert rows["version"].tolist() == [2] * 40
    assert rows["city"].tolist() == [f"edited-{i}" for i in range(1, 41)]
    audits = warehouse.one(
        "SELECT count(*) AS n, count(DISTINCT audit_id) AS ids FROM audit_log WHERE action = 'customer.update'"
    )
    assert audits == {"n": 40, "ids": 40}
