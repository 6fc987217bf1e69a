"""install.sh on this machine, for real: it installs into the system paths (/opt/ponton, /etc/ponton,
/var/lib/ponton, the user ponton, the system nginx and sshd), serves on free HTTP and HTTPS ports so that it
clashes with nothing, and purges everything at the end. CI runs it as root on a fresh machine. The tests run in file order
on one installation; the last one uninstalls and purges it."""

import http.client
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ponton.testing import free_port
from tests.integration.conftest import APPS

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "install.ponton.test"
STATE_DIR = Path("/var/lib/ponton")
SSH_OPTIONS = ["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
               "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]


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


def ponton(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    """The installed `ponton` command, as root (its wrapper runs it as the ponton user)."""
    result = subprocess.run(["/usr/local/bin/ponton", *args], capture_output=True, text=True, input=input,
                            timeout=600, cwd="/")
    assert result.returncode == 0, f"ponton {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
    return result


def get(port: int, host: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/", headers={"Host": host, "Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def pid_in(path: str) -> int | None:
    """The pid in a pid file, if that process runs."""
    try:
        pid = int(Path(path).read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def watchdog_pid() -> str:
    """The watchdog's pid, as `ponton report` sees it (from its heartbeat), when it is alive."""
    line = next(line for line in ponton("report").stdout.splitlines() if line.startswith("watchdog:"))
    return line.split("pid ")[1].split(",")[0] if "alive" in line else ""


@dataclass
class Installed:
    http_port: int
    first: Run
    second: Run
    app: str

    def get(self, app: str) -> tuple[int, bytes]:
        return get(self.http_port, f"{app}.{DOMAIN}")


@pytest.fixture(scope="module")
def installed(echo_image, tmp_path_factory):
    assert os.geteuid() == 0, "install.sh installs into the system: run this test as root"
    assert not Path("/opt/ponton").exists() and not Path("/etc/ponton").exists(), \
        "ponton is installed on this machine: this test would replace it and purge its data"
    nginx_ran, sshd_ran = pid_in("/run/nginx.pid"), pid_in("/run/sshd.pid")
    port = free_port()
    try:
        first = install_sh(domain=DOMAIN, http_port=str(port), https_port=str(free_port()))
        assert first.code == 0, first.out
        app = "installed"
        ponton("git:from-image", app, echo_image)
        second = install_sh()  # no settings given: the stored ones stay
        assert second.code == 0, second.out
        yield Installed(port, first, second, app)
    finally:
        purge = install_sh("--purge")
        # Leave the machine's services as they were: stop what install.sh started for this test.
        if not nginx_ran and pid_in("/run/nginx.pid"):
            subprocess.run(["nginx", "-s", "quit"], check=False)
        if not sshd_ran and (pid := pid_in("/run/sshd.pid")):
            os.kill(pid, 15)
        assert purge.code == 0, purge.out


def test_second_run_is_fast_and_harmless(installed):
    assert installed.second.seconds < 15, installed.second.out
    assert "Installing" not in installed.second.out  # nothing to install, ponton's source is unchanged
    status, body = installed.get(installed.app)
    assert (status, body[:11]) == (200, b"hello from ")
    settings = Path("/etc/ponton/ponton.yml").read_text()
    assert f"http_port: {installed.http_port}\n" in settings and f'domain: "{DOMAIN}"\n' in settings


def test_an_image_serves_through_the_system_nginx(installed, echo_image):
    ponton("git:from-image", "fromimage", echo_image)
    status, body = installed.get("fromimage")
    assert status == 200 and body.startswith(b"hello from "), body
    assert Path("/etc/nginx/ponton.d/fromimage.conf").exists()  # the system nginx's include, not a private nginx
    assert installed.get("nosuchapp")[0] == 404


def test_a_changed_setting_reaches_every_app(installed):
    old, new = installed.http_port, free_port()
    result = install_sh(http_port=str(new))
    assert result.code == 0 and "Restarting the watchdog: the settings changed" in result.out, result.out
    installed.http_port = new  # the restarted watchdog rewrites each app's vhost for the new port
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if installed.get(installed.app)[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.5)
    assert installed.get(installed.app)[0] == 200
    with pytest.raises(OSError):
        get(old, f"{installed.app}.{DOMAIN}")


def test_without_systemd_it_says_so_and_supervises_the_watchdog(installed):
    if Path("/run/systemd/system").is_dir():
        assert subprocess.run(["systemctl", "is-active", "ponton-watchdog"]).returncode == 0
        return
    assert "systemd is not PID 1 here" in installed.first.out
    supervisor = pid_in("/run/ponton-watchdog.pid")
    assert supervisor and b"supervise" in Path(f"/proc/{supervisor}/cmdline").read_bytes()
    old = watchdog_pid()
    assert old, ponton("report").stdout
    os.kill(int(old), 9)  # a crash: the supervisor starts it again
    deadline = time.monotonic() + 30
    while watchdog_pid() in ("", old) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert watchdog_pid() not in ("", old), Path("/var/log/ponton/watchdog.log").read_text()


@pytest.fixture(scope="module")
def ssh_command(installed, tmp_path_factory) -> list[str]:
    """`ssh` with a key that `ponton ssh-keys:add` allowed, for the installed sshd on port 22."""
    key = tmp_path_factory.mktemp("client") / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tester", "-f", key], check=True)
    ponton("ssh-keys:add", "tester", input=key.with_suffix(".pub").read_text())
    return ["ssh", "-i", str(key), "-p", "22", *SSH_OPTIONS]


def test_commands_over_the_installed_sshd(installed, ssh_command):
    ssh = subprocess.run([*ssh_command, "ponton@127.0.0.1", "apps:list"], capture_output=True, text=True, timeout=60)
    assert ssh.returncode == 0, ssh.stderr
    assert installed.app in ssh.stdout.split()


def test_git_push_over_the_installed_sshd(installed, ssh_command, tmp_path):
    work = tmp_path / "echo"
    shutil.copytree(APPS / "echo", work)
    git = ["git", "-c", "user.email=dev@example.org", "-c", "user.name=dev"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "first"]):
        subprocess.run([*git, *args], cwd=work, check=True)
    push = subprocess.run([*git, "push", "ponton@127.0.0.1:pushed", "main"], cwd=work, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "GIT_SSH_COMMAND": " ".join(ssh_command)})
    assert push.returncode == 0, push.stderr
    status, body = installed.get("pushed")
    assert status == 200 and body.startswith(b"hello from "), body


def test_state_belongs_to_the_ponton_user(installed):
    uid = pwd.getpwnam("ponton").pw_uid
    paths = [STATE_DIR, *STATE_DIR.rglob("*")]
    assert Path(STATE_DIR / "ponton.db") in paths
    assert [p for p in paths if p.lstat().st_uid != uid] == []


def test_the_unit_file_passes_systemd_analyze_verify(installed):
    unit = ROOT / "runtime" / "service" / "ponton-watchdog.service"
    text = unit.read_text()
    for line in ("Type=notify", "WatchdogSec=30", "Restart=always", "User=ponton"):
        assert f"\n{line}\n" in text
    if shutil.which("systemd-analyze") is None:
        return  # only this check needs the tool; it verifies ExecStart, which exists once installed
    verify = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True)
    assert verify.returncode == 0 and verify.stderr == "", verify.stderr


def test_help_and_bad_options():
    result = subprocess.run([ROOT / "install.sh", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--uninstall" in result.stdout and "PONTON_DOMAIN" in result.stdout
    assert subprocess.run([ROOT / "install.sh", "--nope"], capture_output=True).returncode == 2


def test_uninstall_keeps_the_data_and_purge_removes_only_pontons(installed, echo_image):
    bystander = subprocess.run(  # another ponton's container (a test sandbox's): --purge must leave it
        ["docker", "run", "-d", "--label", "ponton.app=bystander", "--label", "ponton.owner=/elsewhere",
         echo_image, "sleep", "300"], capture_output=True, text=True, check=True).stdout.strip()
    try:
        result = install_sh("--uninstall")
        assert result.code == 0, result.out
        for gone in ("/opt/ponton", "/usr/local/bin/ponton", "/etc/sudoers.d/ponton", "/etc/nginx/conf.d/ponton.conf"):
            assert not Path(gone).exists(), gone
        assert (STATE_DIR / "ponton.db").exists() and Path("/etc/ponton/ponton.yml").exists()
        assert pid_in("/run/ponton-watchdog.pid") is None

        result = install_sh("--purge")
        assert result.code == 0, result.out
        assert not STATE_DIR.exists() and not Path("/etc/ponton").exists()
        owned = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=ponton.owner={STATE_DIR}"],
                               capture_output=True, text=True, check=True).stdout
        assert owned == ""
        with pytest.raises(KeyError):
            pwd.getpwnam("ponton")
        assert subprocess.run(["docker", "inspect", bystander], capture_output=True).returncode == 0
    finally:
        subprocess.run(["docker", "rm", "-f", bystander], capture_output=True)
