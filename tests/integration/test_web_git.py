"""git push over HTTPS through nginx (a test certificate) into ponton web: the same pipeline and streamed output as
over SSH, the ponton user as user name and a token as password."""

import shutil
import subprocess

import pytest

from ponton.testing import CertificateAuthority
from tests.integration.conftest import APPS
from tests.integration.web import add_user, token


@pytest.fixture
def web(sandbox, tmp_path):
    ca = CertificateAuthority(tmp_path / "ca")
    cert, key = ca.issue(sandbox.web_host)
    add_user(sandbox, "alice")
    add_user(sandbox, "bob")
    sandbox.start_web()
    sandbox.run("certs:add-dashboard", input=cert.read_text() + key.read_text())
    sandbox.cafile = ca.cafile
    return sandbox


def git_env(web) -> dict:
    """git's environment: the sandbox's CA (GIT_SSL_CAINFO, which wins over git's config), and no password prompt."""
    return {**web.env, "GIT_SSL_CAINFO": str(web.cafile), "GIT_TERMINAL_PROMPT": "0"}


class Checkout:
    def __init__(self, web, path, source=APPS / "static"):
        self.web, self.path = web, path
        shutil.copytree(source, path)
        self.git("init", "-q", "-b", "main")
        self.commit("first")

    def git(self, *args: str) -> subprocess.CompletedProcess:
        # The sandbox's names are on 127.0.0.1; its CA signs the dashboard's certificate. No prompt for a password.
        options = ["-c", f"http.curloptResolve={self.web.web_host}:{self.web.https_port}:127.0.0.1",
                   "-c", "user.email=dev@example.org", "-c", "user.name=dev", "-c", "credential.helper="]
        return subprocess.run(["git", *options, *args], cwd=self.path, capture_output=True, text=True, timeout=600,
                              env=git_env(self.web))

    def commit(self, message: str):
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def url(self, app: str, user: str, secret: str) -> str:
        return f"https://{user}:{secret}@{self.web.web_host}:{self.web.https_port}/{app}.git"


def test_a_push_over_https_deploys_and_streams_its_output(web, tmp_path):
    app, secret = web.new_app_name(), token(web, "laptop", "alice")
    checkout = Checkout(web, tmp_path / "site")
    pushed = checkout.git("push", checkout.url(app, "alice", secret), "main")
    assert pushed.returncode == 0, pushed.stderr
    assert "remote: -----> Deploying" in pushed.stderr and f"remote: =====> {app} v1 deployed" in pushed.stderr
    status, body = web.get(web.host(app))
    assert status == 200 and b"a static site says hello" in body
    assert web.run("apps:info", app, "--format", "json").stdout.count('"owner": "alice"') == 1

    clone = subprocess.run(["git", "-c", f"http.curloptResolve={web.web_host}:{web.https_port}:127.0.0.1", "clone",
                            "-q", checkout.url(app, "alice", secret), str(tmp_path / "clone")],
                           capture_output=True, text=True, timeout=120, env=git_env(web))
    assert clone.returncode == 0, clone.stderr
    assert (tmp_path / "clone" / "index.html").read_bytes() == (tmp_path / "site" / "index.html").read_bytes()


def test_a_failed_build_rejects_the_push_and_the_branch_stays(web, tmp_path):
    app, secret = web.new_app_name(), token(web, "laptop", "alice")
    checkout = Checkout(web, tmp_path / "site")
    assert checkout.git("push", checkout.url(app, "alice", secret), "main").returncode == 0
    before = checkout.git("ls-remote", checkout.url(app, "alice", secret), "refs/heads/main").stdout.split()[0]
    (checkout.path / "Dockerfile").write_text("FROM ponton/base:trixie\nRUN echo 'broken step' && false\n")
    checkout.commit("broken")
    pushed = checkout.git("push", checkout.url(app, "alice", secret), "main")
    assert pushed.returncode != 0 and "pre-receive hook declined" in pushed.stderr, pushed.stderr
    assert "broken step" in pushed.stderr, pushed.stderr
    assert checkout.git("ls-remote", checkout.url(app, "alice", secret), "refs/heads/main").stdout.split()[0] == before
    assert web.get(web.host(app))[0] == 200  # the previous release serves


def test_a_wrong_token_or_another_users_token_is_refused(web, tmp_path):
    app = web.new_app_name()
    checkout = Checkout(web, tmp_path / "site")
    for user, secret in [("alice", "ponton_wrong"), ("alice", token(web, "bobs", "bob")), ("alice", "")]:
        pushed = checkout.git("push", checkout.url(app, user, secret), "main")
        assert pushed.returncode != 0 and ("Authentication failed" in pushed.stderr or "401" in pushed.stderr), \
            pushed.stderr
    assert web.run("apps:info", app, check=False).returncode == 3  # nothing was created

    alices = token(web, "laptop", "alice")
    assert checkout.git("push", checkout.url(app, "alice", alices), "main").returncode == 0
    bobs = token(web, "desk", "bob")
    for args in (["push", checkout.url(app, "bob", bobs), "main:other"], ["ls-remote", checkout.url(app, "bob", bobs)]):
        refused = checkout.git(*args)
        assert refused.returncode != 0 and "403" in refused.stderr, refused.stderr
    assert f"user bob has no access to app {app} (git-receive-pack)" in web.run("events", app).stdout


def test_only_the_smart_protocol_is_served(web):
    status, body, _ = web.get_tls(web.web_host, "/anything.git/HEAD", cafile=str(web.cafile))
    assert status in (401, 404, 405)  # no dumb HTTP: no file of the repository is served
    secret = token(web, "ops")
    headers = {"Authorization": f"Bearer {secret}"}
    status, body, _ = web.get_tls(web.web_host, "/anything.git/info/refs", cafile=str(web.cafile), headers=headers)
    assert status == 403 and b"smart HTTP" in body
    status, body, _ = web.get_tls(web.web_host, "/nothere.git/info/refs?service=git-upload-pack",
                                  cafile=str(web.cafile), headers=headers)
    assert status == 404 and b"has no git repository" in body
