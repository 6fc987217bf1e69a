"""ponton.engine_restart reads how a process runs from /proc, and tells a stopped one (a zombie too) from a running
one: on a process of the test's own, not on dockerd (tests/integration restart that, marker engine_restart)."""

import os
import signal
import subprocess
import time
from pathlib import Path

from ponton import engine_restart


def started(process: subprocess.Popen) -> subprocess.Popen:
    """Once the child runs `sleep` (no longer the forked interpreter, which /proc shows until its exec)."""
    deadline = time.monotonic() + 10
    while Path(f"/proc/{process.pid}/cmdline").read_bytes() != b"sleep\x0060\x00":
        assert time.monotonic() < deadline, "sleep did not start"
        time.sleep(0.01)
    return process


def test_how_a_process_runs_is_read_from_proc(tmp_path):
    log = tmp_path / "out.log"
    with open(log, "ab") as out:
        process = started(subprocess.Popen(["sleep", "60"], stdout=out, stderr=out,
                                           env={"PATH": os.environ["PATH"], "ONE": "a=b"}))
    try:
        command, environment, output = engine_restart._how_it_runs(process.pid)
        assert (command, environment, output) == (["sleep", "60"], {"PATH": os.environ["PATH"], "ONE": "a=b"},
                                                  str(log))
    finally:
        process.kill()
        process.wait()


def test_output_that_goes_to_no_file_goes_to_the_dockerd_log():
    with subprocess.Popen(["sleep", "60"], stdout=subprocess.PIPE) as process:
        try:
            assert engine_restart._how_it_runs(started(process).pid)[2] == engine_restart.DOCKERD_LOG
        finally:
            process.kill()


def test_a_zombie_has_stopped():
    process = subprocess.Popen(["sleep", "60"])
    assert engine_restart._running(process.pid)
    os.kill(process.pid, signal.SIGTERM)
    os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet collected: a zombie
    assert os.path.exists(f"/proc/{process.pid}") and not engine_restart._running(process.pid)
    process.wait()
    assert not engine_restart._running(process.pid)
