"""What the measurements share: a sandbox that is always cleaned up, the image they deploy, and the report."""

import contextlib
import http.client
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ponton.testing import Sandbox

REPO = Path(__file__).resolve().parent.parent
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
