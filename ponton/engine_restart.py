"""Test helper shipped with ponton (its tests and benchmarks use it, as ponton.testing): restart this machine's
Docker engine, which is not under systemd here but started by tests/prepare.sh (`nohup dockerd >>LOG 2>&1 &`).

`restart_engine` stops dockerd (SIGTERM to the pid in /var/run/docker.pid, which stops every container on the
engine, other people's too) and starts it again the same way: its command line and environment as /proc has them,
its output appended to where the old one's went, in a session of its own so that it outlives the caller. It never
leaves the engine down: whatever fails or interrupts it, the engine is started again before it returns or raises."""

import os
import signal
import subprocess
import time
from pathlib import Path

DOCKER_PID = Path("/var/run/docker.pid")
DOCKERD_LOG = "/var/log/dockerd.log"  # tests/prepare.sh's, if the old dockerd's output went nowhere we can append to
POLL = 0.1  # seconds between looks at the stopping process and at the starting engine


def engine_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _running(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie has stopped: its parent has not yet collected it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(POLL)


def _how_it_runs(pid: int) -> tuple[list[str], dict[str, str], str]:
    """The running dockerd's command line, environment and the file its output goes to."""
    proc = Path(f"/proc/{pid}")
    command = [arg.decode() for arg in (proc / "cmdline").read_bytes().split(b"\0") if arg]
    environment = dict(line.decode().partition("=")[::2] for line in (proc / "environ").read_bytes().split(b"\0")
                       if b"=" in line)
    output = os.readlink(proc / "fd" / "1")
    return command, environment, output if output.startswith("/") and Path(output).is_file() else DOCKERD_LOG


def _start(command: list[str], environment: dict[str, str], output: str):
    """Start dockerd in its own session, its parent gone at once (`setsid --fork`): it outlives the caller."""
    with open(output, "ab") as log:
        subprocess.run(["setsid", "--fork", *command], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                       env=environment, cwd="/", check=True)


def restart_engine(timeout: float = 180) -> float:
    """Stop dockerd, start it again, and return (time.monotonic()) once `docker info` answers. One that does not
    stop within `timeout` seconds of SIGTERM is killed; the engine is started again in every case."""
    pid = int(DOCKER_PID.read_text())
    how = _how_it_runs(pid)
    try:
        os.kill(pid, signal.SIGTERM)
        _wait(lambda: not _running(pid), timeout, f"dockerd (pid {pid}) to stop")
    finally:
        if _running(pid):  # it did not stop in time, or the wait was interrupted: it is started again anyway
            os.kill(pid, signal.SIGKILL)
            _wait(lambda: not _running(pid), 30, f"dockerd (pid {pid}) to die")
        _start(*how)
        _wait(engine_answers, timeout, "dockerd to answer again")
    return time.monotonic()
