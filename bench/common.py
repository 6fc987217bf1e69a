"""What the measurements share: a sandbox that is always cleaned up, the image they deploy, and the report."""

import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ponton.testing import Sandbox

REPO = Path(__file__).resolve().parent.parent
APPS = REPO / "tests" / "apps"
IMAGE = "ponton-test/echo"
# The console script next to this interpreter: what a user types, so its start-up cost is part of the figure.
PONTON = Path(sys.executable).parent / "ponton"


def log(message: str):
    """Progress on stderr, so that stdout is just the table."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def build_image():
    """The echo test app (tests/apps/echo); Docker's cache makes this instant once built."""
    subprocess.run(["docker", "build", "-q", "-t", IMAGE, str(REPO / "tests" / "apps" / "echo")],
                   check=True, capture_output=True, timeout=600)


@contextlib.contextmanager
def sandbox(**settings):
    """An isolated ponton in a temporary directory; its apps are destroyed and its nginx stopped afterwards."""
    root = Path(tempfile.mkdtemp(prefix="ponton-bench-"))
    try:
        box = Sandbox(root, **settings)
        try:
            yield box
        finally:
            box.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def fetch(port: int, path: str = "/", host: str = "localhost", timeout: float = 2) -> bytes | None:
    """GET on 127.0.0.1:port; the body of a 200, or None (refused, error status, timeout)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": host, "Connection": "close"})
        response = connection.getresponse()
        body = response.read()
        return body if response.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def wait_for(check, max_seconds: float, what: str, interval: float = 0.02):
    """Seconds from now until `check()` is truthy, polling every `interval`: bounded in time and in count."""
    started = time.monotonic()
    for _ in range(int(max_seconds / interval) + 1):
        if check():
            return time.monotonic() - started
        if time.monotonic() - started > max_seconds:
            break
        time.sleep(interval)
    raise RuntimeError(f"timed out after {max_seconds:g} s waiting for {what}")


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (user and system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def rss_mb(pid: int) -> float:
    """A process's resident memory in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def seconds(values: list[float]) -> str:
    """A median, with every run's figure: "2.31 s (2.10, 2.31, 2.90)"."""
    import statistics

    return f"{statistics.median(values):.2f} s ({', '.join(f'{v:.2f}' for v in values)})"


class Pusher:
    """A developer pushing checkouts of the test apps through the sandbox's real sshd with the real git client,
    as tests/integration/conftest.py's Pusher does: a key added with ssh-keys:add, git over `ssh_env`."""

    def __init__(self, box, name: str = "bench"):
        if not box.sshd_port:
            box.start_sshd()
        key = box.new_key(name)
        box.run("ssh-keys:add", name, input=key.with_suffix(".pub").read_text())
        self.box, self.env = box, box.ssh_env(key)

    def checkout(self, app_dir: Path, name: str) -> Path:
        """A git repository (branch main, one commit) holding a copy of `app_dir`."""
        work = self.box.root / "checkouts" / name
        shutil.copytree(app_dir, work)
        self.git(work, "init", "-q", "-b", "main")
        self.commit(work, "first")
        return work

    def git(self, work: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-c", "user.email=bench@example.org", "-c", "user.name=bench", *args],
                              cwd=work, env=self.env, capture_output=True, text=True, timeout=600, check=True)

    def commit(self, work: Path, message: str):
        self.git(work, "add", "-A")
        self.git(work, "commit", "-q", "-m", message)

    def push(self, work: Path, app: str, output) -> subprocess.Popen:
        """`git push` to APP, started: its output goes to the file `output` (a pipe could fill up and stall it)."""
        return subprocess.Popen(["git", "push", self.box.remote(app), "main"], cwd=work, env=self.env,
                                stdout=output, stderr=subprocess.STDOUT)


@contextlib.contextmanager
def watchdog(box):
    """`ponton watchdog` in the sandbox's environment (as installed: the default interval; engine events wake it),
    its output in the sandbox's watchdog.log (its Prometheus endpoint on the sandbox's own port); stopped
    afterwards."""
    with open(box.root / "watchdog.log", "a") as output:
        process = subprocess.Popen([sys.executable, "-m", "ponton", "watchdog"], env=box.env,
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class Row:
    name: str
    result: str
    target: str = ""
    ok: bool | None = None  # None: nothing to compare with


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, name: str, result: str, target: str = "", ok: bool | None = None):
        self.rows.append(Row(name, result, target, ok))

    def note(self, text: str):
        self.notes.append(text)

    def __str__(self) -> str:
        verdicts = {True: "ok", False: "MISSED", None: ""}
        cells = [("measurement", "result", "target", "")]
        cells += [(r.name, r.result, r.target or "-", verdicts[r.ok]) for r in self.rows]
        widths = [max(len(cell[i]) for cell in cells) for i in range(4)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(cell, widths)).rstrip() for cell in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines + [""] + self.notes)
