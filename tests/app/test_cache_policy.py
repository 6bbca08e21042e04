"""One cache policy: page reads are cached per data version, so a write shows at once."""

from __future__ import annotations

import os
import subprocess
import sys

from lib.core import warehouse
from tests import factories as f
from tests import marketing_fixture as mf
from tests.app.helpers import as_user, open_page
from tests.conftest import ROOT


def buyers(at) -> str:
    return next(m.value for m in at.metric if m.label == "Customers with purchases")


def test_rfm_counts_are_fresh_right_after_a_write(warehouse_path):
    mf.build()
    at = open_page(as_user("marketing"), "pages/20_rfm.py")
    assert not at.exception
    before = buyers(at)
    with warehouse.transaction() as tx:  # a customer with a first purchase (an import)
        f.customer(tx, 900, full_name="新客")
        f.order(tx, 900, mf.at(3), 88.0)
    at.run()
    assert not at.exception
    assert int(buyers(at).replace(",", "")) == int(before.replace(",", "")) + 1


def test_the_data_version_moves_with_every_write_in_this_process_and_in_others(warehouse_path):
    first = warehouse.data_version()
    assert warehouse.data_version() == first  # reads do not move it
    with warehouse.transaction() as tx:
        tx.run(warehouse.raw_sql("CREATE TABLE t_version (a INT)"))
    second = warehouse.data_version()
    assert second != first
    warehouse.dispose()  # another process writes the file
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from lib.core import warehouse;"
            "import sys; warehouse.use(sys.argv[1]);"
            "warehouse.allow_inline_sql();"
            "warehouse.scalar('INSERT INTO t_version VALUES (1) RETURNING a')",
            str(warehouse_path),
        ],
        cwd=ROOT,
        check=True,
        env=os.environ.copy(),
    )
    assert warehouse.data_version() != second


def test_the_record_of_who_did_what_leaves_cached_figures_in_place(warehouse_path, users):
    """Audit rows, login sessions and activity stamps are bookkeeping: with twenty people
    browsing, each view audited and each minute stamped, a cache keyed on every write would
    hold nothing. Data writes still move the version at once."""
    from lib.security import audit, auth, sessions

    first = warehouse.data_version()
    audit.record(None, users["manager"], "customer.view", "customer", "1")
    token = sessions.start("manager", "test")
    sessions.check(token)
    auth.touch("manager")
    assert auth.authenticate("manager", "wrong password", "test").user is None
    assert auth.authenticate("manager", "manager-demo", "test").user is not None
    assert warehouse.data_version() == first
    with warehouse.transaction() as tx:
        f.customer(tx, 901, full_name="新客")
    assert warehouse.data_version() != first


def test_a_view_by_someone_else_does_not_recompute_a_cached_page(warehouse_path):
    mf.build()
    at = open_page(as_user("marketing"), "pages/20_rfm.py")
    before = buyers(at)
    version = warehouse.data_version()
    open_page(as_user("manager"), "pages/03_customer_360.py")  # another person: a login, audited views
    assert warehouse.data_version() == version
    at.run()
    assert buyers(at) == before
