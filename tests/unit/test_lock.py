"""lock: one command at a time per app, across processes; a waiter says so and goes on once the lock is free."""

import functools
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ponton.core.context import Ponton
from ponton.core.lock import app_lock, spawn_heir
from ponton.core.settings import Settings
from ponton.core.state import State

TIMEOUT = 20  # seconds; only reached if something is broken

WAITER = """
import sys
from pathlib import Path
from ponton.core.lock import app_lock, spawn_heir
with app_lock(Path(sys.argv[1]), sys.argv[2]) as got:
    print("acquired", got, flush=True)
    sys.stdin.read()  # hold the lock until the test closes our stdin
"""


def readline(stream, timeout=TIMEOUT) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, f"no line within {timeout}s"
    return stream.readline()


def has_output(stream) -> bool:
    return bool(select.select([stream], [], [], 0)[0])


@pytest.fixture
def spawn(tmp_path):
    processes = []

    def start(app: str, heir: bool = False) -> subprocess.Popen:
        """A waiter for `app`'s lock; with `heir`, one that inherits the lock this process holds (spawn_heir)."""
        popen = functools.partial(spawn_heir, tmp_path, app) if heir else subprocess.Popen
        process = popen([sys.executable, "-c", WAITER, str(tmp_path), app], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()
        process.wait(timeout=TIMEOUT)
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()


def finish(process: subprocess.Popen) -> str:
    """Let the waiter release its lock and exit; return what it printed on stderr."""
    process.stdin.close()
    assert process.wait(timeout=TIMEOUT) == 0
    return process.stderr.read()


def test_waiter_says_so_and_proceeds_after_release(tmp_path, spawn):
    with app_lock(tmp_path, "shop") as got:
        assert got is True
        waiter = spawn("shop")
        assert readline(waiter.stderr) == f"waiting for lock on app shop (held by pid {os.getpid()})\n"
        assert not has_output(waiter.stdout)  # still blocked while we hold the lock
    assert readline(waiter.stdout) == "acquired True\n"
    assert (tmp_path / "locks" / "shop.lock").read_text() == f"pid {waiter.pid}\n"
    assert finish(waiter) == ""
    assert (tmp_path / "locks" / "shop.lock").read_text() == ""  # released: no holder recorded


def test_no_message_without_contention(tmp_path, spawn):
    waiter = spawn("shop")
    assert readline(waiter.stdout) == "acquired True\n"
    assert finish(waiter) == ""


def test_other_apps_do_not_wait(tmp_path, spawn):
    with app_lock(tmp_path, "shop"):
        waiter = spawn("blog")
        assert readline(waiter.stdout) == "acquired True\n"
        assert finish(waiter) == ""


def test_no_wait_gives_up_at_once(tmp_path, spawn):
    holder = spawn("shop")
    assert readline(holder.stdout) == "acquired True\n"
    with app_lock(tmp_path, "shop", wait=False) as got:
        assert got is False
    finish(holder)
    with app_lock(tmp_path, "shop", wait=False) as got:
        assert got is True


def test_lock_released_after_an_error(tmp_path):
    with pytest.raises(RuntimeError):
        with app_lock(tmp_path, "shop"):
            raise RuntimeError("boom")
    with app_lock(tmp_path, "shop", wait=False) as got:
        assert got is True


def test_ponton_locks_several_apps(tmp_path, spawn):
    p = Ponton(Settings(state_dir=tmp_path))
    with p.locked("shop", "blog", "shop"):
        assert sorted(os.listdir(tmp_path / "locks")) == ["blog.lock", "shop.lock"]
        for app in ("blog", "shop"):
            with app_lock(tmp_path, app, wait=False) as got:
                assert got is False


def test_cli_command_waits_for_the_lock(tmp_path):
    """The real CLI: config:set on a locked app prints the waiting line, then does its change."""
    state_dir = tmp_path / "state"
    State(state_dir).create_app("shop")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONTON_")}
    env.update(PONTON_CONFIG=str(tmp_path / "none.yml"), PONTON_STATE_DIR=str(state_dir))
    with app_lock(state_dir, "shop"):
        command = subprocess.Popen(
            [sys.executable, "-m", "ponton", "config:set", "shop", "K=v", "--no-restart"], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert readline(command.stderr) == f"waiting for lock on app shop (held by pid {os.getpid()})\n"
            assert State(state_dir).config("shop") == {}
        except BaseException:
            command.kill()
            raise
    stdout, stderr = command.communicate(timeout=TIMEOUT)
    assert command.returncode == 0, stderr
    assert State(state_dir).config("shop") == {"K": "v"}


def blocked_on(path: Path, pid: int) -> bool:
    """Whether process `pid` is blocked on the flock of `path`: the kernel lists such a request with ->."""
    inode = path.stat().st_ino
    # A waiter's line: "1: -> FLOCK ADVISORY WRITE PID MAJOR:MINOR:INODE 0 EOF".
    return any(fields[1] == "->" and fields[5] == str(pid) and fields[6].endswith(f":{inode}")
               for fields in map(str.split, Path("/proc/locks").read_text().splitlines()))


def test_a_wait_of_a_moment_goes_unsaid(tmp_path, spawn):
    """A command that waits less than QUIET_WAIT (a deploy's heir stopping old instances) prints nothing."""
    with app_lock(tmp_path, "shop"):
        waiter = spawn("shop")
        deadline = time.monotonic() + TIMEOUT
        while not blocked_on(tmp_path / "locks" / "shop.lock", waiter.pid):
            assert time.monotonic() < deadline, "the waiter never blocked on the lock"
            assert waiter.poll() is None, waiter.stderr.read()
    assert readline(waiter.stdout) == "acquired True\n"
    assert finish(waiter) == ""


def test_an_heir_holds_the_lock_from_the_moment_its_parent_lets_it_go(tmp_path, spawn):
    """A child the holder starts with spawn_heir waits for the holder to be done, then holds the lock, with no
    moment between in which another command could take it."""
    with app_lock(tmp_path, "shop"):
        heir = spawn("shop", heir=True)
        assert not select.select([heir.stdout], [], [], 1)[0]  # it waits while we hold the lock
    with app_lock(tmp_path, "shop", wait=False) as got:
        assert got is False  # at once: the heir holds it, even if it has not run a line yet
    assert readline(heir.stdout) == "acquired True\n"
    assert (tmp_path / "locks" / "shop.lock").read_text() == f"pid {heir.pid}\n"
    assert finish(heir) == ""  # it never said it waited for another command
    with app_lock(tmp_path, "shop", wait=False) as got:
        assert got is True


def test_an_heir_of_a_lock_not_held_waits_for_it_as_any_command(tmp_path, spawn):
    holder = spawn("shop")
    assert readline(holder.stdout) == "acquired True\n"
    heir = spawn("shop", heir=True)
    assert readline(heir.stderr).startswith("waiting for lock on app shop")
    finish(holder)
    assert readline(heir.stdout) == "acquired True\n"
