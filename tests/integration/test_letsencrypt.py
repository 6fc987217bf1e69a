"""Let's Encrypt over ACME HTTP-01 against a real ACME server on loopback (Debian's pebble)."""

import json
import ssl
import subprocess
import sys
import time

import pytest

from ponton.testing import Load
from tests.integration.pebble import Pebble


@pytest.fixture
def pebble(sandbox, tmp_path):
    server = Pebble(tmp_path / "pebble", sandbox.http_port)
    sandbox.env["REQUESTS_CA_BUNDLE"] = str(server.listener_ca)  # pebble's own endpoints: a private CA
    sandbox.run("letsencrypt:set", "--global", "server", server.directory)
    sandbox.run("letsencrypt:set", "--global", "email", "ops@example.org")
    yield server
    server.close()


def test_enable_issues_a_certificate_and_a_forced_renewal_drops_nothing(sandbox, deployed, pebble):
    host = sandbox.host(deployed)
    sandbox.run("ps:scale", deployed, "web=2")
    out = sandbox.run("letsencrypt:enable", deployed).stdout
    assert "is served over HTTPS until" in out
    root = str(pebble.root_ca())

    status, body, _ = sandbox.get_tls(host, cafile=root)  # verified against pebble's root
    assert status == 200 and body.startswith(b"hello from ")
    assert sandbox.get(host)[0] == 301
    first = json.loads(sandbox.run("certs:report", deployed, "--format", "json").stdout)
    assert first["source"] == "letsencrypt" and first["names"] == [host]
    [row] = json.loads(sandbox.run("letsencrypt:list", "--format", "json").stdout)
    assert (row["app"], row["status"], row["error"]) == (deployed, "valid", "")

    with Load(sandbox.https_port, host, tls=ssl.create_default_context(cafile=root)) as load:
        sandbox.run("letsencrypt:renew", deployed)
        sandbox.run("letsencrypt:renew", deployed)
    assert load.result.failures == []
    assert load.result.ok > 20
    renewed = json.loads(sandbox.run("certs:report", deployed, "--format", "json").stdout)
    assert renewed["fingerprint"] != first["fingerprint"]
    assert _served_fingerprint(sandbox, host, root) == renewed["fingerprint"]

    refused = sandbox.run("certs:add", deployed, input="", check=False)
    assert refused.returncode == 2 and "letsencrypt:disable" in refused.stderr

    sandbox.run("letsencrypt:disable", deployed)
    assert sandbox.get(host)[0] == 200
    assert json.loads(sandbox.run("letsencrypt:list", "--format", "json").stdout) == []


def test_failed_renewal_keeps_the_certificate_and_is_reported(sandbox, deployed, pebble):
    host = sandbox.host(deployed)
    sandbox.run("letsencrypt:enable", deployed)
    root = str(pebble.root_ca())
    before = _served_fingerprint(sandbox, host, root)

    pebble.close()  # the ACME server is gone
    result = sandbox.run("letsencrypt:renew", deployed, check=False)
    assert result.returncode != 0 and "cannot reach the ACME server" in result.stderr
    assert _served_fingerprint(sandbox, host, root) == before
    [row] = json.loads(sandbox.run("letsencrypt:list", "--format", "json").stdout)
    assert row["status"] == "failed" and row["failures"] == 1 and row["retry_at"]
    assert "cannot reach the ACME server" in row["error"]
    assert "letsencrypt: failed" in sandbox.run("report").stdout


def test_watchdog_issues_a_missing_certificate(sandbox, deployed, pebble):
    host = sandbox.host(deployed)
    sandbox.run("letsencrypt:enable", deployed)
    root = str(pebble.root_ca())
    _lose_and_see_reissued(sandbox, host, root, sandbox.root / "state" / "tls" / deployed, "renewing")
    assert '"valid"' in sandbox.run("letsencrypt:list", "--format", "json").stdout


def test_enable_needs_an_email_and_a_reachable_domain(sandbox, deployed, tmp_path):
    result = sandbox.run("letsencrypt:enable", deployed, check=False)
    assert result.returncode == 2 and "letsencrypt:set --global email" in result.stderr
    assert json.loads(sandbox.run("letsencrypt:list", "--format", "json").stdout) == []
    bad = sandbox.run("letsencrypt:set", "--global", "email", "not-an-email", check=False)
    assert bad.returncode == 2 and "not an email address" in bad.stderr


def _served_fingerprint(sandbox, host: str, cafile: str) -> str:
    """SHA-256 of the certificate nginx presents for `host`."""
    import hashlib
    import socket

    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", sandbox.https_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def test_the_dashboard_gets_a_certificate_and_the_watchdog_renews_it(sandbox, pebble):
    sandbox.start_web()
    out = sandbox.run("letsencrypt:enable-dashboard").stdout
    assert f"https://{sandbox.web_host}:{sandbox.https_port} is served over HTTPS until" in out, out
    root = str(pebble.root_ca())
    status, body, _ = sandbox.get_tls(sandbox.web_host, "/api/v1/openapi.json", cafile=root)
    assert status == 200 and b'"openapi"' in body
    assert sandbox.get(sandbox.web_host, "/api/v1/openapi.json")[0] == 301
    [row] = json.loads(sandbox.run("letsencrypt:list", "--format", "json").stdout)
    assert (row["app"], row["status"], row["error"]) == ("ponton", "valid", "") and row["days_left"] > 0
    for command, stdin in (("certs:add-dashboard", "not read"), ("certs:remove-dashboard", None)):
        refused = sandbox.run(command, input=stdin, check=False)
        assert refused.returncode == 2 and "letsencrypt:disable-dashboard" in refused.stderr, refused.stderr

    _lose_and_see_reissued(sandbox, sandbox.web_host, root, sandbox.root / "state" / "tls" / "_web",
                           "ponton: renewing its Let's Encrypt certificate")

    sandbox.run("letsencrypt:disable-dashboard")
    assert sandbox.get(sandbox.web_host, "/api/v1/openapi.json")[0] == 200
    assert json.loads(sandbox.run("letsencrypt:list", "--format", "json").stdout) == []
    assert sandbox.run("letsencrypt:disable-dashboard", check=False).returncode == 3


def _lose_and_see_reissued(sandbox, host: str, root: str, tls_dir, renewing: str):
    """Delete the certificate in `tls_dir`; a watchdog's next round must issue a new one (it logs `renewing`),
    which nginx then serves for `host`."""
    before = _served_fingerprint(sandbox, host, root)
    for name in ("server.crt", "server.key"):
        (tls_dir / name).unlink()
    watchdog = subprocess.Popen([sys.executable, "-m", "ponton", "watchdog", "--interval", "1"], env=sandbox.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in watchdog.stdout:  # bounded: the test's timeout; the watchdog logs each renewal
            if renewing in line:
                break
        served = before
        for _ in range(300):  # the new certificate is written first, then nginx reloads with it
            if (tls_dir / "server.crt").exists():
                try:
                    served = _served_fingerprint(sandbox, host, root)
                except ssl.SSLError:  # the reload without the lost certificate: no certificate for the name
                    served = before
                if served != before:
                    break
            time.sleep(0.1)
    finally:
        watchdog.terminate()
        watchdog.communicate(timeout=30)
    assert served != before
