"""Many people at once: signed-in sessions driven at Streamlit's protocol level.

    python -m bench.load [--source /tmp/bench/warehouse-1m.duckdb] [--sessions 20]
                         [--duration 300] [--think 1,3] [--browsers 2] [--json out.json]
    python -m bench.load --warehouse COPY.duckdb ...      (serve this copy as it is)
    python -m bench.load --url http://127.0.0.1:8501 --server-pid PID ...   (a running server)

The served copy should be aged first (bench/aging.py, as bench.dashboards does), so that the
audit log and flags are a year's worth.

A browser tab talks to the app over one websocket (/_stcore/stream): it sends a BackMsg
`rerun_script` (the page, the query string, the widgets' values) and receives ForwardMsgs (the
page's elements) until `script_finished`. Each virtual user here does the same with the
`websockets` client and Streamlit's own protobuf classes, so a session costs the load generator
almost nothing and the server does exactly the work a browser would cause (real login through
the form with its bcrypt check, the login-cookie request, every page of the user's roles, a
typed search, a 360° lookup by id). A few real Chromium sessions (`--browsers`) run beside them
in a separate process and time the same pages as drawn on screen.

Measured: every page view's time (request sent → script finished), errors (an exception on the
page, "Something went wrong", the login form where a signed-in page was expected, a timeout,
a dropped connection), the server's CPU seconds per view and its memory over time (from
/proc), and from them how many sessions one core serves at this think time.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from bench import SOURCE_1M, working_copy

ROOT = Path(__file__).resolve().parent.parent
FINISHED_OK, FINISHED_FOR_RERUN = 0, 2  # ScriptFinishedStatus values that are not errors
VIEW_TIMEOUT = 60.0

# Demo logins (lib/security/auth.DEMO_USERS, printed by `make run`): sessions take them in turn.
LOGINS = (
    ("manager", "manager-demo"),
    ("marketing", "marketing-demo"),
    ("steward", "steward-demo"),
    ("admin", "admin-demo"),
    ("lead", "lead-demo"),
)

# What each person does, as (action, weight); pages they may not open are never picked. "search"
# types a name into Customer search, "customer_360" opens a customer's page by id (a link).
MIX = {
    "manager": (("overview", 4), ("search", 2), ("customer_360", 3), ("home", 1)),
    "marketing": (("segments", 3), ("rfm", 2), ("churn", 2), ("tags", 1), ("overview", 2)),
    "steward": (
        ("quality", 2),
        ("review_queue", 2),
        ("duplicates", 2),
        ("search", 2),
        ("customer_360", 2),
        ("import", 1),
    ),
    "admin": (("users", 1), ("audit", 2), ("privacy", 1), ("backups", 1), ("overview", 1)),
    "lead": (("overview", 3), ("segments", 2), ("churn", 1), ("customer_360", 2), ("search", 1)),
}
SEARCHES = ("张伟", "王芳", "李娜", "zhang wei", "wang fang", "liu yang", "陈静", "chen jing", "杨", "13")


@dataclass
class View:
    session: int
    user: str
    page: str
    seconds: float
    started: float
    error: str = ""


@dataclass
class Run:
    """What a script run sent back: its elements (type, proto) and the navigation's pages."""

    elements: list = field(default_factory=list)
    pages: dict = field(default_factory=dict)  # url path -> page script hash
    status: int = FINISHED_OK


