"""Per-app locks: deploys and commands on one app run one at a time, across processes."""

import contextlib
import fcntl
import os
from pathlib import Path

import click


@contextlib.contextmanager
def app_lock(state_dir: Path, app: str, wait: bool = True):
    """Hold the app's lock; a second caller says it is waiting, then blocks until the first is done.
    With wait=False, yields False at once instead of waiting (the watchdog never fights a deploy)."""
    locks = state_dir / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{app}.lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                yield False
                return
            f.seek(0)
            holder = f.read().strip() or "another command"
            click.echo(f"waiting for lock on app {app} (held by {holder})", err=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}\n")
        f.flush()
        try:
            yield True
        finally:
            f.truncate(0)
            fcntl.flock(f, fcntl.LOCK_UN)
