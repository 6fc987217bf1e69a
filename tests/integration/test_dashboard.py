"""The dashboard in a real browser (Debian's headless Chromium, driven by Playwright) against a real ponton web,
nginx and containers: log in with the one-time link, see the apps, open one, watch the plot draw while a bounded
load runs, change a config value and see it served, roll back with the button; another user sees none of it.
Each page's screenshot is kept in PONTON_ARTIFACTS (default /tmp/ponton-artifacts)."""

import os
from pathlib import Path

import pytest

from ponton.testing import Load, Sandbox
from tests.integration.web import Api, add_user, login_link, token

ARTIFACTS = Path(os.environ.get("PONTON_ARTIFACTS", "/tmp/ponton-artifacts")) / "dashboard"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright  # imported here: only this module drives a browser

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--host-resolver-rules=MAP *.ponton.test 127.0.0.1"])  # the sandbox's names, on this machine only
        yield browser
        browser.close()


@pytest.fixture
def web(tmp_path):
    box = Sandbox(tmp_path, health_timeout=20, stop_timeout=5, web_sample_interval=1)
    try:
        add_user(box, "alice")
        add_user(box, "bob")
        box.start_web()
        yield box
    finally:
        box.close()


@pytest.fixture
def alices_app(web, echo_image):
    app = web.new_app_name()
    Api(web, token(web, "alices", "alice")).ok("POST", "/apps", {"name": app})
    web.run("git:from-image", app, echo_image)
    return app


@pytest.fixture
def page(browser):
    # The test polls the page with expressions of its own, which the pages' CSP (no eval) would refuse.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors


def shot(page, name: str):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def log_in(page, web, user: str) -> str:
    link = login_link(web, user)
    page.goto(link)
    shot(page, f"login-{user}")
    page.click("#login")
    page.wait_for_url(f"http://{web.web_host}:{web.http_port}/")
    assert "ponton_" not in page.url
    return link


def progress_done(page):
    page.wait_for_function("document.getElementById('progress-output').textContent.match(/^(done|error: .*)$/m)",
                           timeout=300_000)
    output = page.text_content("#progress-output")
    assert output.rstrip().endswith("done"), output
    return output


def test_log_in_see_the_app_plot_change_config_and_roll_back(web, page, alices_app):
    app, host = alices_app, web.host(alices_app)
    log_in(page, web, "alice")
    session = next(c for c in page.context.cookies() if c["name"] == "ponton_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it
    row = page.wait_for_selector(f"#apps tr[data-app='{app}']")
    assert "running" in row.text_content() and "v1" in row.text_content() and host in row.text_content()
    assert row.query_selector("td:last-child").text_content() not in ("", "-")  # when it was last deployed
    shot(page, "apps")

    page.click(f"#apps tr[data-app='{app}'] a")
    page.wait_for_selector("#releases tr[data-version='v1']")
    page.wait_for_selector("#instances td:text('web.1')")
    page.wait_for_selector("#instances td:text('healthy')")
    page.wait_for_function(f"document.getElementById('domains').textContent.includes('{host}')")
    with Load(web.http_port, host, clients=2, max_seconds=60):  # bounded: it stops by itself
        page.wait_for_function("Number(document.getElementById('plot-rps').dataset.points) >= 3 && "
                               "Number(document.getElementById('plot-rps').dataset.last) > 0", timeout=60_000)
        page.wait_for_function("Number(document.getElementById('plot-latency').dataset.points) >= 3")
    assert int(page.get_attribute("#plot-memory", "data-points")) >= 1
    page.wait_for_function("Number(document.getElementById('plot-cpu').dataset.points) >= 1")  # from 2 samples
    assert page.locator("#plot-rps circle.point").count() >= 3
    shot(page, "app")

    page.fill("#config-form [name=key]", "GREETING")
    page.fill("#config-form [name=value]", "bonjour, le monde")
    page.click("#config-form button[type=submit]")
    assert "-----> Starting web.1 (v2)" in progress_done(page)
    assert web.get(host)[1].startswith(b"bonjour, le monde from ")
    secret = page.wait_for_selector("#config td[data-key='GREETING']")
    assert secret.text_content() == "••••••••"  # masked until asked
    page.click("#config tr:has(td[data-key='GREETING']) button.reveal")
    assert secret.text_content() == "bonjour, le monde"
    page.wait_for_selector("#releases tr[data-version='v2'] .badge.current")
    shot(page, "config-changed")

    page.once("dialog", lambda dialog: dialog.dismiss())  # asked, and refused: nothing happens
    page.click("#releases tr[data-version='v1'] button.rollback")
    assert web.get(host)[1].startswith(b"bonjour")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.click("#releases tr[data-version='v1'] button.rollback")
    assert "v3" in progress_done(page) and asked == [f"Roll {app} back to v1, its code and config?"]
    assert web.get(host)[1].startswith(b"hello from ")
    page.wait_for_selector("#releases tr[data-version='v3'] .badge.current")
    page.wait_for_function("document.getElementById('logs').textContent.includes('listening on')")
    shot(page, "rolled-back")


def test_a_second_user_does_not_see_the_first_users_app(web, page, alices_app):
    log_in(page, web, "bob")
    page.wait_for_selector("#apps td.muted:text('none')")
    assert alices_app not in page.text_content("#apps")
    shot(page, "apps-of-another-user")
    response = page.goto(f"http://{web.web_host}:{web.http_port}/apps/{alices_app}")
    assert response.status == 403 and "access denied" in page.text_content("main")
    shot(page, "denied")


def test_a_used_link_shows_the_login_page(web, page):
    link = log_in(page, web, "alice")
    page.context.clear_cookies()
    page.goto(link)
    assert "used already or has expired" in page.text_content("main")
    shot(page, "used-link")