class Tab:
    """One browser tab's websocket session, without the browser."""

    def __init__(self, base_url: str):
        self.base = base_url.rstrip("/")
        self.ws = None
        self.pages: dict[str, str] = {}
        self.page_hash = ""

    async def open(self) -> None:
        ws_url = self.base.replace("http", "ws", 1) + "/_stcore/stream"
        self.ws = await websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=30)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def run(self, page: str | None = None, query: str = "", widgets=()) -> Run:
        """Rerun the script (on `page`, a url path, or the current one) and collect the result,
        following reruns the script asked for (st.rerun) until it finishes for good."""
        if page is not None:
            self.page_hash = self.pages.get(page, "")
        msg = BackMsg()
        msg.rerun_script.query_string = query
        msg.rerun_script.page_script_hash = self.page_hash
        msg.rerun_script.widget_states.widgets.extend(widgets)
        await self.ws.send(msg.SerializeToString())
        result = Run()
        while True:
            fm = ForwardMsg()
            fm.ParseFromString(await asyncio.wait_for(self.ws.recv(), VIEW_TIMEOUT))
            kind = fm.WhichOneof("type")
            if kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                element = fm.delta.new_element
                element_type = element.WhichOneof("type")
                result.elements.append((element_type, getattr(element, element_type)))
            elif kind == "navigation":
                result.pages = {p.url_pathname: p.page_script_hash for p in fm.navigation.app_pages}
                self.pages = result.pages
            elif kind == "page_info_changed" or kind == "new_session":
                continue
            elif kind == "script_finished":
                if fm.script_finished == FINISHED_FOR_RERUN:
                    result.elements = []  # the page shown is what the last run draws
                    continue
                result.status = fm.script_finished
                await self._fetch_cookie(result)
                return result

    async def _fetch_cookie(self, result: Run) -> None:
        """Do what the browser does with the app's login-cookie request (lib/ui/session.py):
        POST the nonce to the route, so the server sees the same traffic as from Chromium."""
        for kind, element in result.elements:
            if kind == "html" and "_c360/session" in element.body:
                nonce = re.search(r"body: '([^']+)'", element.body)
                if nonce:
                    await asyncio.to_thread(_post, self.base + "/_c360/session", nonce.group(1))


def _post(url: str, body: str) -> None:
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=body.encode(), method="POST"), timeout=30).read()
    except OSError:
        pass  # the page view's own checks report a failed sign-in


def _texts(run: Run) -> str:
    parts = []
    for kind, element in run.elements:
        for attr in ("body", "label", "message"):
            value = getattr(element, attr, "")
            if isinstance(value, str) and value:
                parts.append(value)
    return "\n".join(parts)


def page_error(run: Run, signed_in: bool = True) -> str:
    """Why this run is not a good page view ("" when it is)."""
    for kind, element in run.elements:
        if kind == "exception":
            return f"exception: {element.type}: {element.message[:120]}"
    text = _texts(run)
    if "Something went wrong" in text or "出错了" in text:
        return "error message: " + text[text.find("Something") :][:120]
    if signed_in and any(k == "text_input" and e.label == "Password" for k, e in run.elements):
        return "not signed in (login form shown)"
    if run.status not in (FINISHED_OK,):
        return f"script finished with status {run.status}"
    return ""


def _text_input(run: Run, *labels: str) -> str | None:
    for kind, element in run.elements:
        if kind == "text_input" and any(label.lower() in element.label.lower() for label in labels):
            return element.id
    return None


async def log_in(tab: Tab, username: str, password: str) -> tuple[float, str]:
    """Open the app and sign in through the form; (seconds from pressing Log in, error)."""
    form = await tab.run()
    user_box, password_box = _text_input(form, "Username"), _text_input(form, "Password")
    submit = next((e.id for k, e in form.elements if k == "button" and e.is_form_submitter), None)
    if not (user_box and password_box and submit):
        return 0.0, "no login form"
    started = time.perf_counter()
    landed = await tab.run(
        widgets=[
            WidgetState(id=user_box, string_value=username),
            WidgetState(id=password_box, string_value=password),
            WidgetState(id=submit, trigger_value=True),
        ]
    )
    seconds = time.perf_counter() - started
    error = page_error(landed)
    if not error and "Log out" not in _texts(landed):
        error = "not signed in after Log in"
    return seconds, error


async def visit(tab: Tab, action: str, rng: random.Random, customers: int) -> tuple[float, str]:
    """One page view of `action`; (seconds, error)."""
    started = time.perf_counter()
    if action == "home":
        run = await tab.run(page="")
    elif action == "customer_360":
        run = await tab.run(page="customer_360", query=f"id={rng.randint(1, customers)}")
    elif action == "search":
        page = await tab.run(page="customers")
        box = _text_input(page, "Search", "搜索", "Name", "name")
        if box is None:
            return time.perf_counter() - started, "no search box on Customer search"
        started = time.perf_counter()  # the search itself, as the person waits for results
        run = await tab.run(widgets=[WidgetState(id=box, string_value=rng.choice(SEARCHES))])
    else:
        run = await tab.run(page=action)
    return time.perf_counter() - started, page_error(run)


