"""The nginx proxy: one vhost file per app (and one in stream/ for its tcp and udp ports, which nginx's stream{}
context includes), checked with `nginx -t` before any reload.

Every change happens under one server-wide lock: write the files, `nginx -t`, then reload, or put the previous
files back and raise ProxyError. So a bad config never reaches the live nginx. `proxy_update` returns once nginx
runs the new config and the workers of the old one have finished their requests (the drain), bounded by the
drain_timeout setting.
"""

import contextlib
import fcntl
import os
import subprocess
import time
from pathlib import Path

from plugins.nginx import export
from plugins.nginx.vhosts import render_shared, render_stream, render_vhost, render_web
from ponton.core.errors import ProxyError
from ponton.core.files import write_atomically
from ponton.core.hookspecs import CARRIER_ENV, hookimpl

SHARED_FILE = "000-ponton.conf"  # sorts before every app's file
WEB_FILE = "001-ponton-web.conf"  # the web face's; no app's file name starts with a digit
STREAM_DIR = "stream"  # under nginx_conf_dir: files for nginx's stream{} context (tcp and udp ports)


def stream_dir(settings) -> Path:
    return settings.nginx_conf_dir / STREAM_DIR


@hookimpl
def proxy_update(settings, app, domains, backends, weights, proxy):
    _own_access_log(settings, app)
    text = render_vhost(settings, app, domains, backends, weights, proxy)
    stream = render_stream(app, proxy)
    with _locked(settings):
        _ensure_shared(settings)
        _apply(settings, {settings.nginx_conf_dir / f"{app}.conf": text, stream_dir(settings) / f"{app}.conf": stream})


@hookimpl
def web_update(settings, domain, port, tls):
    text = render_web(settings, domain, port, tls)
    with _locked(settings):
        _ensure_shared(settings)
        _apply(settings, {settings.nginx_conf_dir / WEB_FILE: text})


@hookimpl
def proxy_remove(settings, app):
    paths = [settings.nginx_conf_dir / f"{app}.conf", stream_dir(settings) / f"{app}.conf"]
    with _locked(settings):
        _apply(settings, {path: None for path in paths})


@hookimpl
def proxy_export(settings, origin):
    with _locked(settings):  # the files of one change, never half of the next
        return export.files(settings.nginx_conf_dir, stream_dir(settings), {WEB_FILE}, origin)


def _own_access_log(settings, app):
    """Create the app's access log as ponton, readable by ponton alone, before nginx opens it. Else the first
    `nginx -t` (root, through sudo, with ponton's umask 077) creates it root's and 0600, and the watchdog and the
    web face, which read it for metrics and autoscaling, cannot. nginx's master, root, appends to it as it is."""
    settings.nginx_log_dir.mkdir(parents=True, exist_ok=True)
    os.close(os.open(settings.nginx_log_dir / f"{app}.access.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))


@contextlib.contextmanager
def _locked(settings):
    settings.nginx_conf_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.state_dir / "nginx.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _ensure_shared(settings):
    path = settings.nginx_conf_dir / SHARED_FILE
    text = render_shared(settings)
    if not path.exists() or path.read_text() != text:
        _apply(settings, {path: text})


def _apply(settings, files: dict[Path, str | None]):
    """Make each path hold its text (None: remove it) in the live nginx, or leave everything as it was."""
    previous = {path: path.read_text() if path.exists() else None for path in files}
    changed = {path: text for path, text in files.items() if previous[path] != text}
    if not changed:
        return

    def restore():
        for path in changed:
            _write(path, previous[path])

    for path, text in changed.items():
        _write(path, text)
    try:
        check = _nginx(settings, "-t")
    except BaseException:  # nginx missing or hanging: the new files were never checked
        restore()
        raise
    if check.returncode != 0:
        restore()
        reason = [line for line in check.stderr.splitlines() if "[emerg]" in line or "[error]" in line]
        names = ", ".join(str(path.relative_to(settings.nginx_conf_dir)) for path in changed)
        raise ProxyError(f"nginx refused the new config for {names}: {(reason or [check.stderr])[-1].strip()}")
    _reload(settings)


def _write(path: Path, text: str | None):
    if text is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(exist_ok=True)  # stream/
    write_atomically(path, text.encode(), 0o666)  # nginx never includes a half-written file


def _nginx(settings, *args) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([*settings.nginx_argv, *args], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise ProxyError(f"nginx not found: {settings.nginx_command!r} (setting nginx_command)") from None
    except OSError as e:
        raise ProxyError(f"cannot run nginx: {settings.nginx_command!r}: {e.strerror}") from None
    except subprocess.TimeoutExpired:
        raise ProxyError(f"nginx {' '.join(args)} did not finish within 60s") from None


def _reload(settings):
    """Reload nginx and wait until the old config's workers have finished their requests and exited."""
    master = _master_pid(settings)
    # Workers of an earlier config that still serve long-lived connections (websockets, tcp) are left out: they
    # keep serving those until they close, and waiting for them would hold up every change for drain_timeout.
    old_workers = {pid for pid in _children(master) if not _shutting_down(pid)}
    # Nor the worker carrying the web face's request that runs this change: it ends with the change itself.
    old_workers.discard(_carrier())
    result = _nginx(settings, "-s", "reload")
    if result.returncode != 0:
        raise ProxyError(f"nginx reload failed: {result.stderr.strip()}")
    deadline = time.monotonic() + settings.drain_timeout
    # nginx itself waits 100 ms after starting the new workers before it tells the old ones to finish: polled
    # finely, so that a change is not late by much more than that.
    while old_workers & _children(master) and time.monotonic() < deadline:
        time.sleep(0.005)


def _carrier() -> int | None:
    carrier = os.environ.get(CARRIER_ENV, "")
    return int(carrier) if carrier.isdigit() and len(carrier) < 10 else None


def _master_pid(settings) -> int:
    try:
        return int(Path(settings.nginx_pid_file).read_text())
    except (OSError, ValueError):
        raise ProxyError(f"nginx is not running (no pid in {settings.nginx_pid_file})") from None


def _shutting_down(pid: int) -> bool:
    """Whether an nginx worker belongs to an earlier config (nginx retitles it "worker process is shutting down")."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"shutting down" in f.read()
    except OSError:
        return False


def _children(pid: int) -> set[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return {int(child) for child in f.read().split()}
    except FileNotFoundError:
        return set()
