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

from starlette.requests import Request
from starlette.responses import Response
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
    return [Route(PATH_SET, _set_cookie, methods=["POST"])]