async def person(
    index: int, base_url: str, until: float, think: tuple[float, float], customers: int, views: list[View]
) -> None:
    username, password = LOGINS[index % len(LOGINS)]
    rng = random.Random(index)
    actions, weights = zip(*MIX[username], strict=True)
    tab = Tab(base_url)
    try:
        await tab.open()
        seconds, error = await log_in(tab, username, password)
        views.append(View(index, username, "login", seconds, time.time(), error))
        if error:
            return
        planned = list(actions)  # every action of the mix once, then at random by weight
        while time.time() < until:
            await asyncio.sleep(rng.uniform(*think))
            action = planned.pop(0) if planned else rng.choices(actions, weights)[0]
            started = time.time()
            try:
                seconds, error = await visit(tab, action, rng, customers)
            except (TimeoutError, asyncio.TimeoutError):
                seconds, error = VIEW_TIMEOUT, "timeout"
            views.append(View(index, username, action, seconds, started, error))
            if error in ("timeout",) or error.startswith("not signed in"):
                return
    except (OSError, websockets.WebSocketException) as exc:
        views.append(View(index, username, "connection", 0.0, time.time(), f"connection: {exc}"))
    finally:
        await tab.close()


# ---------------------------------------------------------------- the server, measured from /proc


def _proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def sample(pid: int | None, views: list[View], stop: asyncio.Event, every: float, out: list) -> None:
    started = time.time()
    while not stop.is_set():
        if pid:
            out.append(
                {
                    "t": round(time.time() - started, 1),
                    "rss_mb": round(_proc_rss_mb(pid), 1),
                    "cpu_s": round(_proc_cpu_seconds(pid), 2),
                    "views": len(views),
                    "load1": round(os.getloadavg()[0], 2),
                }
            )
        try:
            await asyncio.wait_for(stop.wait(), every)
        except (TimeoutError, asyncio.TimeoutError):
            pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(warehouse_path: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ, C360_WAREHOUSE=warehouse_path)
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.port", str(port)]
        + ["--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log_path, "w"),
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit(f"the app server did not start; see {log_path}")


def age(warehouse_path: str) -> None:
    """A year of audit rows, flags and tags on the copy (bench/aging.py), then let it go."""
    from bench import aging
    from lib.core import warehouse

    warehouse.use(warehouse_path)
    try:
        warehouse.migrate()
        aging.age(warehouse_path)
    finally:
        warehouse.dispose()
        warehouse.use(None)


def count_customers(warehouse_path: str | None) -> int:
    if not warehouse_path:
        return 1000
    import duckdb

    with duckdb.connect(warehouse_path, read_only=True) as con:
        return int(con.execute("SELECT max(customer_id) FROM customers").fetchone()[0])


# ---------------------------------------------------------------- real browsers beside


def browsers_child(url: str, count: int, until: float) -> list[dict]:
    """`count` Chromium sessions (threads) signing in as the manager and clicking between the
    Overview, Customer 360 and Home until `until`; seconds until each page is drawn and quiet."""
    import threading

    from playwright.sync_api import sync_playwright

    from bench.dashboards import _logged_in_page
    from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS, settle

    results: list[dict] = []

    def one(index: int) -> None:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            try:
                page, landing = _logged_in_page(browser, url, settle)
                seconds = landing["in_page"] if landing else None  # timed inside the page
                results.append({"browser": index, "page": "login", "seconds": seconds})
                rng = random.Random(1000 + index)
                while time.time() < until:
                    page.wait_for_timeout(rng.uniform(1000, 3000))
                    label = rng.choice(("Overview", "Customer search", "Home"))
                    started = time.perf_counter()
                    page.locator('[data-testid="stSidebar"]').get_by_role("link", name=label).click()
                    page.wait_for_timeout(300)
                    settle(page, timeout=60, quiet_ms=300)
                    results.append({"browser": index, "page": label, "seconds": time.perf_counter() - started - 0.3})
            except Exception as exc:  # noqa: BLE001 - reported, not raised: the run goes on
                results.append({"browser": index, "page": "error", "seconds": 0, "error": str(exc)[:200]})
            finally:
                browser.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# ---------------------------------------------------------------- report


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summarise(views: list[View], samples: list[dict], args, browser_views: list[dict], wall: float) -> dict:
    ok = [v for v in views if not v.error]
    pages = sorted({v.page for v in views})
    per_page = {}
    for page in pages:
        times = [v.seconds for v in ok if v.page == page]
        per_page[page] = {
            "views": sum(v.page == page for v in views),
            "errors": sum(v.page == page and bool(v.error) for v in views),
            "p50_s": round(percentile(times, 0.5), 3),
            "p95_s": round(percentile(times, 0.95), 3),
            "max_s": round(max(times), 3) if times else None,
        }
    page_views = [v for v in views if v.page not in ("login", "connection")]
    times = [v.seconds for v in page_views if not v.error]
    start = min((v.started for v in views), default=0.0)
    out = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "sessions": args.sessions,
        "duration_s": round(wall, 1),
        "think_s": list(args.think),
        "cores": os.cpu_count(),
        "views": len(page_views),
        "views_per_min": round(len(page_views) / wall * 60, 1),
        "errors": sum(bool(v.error) for v in views),
        "error_examples": sorted({f"{v.page}: {v.error}" for v in views if v.error})[:10],
        "logins": sum(v.page == "login" for v in views),
        "login_p50_s": round(percentile([v.seconds for v in ok if v.page == "login"], 0.5), 3),
        "login_p95_s": round(percentile([v.seconds for v in ok if v.page == "login"], 0.95), 3),
        "p50_s": round(percentile(times, 0.5), 3),
        "p95_s": round(percentile(times, 0.95), 3),
        "per_page": per_page,
        # when the slowest views happened (seconds into the run) and which of their session's
        # views they were: an outlier in the ramp is a first visit, later it is contention
        "slowest": [
            {
                "page": v.page,
                "seconds": round(v.seconds, 3),
                "at_s": round(v.started - start, 1),
                "nth_view_of_session": 1 + sum(w.session == v.session and w.started < v.started for w in page_views),
            }
            for v in sorted((v for v in page_views if not v.error), key=lambda v: -v.seconds)[:5]
        ],
    }
    if samples:
        first, last = samples[0], samples[-1]
        cpu = last["cpu_s"] - first["cpu_s"]
        counted = max(1, last["views"] - first["views"])
        out["server_cpu_s"] = round(cpu, 1)
        out["server_cpu_per_view_s"] = round(cpu / counted, 3)
        out["rss_mb_start_peak_end"] = [first["rss_mb"], max(s["rss_mb"] for s in samples), last["rss_mb"]]
        out["load1_max"] = max(s["load1"] for s in samples)
        # A session asks for one view per (think + page time): one core keeps up with
        # 1 / (cpu per view × views per second per session) of them.
        per_session_rate = 1 / (statistics.mean(args.think) + (statistics.mean(times) if times else 0))
        cpu_per_view = cpu / counted
        out["sessions_per_core"] = round(1 / (cpu_per_view * per_session_rate), 1) if cpu_per_view else None
        out["samples"] = samples
    if browser_views:
        good = [b["seconds"] for b in browser_views if b["page"] not in ("login", "error") and b["seconds"]]
        out["browser"] = {
            "views": len(good),
            "errors": [b.get("error") for b in browser_views if b["page"] == "error"],
            "p50_s": round(percentile(good, 0.5), 3),
            "p95_s": round(percentile(good, 0.95), 3),
            "login_s": [round(b["seconds"], 3) for b in browser_views if b["page"] == "login" and b["seconds"]],
        }
    return out


