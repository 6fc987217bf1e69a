"""Merged output of an app's instances, each line prefixed with its instance (`web.1 | ...`)."""

import os
import queue
import threading
import time
from collections.abc import Iterator

from ponton.core.scheduler import Instance, Scheduler


def recent(scheduler: Scheduler, app: str, lines: int, process: str | None = None,
           since: int | None = None) -> list[str]:
    """The last `lines` lines across the instances (printed after Unix time `since`), in time order."""
    stamped = []
    for instance in _instances(scheduler, app, process):
        for stamp, text in scheduler.logs(instance, lines, since):
            stamped.append((stamp, f"{instance.name} | {text}"))
    return [text for _, text in sorted(stamped)[-lines:]] if lines else []


def follow(scheduler: Scheduler, app: str, process: str | None = None, poll: float = 1.0) -> Iterator[str]:
    """New lines as instances print them; instances started later (a deploy, a restart) join the stream."""
    lines: queue.Queue[str] = queue.Queue()
    followed: set[str] = set()
    since = int(time.time())
    while True:
        for instance in _instances(scheduler, app, process):
            if instance.id not in followed and instance.running:
                followed.add(instance.id)
                threading.Thread(target=_pump, args=(scheduler, instance, since, lines), daemon=True).start()
        try:
            yield lines.get(timeout=poll)
        except queue.Empty:
            continue


def tail_file(path, lines: int) -> list[str]:
    """The last `lines` lines of a text file (an nginx access log); [] if it does not exist yet."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 512 * max(lines, 1)))  # access log lines are a few hundred bytes
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:] if lines else []


def follow_file(path, poll: float = 0.5) -> Iterator[str]:
    """Lines appended to `path` from now on, across rotations (like `tail -F`)."""
    position = os.path.getsize(path) if os.path.exists(path) else 0
    buffer = b""
    while True:
        size = os.path.getsize(path) if os.path.exists(path) else 0
        if size < position:  # rotated or truncated: start from the top of the new file
            position = 0
        if size > position:
            with open(path, "rb") as f:
                f.seek(position)
                buffer += f.read(size - position)
            position = size
            *complete, buffer = buffer.split(b"\n")
            for line in complete:
                yield line.decode(errors="replace")
        else:
            time.sleep(poll)


def _pump(scheduler: Scheduler, instance: Instance, since: int, lines: queue.Queue):
    for line in scheduler.follow_logs(instance, since):
        lines.put(f"{instance.name} | {line}")


def _instances(scheduler: Scheduler, app: str, process: str | None) -> list[Instance]:
    return [i for i in scheduler.instances(app) if process is None or i.process == process]
