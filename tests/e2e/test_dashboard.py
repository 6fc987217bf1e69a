"""The web face as installed: the supervised `ponton web` behind the system nginx at ponton.DOMAIN, on the
installed ports; tokens and login links from the installed `ponton`; git push over HTTPS once the dashboard has
a certificate. Runs before test_install.py, whose last test purges the installation."""

import http.client
import json
import shutil
import ssl
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ponton.testing import CertificateAuthority, LoopbackHTTPS
from tests.conftest import APPS
from tests.e2e.conftest import DOMAIN, GIT, ponton, ssh_key

WEB_HOST = f"ponton.{DOMAIN}"


class Client:
    """HTTP(S) to the installed nginx on 127.0.0.1, with ponton.DOMAIN as Host (and SNI), keeping a cookie."""

    def __init__(self, port: int, cafile: Path | None = None):
        self.port, self.cafile, self.cookie = port, cafile, None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        if self.cafile:
            connection = LoopbackHTTPS(WEB_HOST, self.port, timeout=60,
                                       context=ssl.create_default_context(cafile=str(self.cafile)))
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Host": WEB_HOST, "Connection": "close", **(headers or {})}
        if self.cookie:
            headers["Cookie"] = self.cookie
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read(), response.headers
        finally:
            connection.close()

    def api(self, path: str, token: str | None = None):
        status, body, _ = self.request("GET", f"/api/v1{path}",
                                       headers={"Authorization": f"Bearer {token}"} if token else None)
        return status, json.loads(body)

    def log_in(self, link: str) -> str:
        """Open a `dashboard:login` link, press its button: the session cookie's Set-Cookie header."""
        code = urlsplit(link).path.removeprefix("/login/")
        status, page, _ = self.request("GET", urlsplit(link).path)
        assert status == 200 and b"Log in" in page, page
        status, _, headers = self.request("POST", "/login", f"code={code}".encode(),
                                          {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 303 and headers["Location"] == "/", (status, headers)
        set_cookie = headers["Set-Cookie"]
        self.cookie = set_cookie.split(";")[0]
        return set_cookie


def answers(port: int) -> bool:
    try:
        return Client(port).request("GET", "/api/v1/openapi.json")[0] == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def web(installed) -> Client:
    """The installed web face over plain HTTP, once its service answers (install.sh started it)."""
    deadline = time.monotonic() + 60
    while not answers(installed.http_port) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert answers(installed.http_port), web_log()
    return Client(installed.http_port)


@pytest.fixture(scope="module")
def admin_token(web) -> str:
    created = ponton("tokens:create", "e2e-admin").stdout.splitlines()
    assert "(server admin)" in created[0]
    return created[-1]


@pytest.fixture(scope="module")
def user_token(installed, tmp_path_factory) -> str:
    """A token of `webdev`, a user (role user) with an SSH key, made for them by the server's root."""
    ssh_key(tmp_path_factory, "webdev", role="user")
    created = json.loads(ponton("tokens:create", "laptop", "--for", "webdev", "--format", "json").stdout)
    assert set(created) == {"name", "token", "expires"}
    return created["token"]


def web_log() -> str:
    """The end of the installed web face's log: what a failed request left there (the purge removes it)."""
    return Path("/var/log/ponton/web.log").read_text(errors="replace")[-3000:]


def login_link() -> str:
    return ponton("dashboard:login").stdout.splitlines()[-1]


def test_the_installed_web_answers_through_the_system_nginx(installed, web):
    status, body, headers = web.request("GET", "/api/v1/openapi.json")
    assert status == 200 and json.loads(body)["openapi"].startswith("3.")
    assert headers["X-Frame-Options"] == "DENY"
    assert any(WEB_HOST in conf.read_text() for conf in Path("/etc/nginx/ponton.d").glob("*.conf"))  # the system's
    status, error = web.api("/apps")
    assert status == 401 and error["error"].startswith("authentication required"), error
    for name, kind in (("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")):  # in the installed package
        status, body, headers = web.request("GET", f"/static/{name}")
        assert status == 200 and body and headers["Content-Type"].startswith(kind), (name, status)


def test_a_token_of_the_installed_ponton_lists_the_apps(installed, web, admin_token):
    status, apps = web.api("/apps", admin_token)
    assert status == 200 and installed.app in apps, apps
    assert web.api("/me", admin_token) == (200, {"user": None, "role": "admin"})
    status, info = web.api(f"/apps/{installed.app}", admin_token)
    assert status == 200 and info["name"] == installed.app, info
    listed = ponton("tokens:list", "--format", "json").stdout
    assert "e2e-admin" in listed and admin_token not in listed


def test_a_wrong_or_revoked_token_is_refused(web, admin_token):
    status, error = web.api("/apps", "ponton_" + "x" * 40)
    assert (status, error) == (401, {"error": "invalid or expired credentials"})
    token = ponton("tokens:create", "to-revoke").stdout.splitlines()[-1]
    assert web.api("/apps", token)[0] == 200
    ponton("tokens:revoke", "to-revoke")
    assert web.api("/apps", token) == (401, {"error": "invalid or expired credentials"})


def test_a_user_token_sees_only_what_the_user_may(installed, web, user_token):
    assert web.api("/me", user_token) == (200, {"user": "webdev", "role": "user"})
    assert web.api("/apps", user_token) == (200, [])
    status, error = web.api(f"/apps/{installed.app}", user_token)
    assert status == 403 and "error" in error, error


def test_the_login_link_logs_a_client_in_with_a_cookie(installed, web):
    link = login_link()
    assert link.startswith(f"http://{WEB_HOST}:{installed.http_port}/login/ponton_"), link
    browser = Client(installed.http_port)
    set_cookie = browser.log_in(link).lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie and "secure" not in set_cookie
    status, page, _ = browser.request("GET", "/")
    assert status == 200 and b'name="csrf-token"' in page
    status, apps = browser.api("/apps")
    assert status == 200 and installed.app in apps, apps
    # A change with the cookie but without the page's CSRF token is refused, and changes nothing.
    status, body, _ = browser.request("POST", "/api/v1/apps", json.dumps({"name": "csrf-less"}).encode(),
                                      {"Content-Type": "application/json"})
    assert status == 403 and b"CSRF" in body
    assert "csrf-less" not in browser.api("/apps")[1]
    # The link worked once: opened again, it shows the login page.
    status, page, _ = Client(installed.http_port).request("GET", urlsplit(link).path)
    assert status == 400 and b"used already or has expired" in page


@pytest.fixture(scope="module")
def https(installed, web, tmp_path_factory) -> Client:
    """The web face once the dashboard has a certificate (from a test CA) given to the installed ponton."""
    ca = CertificateAuthority(tmp_path_factory.mktemp("dashboard-ca"))
    cert, key = ca.issue(WEB_HOST)
    out = ponton("certs:add-dashboard", input=cert.read_text() + key.read_text()).stdout
    assert f"https://{WEB_HOST}:{installed.https_port} is served over HTTPS" in out, out
    yield Client(installed.https_port, ca.cafile)
    ponton("certs:remove-dashboard")
    assert answers(installed.http_port)


def test_with_a_certificate_http_redirects_and_the_cookie_is_secure(installed, web, https, admin_token):
    status, _, headers = web.request("GET", "/api/v1/apps")
    assert status == 301 and headers["Location"].startswith(f"https://{WEB_HOST}:{installed.https_port}/")
    assert https.api("/apps", admin_token)[0] == 200
    link = login_link()
    assert link.startswith(f"https://{WEB_HOST}:{installed.https_port}/login/"), link
    set_cookie = https.log_in(link).lower()
    assert "secure" in set_cookie and "httponly" in set_cookie
    assert installed.app in https.api("/apps")[1]


def git(work: Path, https: Client, *args: str) -> subprocess.CompletedProcess:
    options = ["-c", f"http.curloptResolve={WEB_HOST}:{https.port}:127.0.0.1", "-c", "credential.helper="]
    return subprocess.run([*GIT, *options, *args], cwd=work, capture_output=True, text=True, timeout=900,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(work), "GIT_TERMINAL_PROMPT": "0",
                               "GIT_SSL_CAINFO": str(https.cafile)})


def test_git_push_over_https_deploys_as_the_tokens_user(installed, web, https, user_token, admin_token, tmp_path):
    work = tmp_path / "site"
    shutil.copytree(APPS / "static", work)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "first"]):
        assert git(work, https, *args).returncode == 0
    url = f"https://webdev:{{}}@{WEB_HOST}:{https.port}/e2e-https.git"

    refused = git(work, https, "push", url.format("ponton_" + "y" * 40), "main")
    assert refused.returncode != 0 and "Authentication failed" in refused.stderr, refused.stderr
    assert "e2e-https" not in https.api("/apps", admin_token)[1]

    pushed = git(work, https, "push", url.format(user_token), "main")
    assert pushed.returncode == 0, pushed.stderr + web_log()
    assert "remote: -----> Deploying" in pushed.stderr and "remote: =====> e2e-https v1 deployed" in pushed.stderr
    status, body = installed.get("e2e-https")
    assert status == 200 and b"a static site says hello" in body
    assert https.api("/apps", user_token) == (200, ["e2e-https"])
    assert "e2e-https" in https.api("/apps", admin_token)[1]