def markdown(report: dict) -> str:
    lines = [
        f"Run {report['date']}: {report['sessions']} sessions for {report['duration_s']} s, think time "
        f"{report['think_s'][0]}–{report['think_s'][1]} s, {report['cores']} cores, load average up to "
        f"{report.get('load1_max', '?')}.",
        "",
        "| page | views | errors | p50 s | p95 s | max s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for page, row in report["per_page"].items():
        lines.append(
            f"| {page} | {row['views']} | {row['errors']} | {row['p50_s']} | {row['p95_s']} | {row['max_s']} |"
        )
    lines += [
        f"| **all pages** | {report['views']} | {report['errors']} | {report['p50_s']} | {report['p95_s']} | |",
        "",
        f"{report['views_per_min']} page views a minute; server CPU {report.get('server_cpu_per_view_s')} s per "
        f"view; RSS start / peak / end {report.get('rss_mb_start_peak_end')} MB; one core serves about "
        f"{report.get('sessions_per_core')} sessions at this think time.",
    ]
    if report.get("slowest"):
        lines.append(
            "Slowest views: "
            + "; ".join(
                f"{v['page']} {v['seconds']} s at {v['at_s']} s into the run (its session's view {v['nth_view_of_session']})"
                for v in report["slowest"]
            )
            + "."
        )
    if "browser" in report:
        b = report["browser"]
        lines.append(
            f"Real Chromium beside them: {b['views']} views, p50 {b['p50_s']} s, p95 {b['p95_s']} s, "
            f"log in → landing {b['login_s']} s, errors {b['errors']}."
        )
    return "\n".join(lines)


def run_sync(coroutine):
    """asyncio.run, also from a thread whose event loop is already running (Playwright's sync
    API keeps one in the test process): then in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def drive(args, url: str, pid: int | None, customers: int) -> tuple[list[View], list[dict], float]:
    views: list[View] = []
    samples: list[dict] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(pid, views, stop, 5.0, samples))
    started = time.time()
    until = started + args.duration
    people = []
    for i in range(args.sessions):
        people.append(asyncio.create_task(person(i, url, until, tuple(args.think), customers, views)))
        await asyncio.sleep(args.ramp / max(1, args.sessions))
    await asyncio.gather(*people)
    wall = time.time() - started
    stop.set()
    await sampler
    return views, samples, wall


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default=SOURCE_1M, help="the 1M demo warehouse, copied to --work and served")
    ap.add_argument("--work", default="/tmp/bench/load", help="where the served copy goes")
    ap.add_argument("--warehouse", help="serve this warehouse itself instead (a copy: logins write to it)")
    ap.add_argument("--no-age", action="store_true", help="serve the copy as built, without a year of use")
    ap.add_argument("--url", help="or drive a running server")
    ap.add_argument("--server-pid", type=int, help="the running server's pid (for CPU and memory)")
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--duration", type=float, default=300.0, help="seconds")
    ap.add_argument("--think", type=lambda s: tuple(float(x) for x in s.split(",")), default=(1.0, 3.0))
    ap.add_argument("--ramp", type=float, default=10.0, help="seconds over which sessions start")
    ap.add_argument("--browsers", type=int, default=2, help="real Chromium sessions beside (0: none)")
    ap.add_argument("--json", help="write the full report here")
    ap.add_argument("--browsers-child", nargs=3, metavar=("URL", "COUNT", "UNTIL"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.browsers_child:
        url, count, until = args.browsers_child
        print(json.dumps(browsers_child(url, int(count), float(until))))
        return 0
    if not (args.warehouse or args.url):
        if not Path(args.source).exists():
            ap.error(f"{args.source} does not exist: build it with `python -m lib.cli demo --customers 1000000`")
        _, path = working_copy(args.source, args.work)
        args.warehouse = str(path)
        if not args.no_age:
            age(args.warehouse)

    customers = count_customers(args.warehouse)  # before the server holds the file
    server = None
    if args.warehouse:
        server, url = start_server(args.warehouse, Path(args.warehouse).with_suffix(".load-server.log"))
        pid = server.pid
    else:
        url, pid = args.url, args.server_pid
    child = None
    try:
        if args.browsers:
            until = time.time() + args.duration
            child = subprocess.Popen(
                [sys.executable, "-m", "bench.load", "--browsers-child", url, str(args.browsers), str(until)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
        views, samples, wall = asyncio.run(drive(args, url, pid, customers))
        browser_views = json.loads(child.communicate(timeout=600)[0] or "[]") if child else []
        if pid:  # sessions closed: does the memory come back?
            time.sleep(30)
            samples.append(
                {
                    "t": round(samples[-1]["t"] + 30, 1) if samples else 0,
                    "rss_mb": round(_proc_rss_mb(pid), 1),
                    "cpu_s": samples[-1]["cpu_s"] if samples else 0,
                    "views": len(views),
                    "load1": round(os.getloadavg()[0], 2),
                    "after_close": True,
                }
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    report = summarise(views, samples, args, browser_views, wall)
    print(markdown(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return 0 if report["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
