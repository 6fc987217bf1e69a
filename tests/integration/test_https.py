"""HTTPS with an app's own certificate: certs:add/remove/report, HTTP/2, redirect, HSTS, X-Forwarded-Proto."""

import io
import json
import os
import ssl
import subprocess
import sys
import tarfile

import pytest

from ponton.testing import CertificateAuthority


@pytest.fixture
def ca(tmp_path):
    return CertificateAuthority(tmp_path / "ca")


def test_certificate_is_served_over_http2_with_redirect_and_hsts(sandbox, deployed, ca):
    host = sandbox.host(deployed)
    cert, key = ca.issue(host, "www.example.org")
    out = sandbox.certs_add(deployed, cert, key).stdout
    assert f"served over HTTPS for {host}, www.example.org" in out

    status, body, headers = sandbox.get_tls(host, cafile=str(ca.cafile))
    assert status == 200 and body.startswith(b"hello from ")
    assert "Strict-Transport-Security" not in headers
    # The app sees the scheme the client used.
    assert sandbox.get_tls(host, "/env/HOSTNAME", cafile=str(ca.cafile))[0] == 200

    curl = subprocess.run(
        ["curl", "-sS", "--http2", "--cacert", str(ca.cafile), "--resolve", f"{host}:{sandbox.https_port}:127.0.0.1",
         "-o", "/dev/null", "-w", "%{http_version} %{http_code}", f"https://{host}:{sandbox.https_port}/"],
        capture_output=True, text=True, timeout=30)
    assert curl.stdout == "2 200", curl.stderr

    status, _ = sandbox.get(host)
    assert status == 301
    redirect = _location(sandbox, host, "/some/path?q=1")
    assert redirect == f"https://{host}:{sandbox.https_port}/some/path?q=1"

    sandbox.run("proxy:set", deployed, "hsts", "true")
    assert sandbox.get_tls(host, cafile=str(ca.cafile))[2]["Strict-Transport-Security"].startswith("max-age=31536000")
    sandbox.run("proxy:set", deployed, "https-redirect", "false")
    assert sandbox.get(host)[0] == 200

    report = json.loads(sandbox.run("certs:report", deployed, "--format", "json").stdout)
    assert report["names"] == [host, "www.example.org"] and report["issuer"] == "CN=ponton test CA"
    assert 28 <= report["days_left"] <= 30 and report["source"] == "custom"

    sandbox.run("certs:remove", deployed)
    assert sandbox.get(host)[0] == 200
    with pytest.raises(ssl.SSLError):  # no certificate for this name any more: the handshake is refused
        sandbox.get_tls(host, cafile=str(ca.cafile))


def test_x_forwarded_proto_is_the_clients_scheme(sandbox, deployed, ca):
    host = sandbox.host(deployed)
    sandbox.certs_add(deployed, *ca.issue(host))
    sandbox.run("proxy:set", deployed, "https-redirect", "false")
    assert json.loads(sandbox.get(host, "/headers")[1])["x-forwarded-proto"] == "http"
    assert json.loads(sandbox.get_tls(host, "/headers", cafile=str(ca.cafile))[1])["x-forwarded-proto"] == "https"


def test_certificates_that_do_not_fit_are_refused(sandbox, deployed, ca):
    host = sandbox.host(deployed)
    good_cert, good_key = ca.issue(host)
    other_cert, other_key = ca.issue(host)
    cases = {
        "does not match the certificate": (good_cert, other_key),
        "expired on": ca.issue(host, starts_in_days=-30, days=-1),
        "not valid before": ca.issue(host, starts_in_days=2, days=30),
        "none of the app's domains": ca.issue("elsewhere.example.org"),
        "stdin holds 0 certificate and 2 private key PEM blocks": (good_key, good_key),
    }
    for message, (cert, key) in cases.items():
        result = sandbox.certs_add(deployed, cert, key, check=False)
        assert result.returncode == 2 and message in result.stderr, (message, result.stderr)
    assert "has no certificate" in sandbox.run("certs:report", deployed).stdout
    assert sandbox.get(host)[0] == 200


def test_wildcard_certificate_and_tar_on_stdin(sandbox, deployed, ca):
    host = sandbox.host(deployed)
    cert, key = ca.issue(f"*.{sandbox.domain}")
    tarball = io.BytesIO()
    with tarfile.open(fileobj=tarball, mode="w") as tar:
        tar.add(cert, "server.crt")
        tar.add(key, "server.key")
    result = subprocess.run(
        [sys.executable, "-m", "ponton", "certs:add", deployed], input=tarball.getvalue(), env=sandbox.env, capture_output=True,
        timeout=120)
    assert result.returncode == 0, result.stderr
    assert sandbox.get_tls(host, cafile=str(ca.cafile))[0] == 200

    key_file = sandbox.root / "state" / "tls" / deployed / "server.key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert oct(key_file.parent.stat().st_mode & 0o777) == "0o700"
    assert key_file.stat().st_uid == os.getuid()

    sandbox.run("apps:destroy", deployed, "--force")
    assert not key_file.parent.exists()


def _location(sandbox, host: str, path: str) -> str:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", sandbox.http_port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host, "Connection": "close"})
        return connection.getresponse().getheader("Location")
    finally:
        connection.close()



def test_certs_add_opens_no_path_and_caps_stdin(sandbox, deployed, ca):
    """A tenant names files of the server (another app's key, /dev/zero): certs:add opens none of them, and
    reads at most a few kB of stdin."""
    other = sandbox.new_app_name()
    sandbox.run("apps:create", other)
    sandbox.certs_add(other, *ca.issue(sandbox.host(other)))
    other_key = sandbox.root / "state" / "tls" / other / "server.key"
    for paths in ([str(other_key), str(other_key)], ["/dev/zero", "/dev/zero"], ["/nonexistent", "/etc/passwd"]):
        refused = sandbox.run("certs:add", deployed, *paths, input="", check=False)
        assert refused.returncode == 2 and "it opens no file" in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and paths[0] not in refused.stderr
    huge = subprocess.run([sys.executable, "-m", "ponton", "certs:add", deployed], input=b"\0" * (2 << 20),
                          env=sandbox.env, capture_output=True, timeout=60)
    assert huge.returncode == 2 and b"more than 1024 KiB" in huge.stderr, huge.stderr
    assert "has no certificate" in sandbox.run("certs:report", deployed).stdout


def test_certs_add_takes_pem_text_with_a_chain(sandbox, deployed, ca):
    host = sandbox.host(deployed)
    cert, key = ca.issue(host)
    chain = cert.read_text() + ca.cafile.read_text()  # leaf, then the CA: a chain nginx serves as is
    sandbox.run("certs:add", deployed, input=key.read_text() + chain)  # the key may come first
    assert sandbox.get_tls(host, cafile=str(ca.cafile))[0] == 200
    served = (sandbox.root / "state" / "tls" / deployed / "server.crt").read_text()
    assert served == chain
