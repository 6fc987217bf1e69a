"""`ponton web` as a service: kept running by the supervisor install.sh uses, served by nginx at ponton.DOMAIN,
over HTTPS once it has a certificate, following the global domain."""

import signal
import subprocess
import sys
from pathlib import Path

import ponton
from ponton.testing import CertificateAuthority
from tests.integration.conftest import eventually
from tests.integration.web import answers

SUPERVISE = Path(ponton.__file__).parents[1] / "runtime" / "service" / "supervise.sh"


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_the_supervisor_starts_ponton_web_again_when_it_dies(sandbox):
    with open(sandbox.root / "web.log", "a") as log:
        supervisor = subprocess.Popen(["bash", str(SUPERVISE), sys.executable, "-m", "ponton", "web"],
                                      env=sandbox.env, stdout=log, stderr=subprocess.STDOUT)
    try:
        eventually(lambda: answers(sandbox), what="ponton web to answer")
        (first,) = children(supervisor.pid)
        subprocess.run(["kill", "-KILL", str(first)], check=True)
        eventually(lambda: children(supervisor.pid) and children(supervisor.pid) != [first] and answers(sandbox),
                   what="the supervisor to start ponton web again")
    finally:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=30)
    assert not answers(sandbox)  # stopping the supervisor stopped the web too


def test_https_once_it_has_a_certificate_and_http_redirects_to_it(sandbox, tmp_path):
    ca = CertificateAuthority(tmp_path / "ca")
    cert, key = ca.issue(sandbox.web_host)
    sandbox.start_web()
    assert sandbox.run("dashboard:login").stdout.splitlines()[-1].startswith(f"http://{sandbox.web_host}:")

    other, other_key = ca.issue("elsewhere.example.org")
    refused = sandbox.run("certs:add-dashboard", input=other.read_text() + other_key.read_text(), check=False)
    assert refused.returncode == 2 and "none of the app's domains" in refused.stderr

    sandbox.run("certs:add-dashboard", input=cert.read_text() + key.read_text())
    status, body, _ = sandbox.get_tls(sandbox.web_host, "/api/v1/openapi.json", cafile=str(ca.cafile))
    assert status == 200 and b'"openapi"' in body
    status, _ = sandbox.get(sandbox.web_host, "/api/v1/apps")
    assert status == 301
    assert sandbox.run("dashboard:login").stdout.splitlines()[-1].startswith(
        f"https://{sandbox.web_host}:{sandbox.https_port}/login/ponton_")

    sandbox.run("certs:remove-dashboard")
    assert answers(sandbox)
    assert sandbox.run("certs:remove-dashboard", check=False).returncode == 3


def test_the_web_follows_the_global_domain(sandbox):
    sandbox.start_web()
    sandbox.run("domains:set-global", "elsewhere.test")
    assert answers(sandbox, "ponton.elsewhere.test")
    assert sandbox.get(sandbox.web_host, "/api/v1/openapi.json")[0] == 404  # nginx: no app is served there


def test_no_app_may_take_the_dashboards_name(sandbox, echo_image):
    for args in [("apps:create", "ponton"), ("git:from-image", "ponton", echo_image)]:
        result = sandbox.run(*args, check=False)
        assert result.returncode == 2 and "reserved" in result.stderr
    app = sandbox.new_app_name()
    sandbox.run("apps:create", app)
    assert "reserved" in sandbox.run("apps:rename", app, "ponton", check=False).stderr
