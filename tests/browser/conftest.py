"""A real app server on a small demo warehouse, and Debian's chromium driven by Playwright.

The server is started once per test session: `streamlit run serve.py` (app.py plus the route
that writes the httpOnly login cookie, lib/ui/routes.py) on a free loopback port,
polled on /_stcore/health. Screenshots go to test-artifacts/ (git-ignored) for people to look at.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
DEMO_CUSTOMERS = 2000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _demo_server(workdir: Path):
    """Build a demo warehouse (2,000 customers) in `workdir` and serve it; yields the base URL."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium)")
    env = dict(os.environ, C360_WAREHOUSE=str(workdir / "warehouse.duckdb"), C360_DEMO="1")
    subprocess.run(
        [sys.executable, "-m", "lib.cli", "demo", "--customers", str(DEMO_CUSTOMERS), "--seed", "7"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    log = open(workdir / "server.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "serve.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"app did not start: {(workdir / 'server.log').read_text()[-2000:]}")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """Base URL of the app serving a freshly built demo warehouse (2,000 customers), shared by
    the browser tests (they change it: passwords reset, customers added, jobs run)."""
    with _demo_server(tmp_path_factory.mktemp("browser")) as url:
        yield url


@pytest.fixture(scope="module")
def untouched_app_server(tmp_path_factory):
    """A server of its own on a fresh demo warehouse, for a module that needs every demo login
    as `make run` prints it (the walkthrough): other browser tests reset passwords."""
    with _demo_server(tmp_path_factory.mktemp("browser-own")) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    pg = ctx.new_page()
    yield pg
    ctx.close()


# Charts whose plotly.js has not drawn them yet (it loads lazily, on a tab's first chart).
UNDRAWN_CHARTS = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
    .filter(chart => !chart.querySelector('.main-svg')).length"""


# Streamlit's own end-to-end tests read the script's state from this attribute. The status
# widget alone is not enough: a page's run can go on for half a second with nothing on screen
# saying so, and a wait that only watched the screen returned before the page was drawn.
SCRIPT_RUNNING = """() => (document.querySelector('[data-testid="stApp"]') || {getAttribute: () => 'initial'})
    .getAttribute('data-test-script-state') !== 'notRunning'"""


def settle(page, timeout: float = 30.0, quiet_ms: int = 600) -> float:
    """Wait until Streamlit's script has finished, nothing is loading and every chart is
    drawn, for quiet_ms; seconds until idle."""
    start = time.time()
    last_busy = start
    while time.time() - start < timeout:
        busy = (
            page.locator('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]').count()
            or page.evaluate(SCRIPT_RUNNING)
            or page.evaluate(UNDRAWN_CHARTS)
        )
        now = time.time()
        if busy:
            last_busy = now
        elif (now - last_busy) * 1000 >= quiet_ms:
            return last_busy - start
        page.wait_for_timeout(50)
    raise AssertionError("the page kept running for more than %.0f s" % timeout)


def log_in(page, url: str, username: str, password: str) -> None:
    page.goto(url)
    settle(page)
    page.get_by_role("textbox", name=re.compile("Username")).fill(username)
    page.get_by_role("textbox", name=re.compile("Password")).fill(password)
    page.get_by_role("button", name=re.compile("Log in")).click()
    settle(page)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def no_exceptions(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]'
    ).first.inner_text()
