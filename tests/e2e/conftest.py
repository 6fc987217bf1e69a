"""One real installation for the end-to-end tests: install.sh on this machine, as a user runs it.

It installs into the system paths (/opt/ponton, /etc/ponton, /var/lib/ponton, the user ponton, the system nginx
and sshd), serves on free HTTP and HTTPS ports so that it clashes with nothing, and is purged at the end. CI runs
it as root on a fresh machine after the unit and integration tests. Everything here goes through what a user
gets: the installed `ponton` command, its sshd, its nginx, its venv; never the checkout's code."""

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ponton.testing import free_port, get, get_tls

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "install.ponton.test"
STATE_DIR = Path("/var/lib/ponton")
SSH_OPTIONS = ["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
               "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
GIT = ["git", "-c", "user.email=dev@example.org", "-c", "user.name=dev"]


@dataclass
class Run:
    code: int
    out: str
    seconds: float


def install_sh(*args: str, **settings: str) -> Run:
    """Run ./install.sh with only the given PONTON_* settings in its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONTON_")}
    env.update({f"PONTON_{k.upper()}": v for k, v in settings.items()})
    started = time.monotonic()
    result = subprocess.run([ROOT / "install.sh", *args], env=env, capture_output=True, text=True, timeout=1800)
    return Run(result.returncode, result.stdout + result.stderr, time.monotonic() - started)


def ponton(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """The installed `ponton` command, as root (its wrapper runs it as the ponton user), from where root types
    it: root's home, which the ponton user cannot enter."""
    result = subprocess.run(["/usr/local/bin/ponton", *args], capture_output=True, text=True, input=input,
                            timeout=600, cwd=Path("~root").expanduser())
    if check:
        assert result.returncode == 0, \
            f"ponton {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
    return result


def pid_in(path: str) -> int | None:
    """The pid in a pid file, if that process runs."""
    try:
        pid = int(Path(path).read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


@dataclass
class Installed:
    http_port: int
    https_port: int
    first: Run
    second: Run
    app: str

    def host(self, app: str) -> str:
        return f"{app}.{DOMAIN}"

    def get(self, app: str, path: str = "/") -> tuple[int, bytes]:
        return get(self.http_port, self.host(app), path)

    def get_tls(self, app: str, cafile: Path) -> tuple[int, bytes]:
        return get_tls(self.https_port, self.host(app), cafile=str(cafile))[:2]


@pytest.fixture(scope="session")
def installed(echo_image):
    assert os.geteuid() == 0, "install.sh installs into the system: run this test as root"
    assert not Path("/opt/ponton").exists() and not Path("/etc/ponton").exists(), \
        "ponton is installed on this machine: this test would replace it and purge its data"
    nginx_ran, sshd_ran = pid_in("/run/nginx.pid"), pid_in("/run/sshd.pid")
    http_port, https_port = free_port(), free_port()
    try:
        first = install_sh(domain=DOMAIN, http_port=str(http_port), https_port=str(https_port))
        assert first.code == 0, first.out
        app = "installed"
        ponton("git:from-image", app, echo_image)
        second = install_sh()  # no settings given: the stored ones stay
        assert second.code == 0, second.out
        yield Installed(http_port, https_port, first, second, app)
    finally:
        purge = install_sh("--purge")
        # Leave the machine's services as they were: stop what install.sh started for this test.
        if not nginx_ran and pid_in("/run/nginx.pid"):
            subprocess.run(["nginx", "-s", "quit"], check=False)
        if not sshd_ran and (pid := pid_in("/run/sshd.pid")):
            os.kill(pid, 15)
        assert purge.code == 0, purge.out


def ssh_key(tmp_path_factory, name: str, role: str | None = None) -> list[str]:
    """`ssh` with a new key that the installed `ponton ssh-keys:add` allowed, for the installed sshd (port 22)."""
    key = tmp_path_factory.mktemp(f"client-{name}") / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key], check=True)
    ponton("ssh-keys:add", name, *(["--role", role] if role else []), input=key.with_suffix(".pub").read_text())
    return ["ssh", "-i", str(key), "-p", "22", *SSH_OPTIONS]


@pytest.fixture(scope="session")
def ssh_command(installed, tmp_path_factory) -> list[str]:
    """The first key: an admin's."""
    return ssh_key(tmp_path_factory, "tester")


def push(work: Path, ssh: list[str], app: str) -> subprocess.CompletedProcess:
    """Commit what is in `work` and `git push` it to `app` on the installed server."""
    if not (work / ".git").exists():
        subprocess.run([*GIT, "init", "-q", "-b", "main"], cwd=work, check=True)
    for args in (["add", "-A"], ["commit", "-q", "--allow-empty", "-m", "push"]):
        subprocess.run([*GIT, *args], cwd=work, check=True)
    return subprocess.run([*GIT, "push", f"ponton@127.0.0.1:{app}", "main"], cwd=work, capture_output=True,
                          text=True, timeout=900, env={**os.environ, "GIT_SSH_COMMAND": " ".join(ssh)})
