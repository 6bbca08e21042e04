"""The walkthrough: every demo user opens every page their roles allow, in English and 简体中文,
and nothing on screen reads as a developer's tool.

Pages come from lib/security/navigation.PAGES (a new page is walked without touching this
file). On each page one script reads the DOM and reports, all at once:

* a cell, a text or a chart label reading "None", "nan", "NaN" or "NaT", or a missing value in
  a table (its accessible cell is empty; the canvas draws a grey "None"), or in 简体中文 a chart
  label that is a lower-case code ("wechat") or plotly's English units and months ("400k",
  "¥1.5B", "Nov 2025");
* a table header (the ARIA grid of st.dataframe) in snake_case, or a cell holding raw JSON;
* a raw i18n key ("nav.overview", "stewards.imp.col.x" ...: any key prefix of the catalog);
* "Something went wrong", a Python traceback or a Streamlit exception box;
* a metric card whose value is cut off (scrollWidth > clientWidth);
* a page whose browser title is not its own name in the current language.

Every finding of a language is listed in one failure (language, user, page, what), so a run
shows all there is to fix. Screenshots of each page go to test-artifacts/walkthrough/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from lib.core import i18n
from lib.security import auth, navigation
from tests.browser.conftest import ARTIFACTS, settle

pytestmark = pytest.mark.browser

USERS = {name: spec["password"] for name, spec in auth.DEMO_USERS.items()}
KEY_PREFIXES = sorted({key.split(".")[0] for key in i18n.catalog() if "." in key})

# One pass over the DOM; returns a list of "what" strings. Kept in one evaluate call: the walk
# visits ~90 pages and each round trip to the browser costs.
CHECK = r"""([prefixes, lang]) => {
  const found = [];
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const EMPTY = /(^|[^A-Za-z])(None|nan|NaN|NaT)([^A-Za-z]|$)/;
  const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)+$/;
  const KEY = new RegExp('(^|[^A-Za-z0-9_@./-])(' + prefixes.join('|') + ')\\.[a-z0-9_]+(\\.[a-z0-9_]+)*(?![A-Za-z0-9_@/-])');
  const short = (s) => s.length > 80 ? s.slice(0, 77) + '...' : s;
  const texts = [];
  // visible text outside the grids (grids are read cell by cell below)
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!el || el.closest('[data-testid="stDataFrame"]') || el.closest('script,style,noscript')) continue;
    const text = node.textContent.trim();
    if (!text) continue;
    if (el.closest('svg')) { texts.push(['chart', text]); continue; }
    if (el.offsetParent === null && getComputedStyle(el).position !== 'fixed') continue;  // hidden
    texts.push(['text', text]);
  }
  for (const [where, text] of texts) {
    if (EMPTY.test(text)) found.push(`${where} shows an empty value as a word: "${short(text)}"`);
    const key = text.match(KEY);
    if (key) found.push(`${where} shows a raw i18n key "${key[0].replace(/^[^a-z]/, '')}": "${short(text)}"`);
    if (where === 'chart' && SNAKE.test(text)) found.push(`chart shows a code "${text}"`);
    else if (where === 'chart' && lang === 'zh' && /^[a-z]{2,}$/.test(text)) found.push(`chart shows an untranslated code "${text}"`);
    // plotly's own English: "400k", "¥1.5B", "Nov 2025" (Chinese axes read 万/亿 and 2025-11)
    else if (where === 'chart' && lang === 'zh' && /^[¥−-]?\d[\d.,]*[kMGB]$|^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b/.test(text)) found.push(`chart shows English units or months "${text}"`);
    if (/Something went wrong/i.test(text)) found.push(`message: "${short(text)}"`);
    if (/Traceback \(most recent call last\)/.test(text)) found.push('a Python traceback is shown');
  }
  if (document.querySelector('[data-testid="stException"]')) found.push('an exception box is shown');
  document.querySelectorAll('[data-testid="stDataFrame"]').forEach((grid, g) => {
    const heads = [...grid.querySelectorAll('[role="columnheader"]')].map(h => h.textContent.trim());
    for (const h of heads) {
      if (SNAKE.test(h)) found.push(`table ${g + 1} header "${h}" is snake_case`);
      if (KEY.test(h)) found.push(`table ${g + 1} header "${h}" is a raw i18n key`);
    }
    const cells = [...grid.querySelectorAll('[role="gridcell"]')].map(c => c.textContent.trim());
    const bad = new Set();
    for (const c of cells) {
      if (/^(None|nan|NaN|NaT|null|<NA>)$/.test(c)) bad.add(`table ${g + 1} has a cell "${c}"`);
      // the grid's accessible cells hold the data: an empty one is a missing value, which the
      // canvas draws as a grey "None" (i18n.display_frame shows it as "—")
      else if (c === '') bad.add(`table ${g + 1} has a missing value (drawn as "None")`);
      else if (/^[\[{].*":/.test(c)) bad.add(`table ${g + 1} has raw JSON "${short(c)}"`);
      else if (KEY.test(c)) bad.add(`table ${g + 1} has a raw i18n key "${short(c)}"`);
      else if (SNAKE.test(c)) bad.add(`table ${g + 1} has a code "${c}"`);
    }
    found.push(...bad);
  });
  document.querySelectorAll('[data-testid="stMetric"]').forEach((metric) => {
    const value = metric.querySelector('[data-testid="stMetricValue"]');
    if (!value) return;
    const parts = [value, ...value.querySelectorAll('*')];
    if (parts.some(e => e.scrollWidth > e.clientWidth + 1)) {
      const label = (metric.querySelector('[data-testid="stMetricLabel"]') || {textContent: ''}).textContent.trim();
      found.push(`metric "${label}" is cut off: "${value.textContent.trim()}"`);
    }
  });
  return found;
}"""


def check_page(page, lang: str = "en") -> list[str]:
    """Everything wrong on the page as shown now (empty when it reads as a product)."""
    return page.evaluate(CHECK, [KEY_PREFIXES, lang])


def _log_in(page, base: str, username: str, lang: str) -> None:
    page.goto(f"{base}/?lang={lang}")
    settle(page, quiet_ms=400)
    page.get_by_role("textbox", name=re.compile("Username|用户名")).fill(username)
    page.get_by_role("textbox", name=re.compile("Password|密码")).fill(USERS[username])
    page.get_by_role("button", name=re.compile("Log in|登录")).click()
    page.locator('[data-testid="stSidebar"] a').first.wait_for(state="visible", timeout=60_000)
    settle(page, quiet_ms=400)


def _other_tabs(page, lang: str) -> list[str]:
    """What is wrong in each tab but the first: pages build only the open tab (the Overview,
    Categories, the 360° page), so a hidden tab's content is not on the page until opened."""
    found = []
    tabs = page.locator('[data-testid="stMain"] [role="tab"]')
    for i in range(1, tabs.count()):
        tab = tabs.nth(i)
        name = tab.inner_text().strip()
        tab.click()
        settle(page, quiet_ms=400)
        found += [f"tab {name!r}: {what}" for what in check_page(page, lang)]
    return found


def _walk(browser, base: str, lang: str) -> tuple[list[str], int]:
    findings: list[str] = []
    visits = 0
    shots = ARTIFACTS / "walkthrough"
    shots.mkdir(parents=True, exist_ok=True)
    for username in USERS:
        roles = set(auth.DEMO_USERS[username]["roles"])
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})  # a laptop screen
        page = ctx.new_page()
        try:
            _log_in(page, base, username, lang)
            home = i18n.t("app.title", lang)
            stops = [("home", None, home)] + [
                (p.key, p.url_path, f"{i18n.t(f'nav.{p.key}', lang)} · {home}") for p in navigation.allowed(roles)
            ]
            for key, url_path, title in stops:
                if url_path is not None:
                    link = page.locator(f'[data-testid="stSidebar"] a[href="{url_path}"]')
                    try:  # the sidebar is drawn by the page's run: on a busy machine, wait for it
                        link.wait_for(state="visible", timeout=30_000)
                    except PlaywrightTimeout:
                        findings.append(f"[{lang}] {username} · {key}: no sidebar link")
                        continue
                    link.click()
                    page.wait_for_url(re.compile(f"/{url_path}(\\?|$)"))
                settle(page, quiet_ms=400)
                visits += 1
                for what in check_page(page, lang):
                    findings.append(f"[{lang}] {username} · {key}: {what}")
                findings += [f"[{lang}] {username} · {key}: {what}" for what in _other_tabs(page, lang)]
                if page.title() != title:
                    findings.append(f"[{lang}] {username} · {key}: browser title {page.title()!r}, not {title!r}")
                page.screenshot(path=str(shots / f"{lang}-{username}-{key}.png"), full_page=True)
        finally:
            ctx.close()
    return findings, visits


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_user_sees_every_page_as_a_product(untouched_app_server, browser, lang):
    findings, visits = _walk(browser, untouched_app_server, lang)
    expected = sum(1 + len(navigation.allowed(set(spec["roles"]))) for spec in auth.DEMO_USERS.values())
    assert visits == expected  # every page of every user was checked
    assert not findings, f"{len(findings)} findings:\n" + "\n".join(findings)


