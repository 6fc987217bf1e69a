"""Browser login over HTTP: a one-time link, a session cookie that scripts cannot read, CSRF protection on every
change made with it, a bounded number of login attempts."""

import re

import pytest
import requests

from tests.integration.web import Api, add_user, browser_session, expire_tokens, login_link


@pytest.fixture
def web(sandbox):
    add_user(sandbox, "alice")
    sandbox.start_web()
    return sandbox


def base(sandbox) -> str:
    return f"http://127.0.0.1:{sandbox.http_port}"


def fresh(sandbox) -> requests.Session:
    session = requests.Session()
    session.headers["Host"] = sandbox.web_host
    return session


def test_a_link_logs_in_once_and_leaves_no_secret_in_the_address(web):
    link = login_link(web, "alice")
    code = link.rsplit("/", 1)[1]
    browser = fresh(web)
    confirm = browser.get(f"{base(web)}/login/{code}")
    assert confirm.status_code == 200 and "Log in as alice" in confirm.text
    assert browser.get(f"{base(web)}/login/{code}").status_code == 200  # looking (a link preview) spends nothing
    response = browser.post(f"{base(web)}/login", data={"code": code}, allow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # plain HTTP here
    assert response.headers["referrer-policy"] == "same-origin"
    page = browser.get(f"{base(web)}/")
    assert page.status_code == 200 and "alice" in page.text and code not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]

    again = fresh(web)
    assert "used already or has expired" in again.get(f"{base(web)}/login/{code}").text
    used = again.post(f"{base(web)}/login", data={"code": code}, allow_redirects=False)
    assert used.status_code == 400 and "ponton_session" not in used.headers.get("set-cookie", "")


def test_an_expired_link_or_session_shows_the_login_page(web):
    browser, _ = browser_session(web, "alice")
    code = login_link(web, "alice").rsplit("/", 1)[1]
    expire_tokens(web.root / "state")
    assert "has expired" in fresh(web).get(f"{base(web)}/login/{code}").text
    response = browser.get(f"{base(web)}/", allow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert browser.get(f"{base(web)}/api/v1/apps").status_code == 401


def test_changes_with_the_cookie_need_the_csrf_token_and_our_origin(web, echo_image):
    app = web.new_app_name()
    browser, csrf = browser_session(web, "alice")
    url = f"{base(web)}/api/v1/apps"
    refused = browser.post(url, json={"name": app})
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
    assert browser.post(url, json={"name": app}, headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    evil = browser.post(url, json={"name": app}, headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    assert evil.status_code == 403 and "cross-site" in evil.json()["error"]
    assert browser.get(url).json() == []  # nothing was created
    created = browser.post(url, json={"name": app}, headers={"X-CSRF-Token": csrf,
                                                             "Origin": f"http://{web.web_host}:{web.http_port}"})
    assert created.status_code == 200 and created.text.splitlines()[-1] == '{"ok": true}'
    assert browser.get(url).json() == [app]
    other, other_csrf = browser_session(web, "alice")
    assert other_csrf != csrf
    assert other.post(url, json={"name": "x"}, headers={"X-CSRF-Token": csrf}).status_code == 403


def test_logout_needs_the_csrf_token_and_ends_the_session(web):
    browser, csrf = browser_session(web, "alice")
    assert browser.post(f"{base(web)}/logout", data={"csrf": "nope"}).status_code == 403
    assert browser.get(f"{base(web)}/api/v1/apps").status_code == 200
    response = browser.post(f"{base(web)}/logout", data={"csrf": csrf}, allow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    browser.cookies.clear()
    assert browser.get(f"{base(web)}/api/v1/apps").status_code == 401


def test_logins_are_limited_per_address(web):
    browser = fresh(web)
    statuses = [browser.post(f"{base(web)}/login", data={"code": f"ponton_wrong{n}"}).status_code for n in range(12)]
    assert statuses[:10] == [400] * 10 and statuses[10:] == [429, 429]
    code = login_link(web, "alice").rsplit("/", 1)[1]
    assert browser.post(f"{base(web)}/login", data={"code": code}).status_code == 429  # even a good one, for now
    other = fresh(web)
    other.headers["X-Forwarded-For"] = "203.0.113.9"  # nginx replaces it: the same client address, still limited
    assert other.post(f"{base(web)}/login", data={"code": code}).status_code == 429


def test_failed_token_attempts_are_limited_per_address(web):
    statuses = [Api(web, f"ponton_guess{n}").get("/apps").status_code for n in range(22)]
    assert statuses[:20] == [401] * 20 and statuses[20:] == [429, 429]


def test_the_pages_escape_what_they_show(web):
    browser, _ = browser_session(web, "alice")
    page = browser.get(f"{base(web)}/apps/%3Cscript%3E")
    assert page.status_code == 400 and "<script>" not in page.text
    assert re.search("&lt;script&gt;|invalid app", page.text)
