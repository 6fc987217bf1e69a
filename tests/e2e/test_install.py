"""install.sh itself, on the installation that tests/e2e/conftest.py makes: a second run, changed settings, the
supervisor, SSH, the state's owner, uninstall and purge. The tests run in file order, after test_apps.py; the
last one uninstalls and purges."""

import os
import pwd
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from ponton.testing import free_port
from tests.e2e.conftest import DOMAIN, ROOT, STATE_DIR, get, install_sh, pid_in, ponton


def watchdog_pid() -> str:
    """The watchdog's pid, as `ponton report` sees it (from its heartbeat), when it is alive."""
    line = next(line for line in ponton("report").stdout.splitlines() if line.startswith("watchdog:"))
    return line.split("pid ")[1].split(",")[0] if "alive" in line else ""


def why_ssh_failed(ssh_command: list[str]) -> str:
    """What a refused login leaves to look at: the client's side of it, who listens on port 22, the keys allowed."""
    verbose = subprocess.run([*ssh_command, "-v", "ponton@127.0.0.1", "apps:list"], capture_output=True, text=True,
                             timeout=60).stderr
    listening = subprocess.run(["ss", "-ltnp", "sport = :22"], capture_output=True, text=True).stdout
    keys = subprocess.run(["ssh-keygen", "-lf", "/home/ponton/.ssh/authorized_keys"], capture_output=True, text=True)
    return f"\n{verbose[-2500:]}\n{listening}\n{keys.stdout}{keys.stderr}"


def web_answers(port: int) -> bool:
    try:
        return get(port, f"ponton.{DOMAIN}", "/api/v1/openapi.json")[0] == 200
    except OSError:
        return False


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
    installed.http_port = new
    # The restarted watchdog rewrites each app's vhost for the new port, the restarted web face its own; until
    # both did, some vhost still listens on the old port.
    def moved() -> bool:
        try:
            get(old, f"{installed.app}.{DOMAIN}")
            return False
        except OSError:
            pass
        try:
            return installed.get(installed.app)[0] == 200
        except OSError:
            return False
    deadline = time.monotonic() + 30
    while not moved() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert installed.get(installed.app)[0] == 200
    with pytest.raises(OSError):
        get(old, f"{installed.app}.{DOMAIN}")
    # The web face, restarted too, has nginx serve ponton.DOMAIN on the new port.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not web_answers(new):
        time.sleep(0.5)
    assert web_answers(new), Path("/var/log/ponton/web.log").read_text(errors="replace")[-2000:]


def test_without_systemd_it_says_so_and_supervises_the_watchdog(installed):
    if Path("/run/systemd/system").is_dir():
        assert subprocess.run(["systemctl", "is-active", "ponton-watchdog"]).returncode == 0
        return
    assert "systemd is not PID 1 here" in installed.first.out
    for service in ("watchdog", "web"):
        supervisor = pid_in(f"/run/ponton-{service}.pid")
        assert supervisor and b"supervise" in Path(f"/proc/{supervisor}/cmdline").read_bytes(), service
        # From /, whatever directory install.sh ran in (git, which the web face runs, cannot start in one ponton
        # cannot enter, as a checkout under a 0700 directory is).
        assert os.readlink(f"/proc/{supervisor}/cwd") == "/", service
    old = watchdog_pid()
    assert old, ponton("report").stdout
    os.kill(int(old), 9)  # a crash: the supervisor starts it again
    deadline = time.monotonic() + 30
    while watchdog_pid() in ("", old) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert watchdog_pid() not in ("", old), Path("/var/log/ponton/watchdog.log").read_text()


def test_commands_over_the_installed_sshd(installed, ssh_command):
    ssh = subprocess.run([*ssh_command, "ponton@127.0.0.1", "apps:list"], capture_output=True, text=True, timeout=60)
    assert ssh.returncode == 0, ssh.stderr + why_ssh_failed(ssh_command)
    assert installed.app in ssh.stdout.split()


def test_state_belongs_to_the_ponton_user(installed):
    uid = pwd.getpwnam("ponton").pw_uid
    paths = [STATE_DIR, *STATE_DIR.rglob("*")]
    assert Path(STATE_DIR / "ponton.db") in paths
    assert [p for p in paths if p.lstat().st_uid != uid] == []


def test_the_state_is_for_the_ponton_user_alone(installed):
    """Every tenant's config (secrets), repos and keys are in the state dir: no other local user reads them.
    Others may traverse it (0711) to the ACME challenges, which nginx's workers serve."""
    def exposed():
        return [str(p) for p in STATE_DIR.rglob("*")
                if p.lstat().st_mode & 0o077 and "acme-challenge" not in p.parts]

    assert stat.S_IMODE(STATE_DIR.stat().st_mode) == 0o711
    assert exposed() == []
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat", str(STATE_DIR / "ponton.db")]
    assert subprocess.run(as_nobody, capture_output=True).returncode != 0

    # An install made before ponton kept its state private is mended by the next install.sh.
    (STATE_DIR / "ponton.db").chmod(0o644)
    STATE_DIR.chmod(0o755)
    result = install_sh()
    assert result.code == 0, result.out
    assert stat.S_IMODE(STATE_DIR.stat().st_mode) == 0o711 and exposed() == []


@pytest.mark.parametrize("unit, lines", [
    ("ponton-watchdog.service", ("Type=notify", "WatchdogSec=30", "Restart=always", "User=ponton")),
    ("ponton-web.service", ("Restart=always", "User=ponton", "ExecStart=/opt/ponton/venv/bin/ponton web")),
])
def test_the_unit_files_pass_systemd_analyze_verify(installed, unit, lines):
    unit = ROOT / "runtime" / "service" / unit
    text = unit.read_text()
    for line in lines:
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
        assert pid_in("/run/ponton-watchdog.pid") is None and pid_in("/run/ponton-web.pid") is None

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
