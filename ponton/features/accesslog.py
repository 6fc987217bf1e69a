"""The proxy's access log of one app: one JSON object per request (log_format ponton_json in
plugins/nginx/http.conf.j2), read for metrics: the recent requests, or what was appended since the last read."""

import datetime
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

BLOCK = 64 * 1024


@dataclass(frozen=True)
class Request:
    time: float  # Unix time, to the second
    status: int
    duration: float  # seconds, as nginx measures it: from the first byte read to the last byte sent
    # HOST:PORT of the instance that answered (the last one nginx tried), as the proxy was given it: an instance's
    # `address`, whichever node it runs on (127.0.0.1:PORT on one server). None: nginx answered itself.
    backend: str | None

    @property
    def status_class(self) -> str:
        return f"{self.status // 100}xx"


def path(settings, app: str) -> Path:
    return settings.nginx_log_dir / f"{app}.access.log"


def files(settings, app: str) -> list[Path]:
    """The app's access log and the copies logrotate made of it (APP.access.log.1, APP.access.log.2.gz, ...)."""
    return sorted(settings.nginx_log_dir.glob(f"{path(settings, app).name}*"))


def parse(line: bytes) -> Request | None:
    """One log line as a Request; None for a line that is not one (cut short, or written by something else)."""
    try:
        entry = json.loads(line)
        # "A, B : C": nginx tried A then B, then an internal redirect went to C; the last one answered.
        upstream = re.split(r",| : ", str(entry.get("upstream", "")))[-1].strip()
        host, _, port = upstream.rpartition(":")
        return Request(
            time=datetime.datetime.fromisoformat(entry["time"]).timestamp(),
            status=int(entry["status"]),
            duration=float(entry["request_time"]),
            backend=upstream if host and port.isdigit() else None,  # not "" or an upstream group's name
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def recent(log: Path, since: float, max_bytes: int = 64 * 2**20, missing_ok: bool = True) -> list[Request]:
    """The requests logged at `since` or later, reading the file backwards (at most `max_bytes` of it). A log
    that does not exist has none, unless `missing_ok` is False: then it raises FileNotFoundError (the autoscaler
    must tell no log, which is no data, from a log without requests)."""
    try:
        f = open(log, "rb")
    except FileNotFoundError:
        if not missing_ok:
            raise
        return []
    with f:
        end = start = f.seek(0, os.SEEK_END)
        data = b""
        while start > 0 and end - start < max_bytes:
            start = max(0, start - BLOCK)
            f.seek(start)
            data = f.read(end - start - len(data)) + data
            lines = data.split(b"\n")
            first = parse(lines[0] if start == 0 else lines[1] if len(lines) > 1 else b"")
            if first is not None and first.time < since:
                break
    lines = data.split(b"\n")[0 if start == 0 else 1:]  # the first line of a block may be cut
    return [r for r in map(parse, lines) if r is not None and r.time >= since]


class Follower:
    """What was appended to a log since the last `read` (the whole file the first time), across rotations."""

    def __init__(self, log: Path):
        self.log = log
        self.inode: int | None = None
        self.position = 0
        self.partial = b""

    def skip(self):
        """Start at the end of the log: only what is appended from now on is read."""
        try:
            stat = os.stat(self.log)
        except FileNotFoundError:
            return
        self.inode, self.position = stat.st_ino, stat.st_size

    def read(self) -> list[Request]:
        try:
            stat = os.stat(self.log)
        except FileNotFoundError:
            return []
        if stat.st_ino != self.inode or stat.st_size < self.position:  # rotated or truncated: a new file
            self.inode, self.position, self.partial = stat.st_ino, 0, b""
        with open(self.log, "rb") as f:
            f.seek(self.position)
            data = f.read(stat.st_size - self.position)
        self.position += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        return [r for r in map(parse, lines) if r is not None]
