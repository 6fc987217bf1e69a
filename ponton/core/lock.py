"""Per-app locks: deploys and commands on one app run one at a time, across processes.

A process that holds an app's lock may hand it on to a child that finishes its work after it exits (the old
instances a rollout leaves stopping: pipeline/retire.py). The child inherits the lock itself, an flock on an
open file that parent and child share, so no other command can take the lock in between; it waits until the
parent lets the lock go (a pipe that closes then), and from then on holds it alone."""

import contextlib
import fcntl
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess  # for the hint only: spawn_heir imports it when it runs

QUIET_WAIT = 1.0  # seconds a caller waits for the lock before it says it is waiting
HEIR_ENV = "PONTON_INHERITED_LOCK"  # "APP:LOCK_FD:PIPE_FD" in the child that inherits a lock

_held: dict[Path, tuple[int, list[int]]] = {}  # the locks this process holds: descriptor, pipes to its heirs


def to_stderr(line: str):
    """Where a waiter says it waits, unless its caller says otherwise: stderr, as a command's errors go."""
    print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def app_lock(state_dir: Path, app: str, wait: bool = True, log: Callable[[str], None] = to_stderr):
    """Hold the app's lock; a second caller blocks until the first is done, and says it is waiting (through `log`)
    once it has waited QUIET_WAIT. With wait=False, yields False at once instead of waiting (the watchdog never
    fights a deploy)."""
    locks = state_dir / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / f"{app}.lock"
    inherited = _inherited(path, app)
    with open(path if inherited is None else inherited, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # an inherited lock is ours already: this succeeds
        except BlockingIOError:
            if not wait:
                yield False
                return
            f.seek(0)
            holder = f.read().strip() or "another command"
            # Said only once the wait is not a moment's: after a deploy, its heir holds the lock for as long as the
            # old instances take to stop, usually well under a second.
            announce = threading.Timer(QUIET_WAIT, log, [f"waiting for lock on app {app} (held by {holder})"])
            announce.daemon = True
            announce.start()
            try:
                fcntl.flock(f, fcntl.LOCK_EX)
            finally:
                announce.cancel()
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}\n")
        f.flush()
        heirs: list[int] = []
        _held[path] = (f.fileno(), heirs)
        try:
            yield True
        finally:
            del _held[path]
            if heirs:  # they hold it now: closing our file leaves it locked, closing the pipes lets them go on
                for pipe in heirs:
                    os.close(pipe)
            else:
                f.truncate(0)
                fcntl.flock(f, fcntl.LOCK_UN)


def spawn_heir(state_dir: Path, app: str, argv: list[str], **options) -> "subprocess.Popen":
    """Start `argv` (subprocess.Popen's `options`) inheriting the app's lock, which this process holds: the
    child's app_lock for the app takes it once this process has let it go, waiting for no one else. (If this
    process does not hold it, the child waits for the lock as any command does.)"""
    import subprocess  # here: every command imports this module, and only a rollout's hand-over spawns (~2 ms)

    path = state_dir / "locks" / f"{app}.lock"
    if path not in _held:
        return subprocess.Popen(argv, **options)
    lock, heirs = _held[path]
    read, write = os.pipe()
    env = {**options.pop("env", os.environ), HEIR_ENV: f"{app}:{lock}:{read}"}
    try:
        child = subprocess.Popen(argv, env=env, pass_fds=(lock, read), **options)
    except BaseException:
        os.close(write)
        raise
    finally:
        os.close(read)  # the child's copy is the one that matters: EOF comes to it when `write` closes
    heirs.append(write)
    return child


def _inherited(path: Path, app: str) -> int | None:
    """The descriptor of the lock a parent handed on for `app` (after waiting until the parent let it go), if it
    did; used once."""
    inherited = os.environ.get(HEIR_ENV, "")
    name, _, fds = inherited.partition(":")
    if name != app:
        return None
    del os.environ[HEIR_ENV]
    lock, _, pipe = fds.partition(":")
    lock, pipe = int(lock), int(pipe)
    with os.fdopen(pipe, "rb") as parent:
        parent.read()  # EOF once the parent let the lock go (or died)
    if os.path.samestat(os.fstat(lock), os.stat(path)):
        return lock
    os.close(lock)
    return None
