"""A bounded history of each app's numbers, for the dashboard's plots: every web_sample_interval seconds the web
service (`ponton web`) records, per app, the requests its proxy answered since the last sample, their latency
(p50, p99), and the CPU and memory its instances use. An hour is kept.

They are observations of this server, not state: a file of their own (STATE_DIR/samples.db), outside the
state, which need not carry or replicate them. An app's history starts when it was created, so that an app
created under the name of one destroyed shows nothing of the other's.
"""

import sqlite3
import time
from pathlib import Path

from ponton.core.scheduler import Scheduler
from ponton.core.state import State
from ponton.features import accesslog, metrics

FILE = "samples.db"
KEEP = 3600.0  # seconds
SCHEMA = """CREATE TABLE IF NOT EXISTS samples (
    app TEXT NOT NULL, time REAL NOT NULL, seconds REAL NOT NULL, requests INTEGER NOT NULL,
    p50 REAL, p99 REAL, cpu_percent REAL, memory_bytes INTEGER, instances INTEGER NOT NULL)"""


def _open(state_dir: Path) -> sqlite3.Connection:
    db = sqlite3.connect(state_dir / FILE, timeout=30, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(SCHEMA)
    db.execute("CREATE INDEX IF NOT EXISTS samples_by_app ON samples (app, time)")
    return db


class Sampler:
    """Takes the samples; one per web service (it remembers where each log was read and each CPU counter)."""

    def __init__(self, settings, scheduler: Scheduler):
        self.settings = settings
        self.scheduler = scheduler
        self.followers: dict[str, accesslog.Follower] = {}
        self.cpu: dict[str, tuple[float, float]] = {}  # instance id -> (time, CPU seconds used) at the last sample
        self.last = time.time()

    def sample(self):
        now = time.time()
        seconds, self.last = now - self.last, now
        state = State(self.settings.state_dir)  # its own connection: samples are taken in a thread of their own
        try:
            apps = [app.name for app in state.apps()]
        finally:
            state.close()
        found = self.scheduler.owned_instances()
        rows, cpu = [], {}
        for app in apps:
            if app not in self.followers:
                self.followers[app] = accesslog.Follower(accesslog.path(self.settings, app))
                self.followers[app].skip()  # what came before is no part of this interval
            durations = [r.duration * 1000 for r in self.followers[app].read()]
            running = [i for i in found.get(app, []) if i.running]
            percent, memory = None, None
            for instance in running:
                try:
                    used = self.scheduler.usage(instance)
                except Exception:  # gone between the listing and its stats: counted at the next sample
                    continue
                cpu[instance.id] = (now, used["cpu_seconds"])
                before = self.cpu.get(instance.id)
                if before and now > before[0]:
                    percent = (percent or 0) + (used["cpu_seconds"] - before[1]) / (now - before[0]) * 100
                memory = (memory or 0) + used["memory"]
            rows.append((app, now, seconds, len(durations), metrics.percentile(durations, 0.5),
                         metrics.percentile(durations, 0.99), percent, memory, len(running)))
        self.cpu = cpu
        self.followers = {app: follower for app, follower in self.followers.items() if app in apps}
        db = _open(self.settings.state_dir)
        try:
            with db:
                db.execute("BEGIN")
                db.executemany("INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                db.execute("DELETE FROM samples WHERE time < ?", (now - KEEP,))
        finally:
            db.close()


def history(settings, app: str, since: float) -> list[dict]:
    """The app's samples taken at `since` or later, oldest first."""
    path = settings.state_dir / FILE
    if not path.exists():
        return []
    db = _open(settings.state_dir)
    try:
        rows = db.execute("SELECT * FROM samples WHERE app = ? AND time >= ? ORDER BY time", (app, since)).fetchall()
    finally:
        db.close()
    return [{"time": round(row["time"], 3), "rps": round(row["requests"] / row["seconds"], 3) if row["seconds"] else 0,
             "requests": row["requests"], "p50_ms": row["p50"], "p99_ms": row["p99"],
             "cpu_percent": None if row["cpu_percent"] is None else round(row["cpu_percent"], 2),
             "memory_bytes": row["memory_bytes"], "instances": row["instances"]} for row in rows]