FAULTY_PAGE = """
<div data-testid="stMain">
  <p>Last login: None</p>
  <p>nav.overview</p>
  <p>Something went wrong: Name is required.</p>
  <div data-testid="stDataFrame">
    <table role="grid"><tr><th role="columnheader">customer_id_l</th><th role="columnheader">Name</th></tr>
    <tr><td role="gridcell">NaT</td><td role="gridcell">{"email": "a"}</td></tr>
    <tr><td role="gridcell"></td><td role="gridcell">Anna</td></tr></table>
  </div>
  <div data-testid="stMetric"><div data-testid="stMetricLabel">Revenue</div>
    <div data-testid="stMetricValue" style="width:40px;overflow:hidden;white-space:nowrap">¥287,875,123</div></div>
  <svg><text>professional_services</text></svg>
</div>"""

CLEAN_PAGE = """
<div data-testid="stMain">
  <p>Last login: —</p><p>Nobody is on the list; write to support@demo.customer360.local</p>
  <div data-testid="stDataFrame">
    <table role="grid"><tr><th role="columnheader">Customer</th></tr><tr><td role="gridcell">—</td></tr></table>
  </div>
  <div data-testid="stMetric"><div data-testid="stMetricValue" style="width:400px">¥2.88亿</div></div>
</div>"""


