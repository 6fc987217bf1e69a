"""What a user does first on the installed server: push an app of every built-in language over the installed
sshd, see each served by the installed nginx, redeploy, set config, add a certificate. Runs before
test_install.py, whose last test purges the installation."""

import json
import shutil
import stat
from pathlib import Path

import pytest

from ponton.testing import CertificateAuthority
from tests.conftest import APPS
from tests.e2e.conftest import ponton, push, ssh_key


@pytest.fixture(scope="session")
def user_ssh(installed, ssh_command, tmp_path_factory) -> list[str]:
    """A developer's key (role user, after the admin's), as most people who push have."""
    return ssh_key(tmp_path_factory, "dev", role="user")


def checkout(app_dir: str, tmp_path: Path) -> Path:
    work = tmp_path / app_dir
    shutil.copytree(APPS / app_dir, work)
    return work


@pytest.mark.parametrize("app_dir, detected, answer", [
    ("flask", "Python app detected (requirements.txt)", b"flask says hello\n"),
    ("express", "Node.js app detected (package.json)", b"express says hello from node v20."),
    ("go", "Go app detected (go.mod)", b"go says hello from go1.24"),
    ("php", "PHP app detected (index.php)", b"php says hello from 8.4."),
    ("static", "static site app detected (index.html)", b"a static site says hello"),
    ("echo", "Dockerfile found", b"hello from "),
])
def test_every_language_pushes_and_serves(installed, user_ssh, tmp_path, app_dir, detected, answer):
    app = f"e2e-{app_dir}"
    result = push(checkout(app_dir, tmp_path), user_ssh, app)
    assert result.returncode == 0, result.stderr
    assert detected in result.stderr and f"http://{installed.host(app)}" in result.stderr, result.stderr
    status, body = installed.get(app)
    assert status == 200 and answer in body, body


def test_app_json_predeploy_runs_before_the_release_serves(installed, user_ssh, tmp_path):
    work = checkout("echo", tmp_path)
    (work / "app.json").write_text(json.dumps({"scripts": {"dokku": {"predeploy": "echo predeploy says $((6 * 7))"}}}))
    dockerfile = work / "Dockerfile"  # ponton reads app.json in the image's WORKDIR, as Dokku does
    dockerfile.write_text(dockerfile.read_text().replace("COPY app.py /app/app.py", "COPY app.py app.json /app/"))
    result = push(work, user_ssh, "e2e-predeploy")
    assert result.returncode == 0, result.stderr
    assert "predeploy says 42" in result.stderr, result.stderr
    assert installed.get("e2e-predeploy")[0] == 200


def test_a_redeploy_serves_the_new_code(installed, user_ssh, tmp_path):
    work = checkout("flask", tmp_path)
    assert push(work, user_ssh, "e2e-redeploy").returncode == 0
    app_py = work / "app.py"
    app_py.write_text(app_py.read_text().replace("flask says hello", "flask says hello again"))
    result = push(work, user_ssh, "e2e-redeploy")
    assert result.returncode == 0, result.stderr
    assert installed.get("e2e-redeploy") == (200, b"flask says hello again\n")


def test_config_reaches_the_app(installed, user_ssh):
    ponton("config:set", "e2e-echo", "GREETING=configured on the installed server")
    assert installed.get("e2e-echo", "/env/GREETING") == (200, b"configured on the installed server")
    status, body = installed.get("e2e-echo")
    assert status == 200 and body.startswith(b"configured on the installed server from "), body


def test_the_proxys_requests_reach_the_metrics(installed):
    """nginx (root) writes each app's access log; the commands, the watchdog and the web face read it as ponton."""
    for _ in range(3):
        assert installed.get("e2e-static")[0] == 200
    result = ponton("metrics", "e2e-static", "--format", "json", check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"]["requests"] >= 3, result.stdout
    log = Path("/var/log/ponton/nginx/e2e-static.access.log")
    assert (log.owner(), stat.S_IMODE(log.stat().st_mode)) == ("ponton", 0o600)  # no other local user reads it


def test_certificate_from_files_only_root_reads(installed, tmp_path):
    ca = CertificateAuthority(tmp_path / "ca")
    cert, key = ca.issue(installed.host("e2e-echo"))
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    for file in (cert, key):
        file.chmod(0o600)
        shutil.move(file, private / file.name)
    assert stat.S_IMODE(private.stat().st_mode) == 0o700 and private.stat().st_uid == 0
    out = ponton("certs:add", "e2e-echo", str(private / cert.name), str(private / key.name)).stdout
    assert f"served over HTTPS for {installed.host('e2e-echo')}" in out
    status, body = installed.get_tls("e2e-echo", ca.cafile)
    assert status == 200 and b" from " in body, body
    refused = ponton("certs:add", "e2e-echo", "/nonexistent", str(private / key.name), check=False)
    assert refused.returncode == 2 and refused.stderr == "error: /nonexistent: not a readable file\n"
