"""Token, session cookie and CSRF rules of the console and its API."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from console_harness import BEARER, TOKEN, Reply, RunningConsole, request

from pipeline.console.auth import SESSION_COOKIE
from pipeline.console.views import DISABLED

ROUTES = [
    ("GET", "/console"),
    ("GET", "/console/alerts/inc-mild"),
    ("POST", "/console/alerts/inc-mild/acknowledge"),
    ("GET", "/api/alerts"),
    ("GET", "/api/alerts/inc-mild"),
    ("POST", "/api/alerts/inc-mild/acknowledge"),
]


def login(console: RunningConsole) -> str:
    """The session cookie a browser gets from ``?token=``."""
    reply = request("GET", f"{console.url}/console?token={TOKEN}")
    assert reply.status == 303
    return reply.cookies()[SESSION_COOKIE].value


def csrf_of(page: Reply) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert match, "no CSRF field in the page"
    return match.group(1)


@pytest.mark.parametrize("method,path", ROUTES)
def test_disabled_without_token(make_console, method: str, path: str) -> None:
    console = make_console(token=None)
    reply = request(method, console.url + path, headers=BEARER, form={"actor": "x"})
    assert reply.status == 503
    assert DISABLED in reply.text
    assert console.sender.sent == []


@pytest.mark.parametrize("method,path", ROUTES)
def test_every_route_needs_the_token(console: RunningConsole, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}):
        reply = request(method, console.url + path, headers=headers,
                        form={"actor": "x"} if method == "POST" else None)
        assert reply.status == 401, headers
    assert console.sender.sent == []


def test_bearer_token_opens_pages_and_api(console: RunningConsole) -> None:
    assert request("GET", f"{console.url}/console", headers=BEARER).status == 200
    assert request("GET", f"{console.url}/api/alerts", headers=BEARER).status == 200
    api = request("GET", f"{console.url}/api/alerts")
    assert api.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.json()["error"].startswith("unauthorized")


def test_token_in_url_becomes_an_http_only_strict_cookie(console: RunningConsole) -> None:
    reply = request("GET", f"{console.url}/console/alerts/inc-mild?token={TOKEN}&x=1")
    assert reply.status == 303
    assert reply.headers["Location"] == "/console/alerts/inc-mild?x=1"
    morsel = reply.cookies()[SESSION_COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/"
    assert not morsel["secure"]
    assert TOKEN not in morsel.value
    page = request("GET", f"{console.url}/console/alerts/inc-mild",
                   cookies={SESSION_COOKIE: morsel.value})
    assert page.status == 200 and "inc-mild" in page.text


def test_wrong_token_in_url_sets_no_cookie(console: RunningConsole) -> None:
    reply = request("GET", f"{console.url}/console?token=guess")
    assert reply.status == 401
    assert SESSION_COOKIE not in reply.cookies()
    assert "令牌无效 Invalid token" in reply.text


def test_forged_and_expired_sessions_are_refused(console: RunningConsole) -> None:
    session = login(console)
    issued, nonce, mac, name = session.split(".")
    assert name == "admin"
    forged = [f"{int(issued) + 60}.{nonce}.{mac}.{name}", f"{issued}.{nonce}x.{mac}.{name}",
              f"{issued}.{nonce}.{'0' * len(mac)}.{name}", f"{issued}.{nonce}.{mac}.nobody",
              f"{issued}.{nonce}.{mac}", TOKEN, ""]
    for value in forged:
        reply = request("GET", f"{console.url}/console", cookies={SESSION_COOKIE: value})
        assert reply.status == 401, value
    assert request("GET", f"{console.url}/console",
                   cookies={SESSION_COOKIE: session}).status == 200
    console.clock.now += timedelta(hours=12, minutes=1)
    assert request("GET", f"{console.url}/console",
                   cookies={SESSION_COOKIE: session}).status == 401


def test_login_form_sets_the_session_and_only_redirects_inside_the_console(
        console: RunningConsole) -> None:
    page = request("GET", f"{console.url}/console/alerts/inc-mild")
    assert page.status == 401
    assert 'name="next" value="/console/alerts/inc-mild"' in page.text
    bad = request("POST", f"{console.url}/console/login", form={"token": "nope", "next": "/"})
    assert bad.status == 401 and SESSION_COOKIE not in bad.cookies()
    good = request("POST", f"{console.url}/console/login",
                   form={"token": TOKEN, "next": "/console/alerts/inc-mild"})
    assert good.status == 303 and good.headers["Location"] == "/console/alerts/inc-mild"
    assert SESSION_COOKIE in good.cookies()
    for target in ("//evil.example/console", "https://evil.example/", "/api/alerts"):
        reply = request("POST", f"{console.url}/console/login",
                        form={"token": TOKEN, "next": target})
        assert reply.headers["Location"] == "/console", target


def test_https_public_url_makes_cookies_secure_and_prefixes_paths(make_console) -> None:
    console = make_console(public_url="https://ops.example.com/pulse/")
    reply = request("GET", f"{console.url}/console?token={TOKEN}")
    assert reply.headers["Location"] == "/pulse/console"
    morsel = reply.cookies()[SESSION_COOKIE]
    assert morsel["secure"] and morsel["path"] == "/pulse/"
    page = request("GET", f"{console.url}/console", cookies={SESSION_COOKIE: morsel.value})
    assert 'href="/pulse/console/alerts/inc-severe"' in page.text


def test_form_posts_need_the_session_csrf_value(console: RunningConsole) -> None:
    session, other = login(console), login(console)
    page = request("GET", f"{console.url}/console/alerts/inc-mild",
                   cookies={SESSION_COOKIE: session})
    csrf, foreign = csrf_of(page), csrf_of(request(
        "GET", f"{console.url}/console/alerts/inc-mild", cookies={SESSION_COOKIE: other}))
    assert csrf != foreign
    url = f"{console.url}/console/alerts/inc-mild/acknowledge"
    for value in (None, "", "0" * 64, foreign):
        form = {"actor": "王小明"} | ({"csrf": value} if value is not None else {})
        reply = request("POST", url, form=form, cookies={SESSION_COOKIE: session})
        assert reply.status == 403, value
        assert "CSRF" in reply.text
    assert console.sender.sent == []
    reply = request("POST", url, form={"actor": "王小明", "csrf": csrf},
                    cookies={SESSION_COOKIE: session})
    assert reply.status == 303
    assert [c.kind for c in console.sender.sent] == ["acknowledge"]


def test_api_writes_need_the_bearer_header_not_the_cookie(console: RunningConsole) -> None:
    session = login(console)
    reply = request("POST", f"{console.url}/api/alerts/inc-mild/acknowledge",
                    body={"actor": "王小明"}, cookies={SESSION_COOKIE: session})
    assert reply.status == 403
    assert request("GET", f"{console.url}/api/alerts",
                   cookies={SESSION_COOKIE: session}).status == 200
    assert console.sender.sent == []