def test_the_checker_reports_every_kind_of_finding_at_once(browser):
    page = browser.new_page()
    try:
        page.set_content(FAULTY_PAGE)
        found = check_page(page)
        page.set_content(CLEAN_PAGE)
        clean = check_page(page)
        page.set_content(
            '<div data-testid="stMain"><svg><text>wechat</text><text>2026-03</text><text>¥1.5B</text>'
            "<text>400k</text><text>Nov 2025</text><text>40万</text></svg></div>"
        )
        untranslated = check_page(page, "zh"), check_page(page, "en")
    finally:
        page.close()
    assert found == [
        'text shows an empty value as a word: "Last login: None"',
        'text shows a raw i18n key "nav.overview": "nav.overview"',
        'message: "Something went wrong: Name is required."',
        'chart shows a code "professional_services"',
        'table 1 header "customer_id_l" is snake_case',
        'table 1 has a cell "NaT"',
        'table 1 has raw JSON "{"email": "a"}"',
        'table 1 has a missing value (drawn as "None")',
        'metric "Revenue" is cut off: "¥287,875,123"',
    ]
    assert clean == []
    assert untranslated == (
        [
            'chart shows an untranslated code "wechat"',
            'chart shows English units or months "¥1.5B"',
            'chart shows English units or months "400k"',
            'chart shows English units or months "Nov 2025"',
        ],
        [],
    )
