"""Two HTTP routes that write and clear the login cookie server-side (httpOnly, SameSite=Strict).

A Streamlit script talks to the browser over a websocket and cannot answer an HTTP request,
so it cannot send a `Set-Cookie` header; streamlit-authenticator therefore wrote its cookie
from JavaScript, readable by any script on the page. Streamlit's ASGI `st.App` (serve.py)
mounts extra routes next to the app: after a login the guard offers the signed cookie here
under a one-time nonce and draws a `fetch` of `POST /_c360/session` with it; the response
sets the cookie `HttpOnly; SameSite=Strict; Path=/` (+ `Secure` when the request came over
https). A logout offers an empty value and the response expires the cookie. Nonces live in
this process's memory for NONCE_SECONDS and are good once.

`MOUNTED` is true once serve.py has built the app with these routes; under plain
`streamlit run app.py` (and AppTest) there is no route, and a session lasts as long as its
browser tab (nothing is written to the browser).
"""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

import streamlit as st
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from lib.security import sessions

PATH_SET = "/_c360/session"
NONCE_SECONDS = 120
MOUNTED = False

_offers: dict[str, tuple[float, str]] = {}  # nonce -> (offered at, cookie value or "")
_taken: set[str] = set()
_lock = threading.Lock()


def offer(cookie_value: str) -> str:
    """Hold `cookie_value` ("" to clear the cookie) for one request; returns its nonce."""
    nonce = secrets.token_urlsafe(24)
    now = time.monotonic()
    with _lock:
        for old in [n for n, (at, _) in _offers.items() if now - at > NONCE_SECONDS]:
            _offers.pop(old, None)
        _offers[nonce] = (now, cookie_value)
    return nonce


def taken(nonce: str) -> bool:
    """Has the browser fetched this nonce (so the cookie is written or cleared)?"""
    with _lock:
        return nonce in _taken


def pending(nonce: str) -> bool:
    """Is the nonce still waiting for its request?"""
    with _lock:
        return nonce in _offers


def _take(nonce: str) -> str | None:
    with _lock:
        hit = _offers.pop(nonce, None)
        if hit is None or time.monotonic() - hit[0] > NONCE_SECONDS:
            return None
        _taken.add(nonce)
        if len(_taken) > 10_000:
            _taken.clear()
        return hit[1]


async def _set_cookie(request: Request) -> Response:
    nonce = (await request.body()).decode("ascii", "replace").strip()[:100]
    value = _take(nonce) if nonce else None
    if value is None:
        return Response("unknown or used nonce", status_code=403)
    response = Response(status_code=204)
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"
    if value:
        response.set_cookie(
            sessions.COOKIE_NAME,
            value,
            max_age=sessions.MAX_HOURS * 3600,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure,
        )
    else:
        response.delete_cookie(sessions.COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=secure)
    response.headers["Cache-Control"] = "no-store"
    return response


def routes() -> list[Route]:
    """The routes serve.py mounts (marks them mounted)."""
    global MOUNTED
    MOUNTED = True
    return [Route(PATH_SET, _set_cookie, methods=["POST"]), *_page_routes()]


# ---------------------------------------------------------------- the app's HTML page
#
# A page opened from a link (or reloaded) loads Streamlit's front-end again, and its first chart
# then loads Streamlit's plotly.js chunk (4.7 MB): the browser parses it for ~0.25 s on a
# 2-core machine, and only after the page's elements have arrived. Streamlit's index.html with
# one more <link rel="modulepreload"> for that chunk lets the browser fetch and parse it while
# the app connects and the script runs (docs/benchmarks.md, "A page opened from a link").
#
# Before it connects, Streamlit's front-end looks for the server under the page's own path first
# (/overview/_stcore/health), and only after that fails, and a 100 ms retry delay, under its
# parent (/_stcore/health): ~0.15 s of every page opened from a link. These pages are always one
# level below the app's root, so the page tells the front-end where the server is
# (window.__streamlit.BACKEND_BASE_URL: the URL's directory, which keeps a proxy's path prefix).
BACKEND_BASE = (
    "<script>window.__streamlit = Object.assign({}, window.__streamlit,"
    ' {BACKEND_BASE_URL: new URL(".", window.location.href).href});</script>'
)


def _index_html() -> str | None:
    from lib.ui.session import _plotly_chunk

    chunk = _plotly_chunk()
    index = Path(st.__file__).parent / "static" / "index.html"
    if chunk is None or not index.exists():
        return None  # another Streamlit build: its own index.html, unchanged
    html = index.read_text(encoding="utf-8")
    link = f'<link rel="modulepreload" crossorigin href="./static/js/{chunk}">'
    return html.replace("</head>", f"    {BACKEND_BASE}\n    {link}\n  </head>", 1) if "</head>" in html else None


def _page_routes() -> list[Route]:
    from lib.security import navigation

    html = _index_html()
    if html is None or st.get_option("server.baseUrlPath").strip("/"):
        return []

    async def page(request: Request) -> Response:
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

    paths = ["/", *(f"/{p.url_path}" for p in navigation.PAGES)]
    return [Route(path, page, methods=["GET", "HEAD"]) for path in paths]
