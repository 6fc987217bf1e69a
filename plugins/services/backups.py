"""A service's backups: files STATE_DIR/services/KIND/NAME/ID.SUFFIX, where ID is the UTC time the backup was taken
(YYYYMMDD-HHMMSS, with -N for another one in the same second), so that they sort oldest first. After each backup
only the newest `backup_keep` stay. A schedule is a cron expression (UTC), run by the watchdog."""

import datetime
import gzip
import re
import shutil
import time
from pathlib import Path

from plugins.services import Kind, container
from ponton import api
from ponton.core.errors import InvalidInput, NotFound, PontonError

ID = re.compile(r"(\d{8}-\d{6})(?:-([1-9][0-9]{0,3}))?")
KEEP = 7  # backups kept unless backup-schedule --keep says otherwise
MAX_KEEP = 1000
NICKNAMES = ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually")
CRON_FIELD = re.compile(r"[0-9A-Za-z*/,-]{1,40}")  # what each of the 5 fields may hold; croniter checks the rest


def directory(settings, kind: Kind, name: str) -> Path:
    return settings.state_dir / "services" / kind.name / name


def check_id(text: str) -> str:
    if not ID.fullmatch(text):
        raise InvalidInput(f"invalid backup {api.one_line(text[:40])!r}: use an id that backups lists, "
                           "like 20250131-020000")
    return text


def _order(backup_id: str) -> tuple[str, int]:
    stamp, again = ID.fullmatch(backup_id).groups()
    return stamp, int(again or 0)


def new_id(taken: set[str], now: float) -> str:
    """The id of a backup taken at `now`, not one of `taken`."""
    stamp = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    number = 0
    while (backup_id := stamp if not number else f"{stamp}-{number}") in taken:
        number += 1
    return backup_id


def to_remove(ids: list[str], keep: int) -> list[str]:
    """Of these backups, the ones past the newest `keep`."""
    return sorted(ids, key=_order)[:max(len(ids) - keep, 0)]


def listing(settings, kind: Kind, name: str) -> list[dict]:
    """The service's backups, oldest first: {"id", "created" (epoch seconds), "size" (bytes), "path"}."""
    found = []
    folder = directory(settings, kind, name)
    for path in folder.glob(f"*{kind.suffix}") if folder.is_dir() else []:
        backup_id = path.name.removesuffix(kind.suffix)
        if ID.fullmatch(backup_id) and path.is_file():
            stat = path.stat()
            found.append({"id": backup_id, "created": stat.st_mtime, "size": stat.st_size, "path": path})
    return sorted(found, key=lambda backup: _order(backup["id"]))


def find(settings, kind: Kind, name: str, backup_id: str) -> Path:
    check_id(backup_id)
    for backup in listing(settings, kind, name):
        if backup["id"] == backup_id:
            return backup["path"]
    raise NotFound(f"{kind.name} service {name} has no backup {backup_id} ({kind.name}:backups {name})")


def take(p, kind: Kind, name: str, user: str, since: float | None = None) -> dict:
    """Back the service up now and record how it went: its events get the backup, or the failure (which info and
    `ponton report` show until a backup works), and `since` (a scheduled one's time) is what the schedule counts
    from next. A failed backup leaves no file and raises PontonError."""
    try:
        made = _write(p.settings, kind, name)
    except Exception as e:  # the engine's errors too: each is recorded
        reason = api.one_line(str(e).splitlines()[0] if str(e) else type(e).__name__)
        p.state.set_backup_outcome(kind.name, name, reason, since)
        p.state.add_service_event(kind.name, name, user, "backup-failed", reason)
        raise PontonError(f"backup of {kind.name} service {name} failed: {reason}") from None
    p.state.set_backup_outcome(kind.name, name, "", since)
    removed = to_remove([b["id"] for b in listing(p.settings, kind, name)], p.state.service(kind.name, name).backup_keep)
    for backup_id in removed:
        (directory(p.settings, kind, name) / f"{backup_id}{kind.suffix}").unlink(missing_ok=True)
    pruned = f"; removed {', '.join(removed)} (keeping {len(listing(p.settings, kind, name))})" if removed else ""
    p.state.add_service_event(kind.name, name, user, "backup", f"backup {made['id']} ({made['size']} bytes){pruned}")
    return made


def _write(settings, kind: Kind, name: str) -> dict:
    running = container.find(settings, kind, name)
    if running is None or running.status != "running":
        raise PontonError(f"its container is {'missing' if running is None else running.status}")
    folder = directory(settings, kind, name)
    folder.mkdir(parents=True, exist_ok=True)
    backup_id = new_id({b["id"] for b in listing(settings, kind, name)}, time.time())
    partial = folder / f".{backup_id}.partial"  # not a backup's name: never listed, never restored
    try:
        with open(partial, "wb") as raw:
            out = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if kind.compress else raw
            code, errors = container.run_into(running, kind.backup(name), out)
            out.close()
        if code != 0:
            last = [line for line in errors.splitlines() if line.strip()]
            raise PontonError(f"{kind.backup(name)[0]} exited with code {code}: {last[-1] if last else 'no message'}")
        final = folder / f"{backup_id}{kind.suffix}"
        partial.rename(final)
    finally:
        partial.unlink(missing_ok=True)
    return {"id": backup_id, "size": final.stat().st_size}


def unpacked(kind: Kind, path: Path, into):
    """Write the data of the backup at `path` into the open file `into` (uncompressed)."""
    with (gzip.open(path) if kind.compress else open(path, "rb")) as f:
        try:
            shutil.copyfileobj(f, into)
        except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
            raise PontonError(f"backup {path.name} is damaged: {e}") from None
    into.flush()


# Schedules

def check_schedule(text: str) -> str:
    """A cron schedule: 5 fields (minute hour day month weekday) or a nickname (@daily), that fires some day."""
    fields = text.split()
    if not (text.strip() in NICKNAMES or (len(fields) == 5 and all(CRON_FIELD.fullmatch(f) for f in fields))):
        raise InvalidInput(f"invalid schedule {api.one_line(text[:60])!r}: use 5 cron fields (minute hour day month "
                           f"weekday, in UTC) like \"0 3 * * *\", or one of {', '.join(NICKNAMES)}")
    schedule = " ".join(fields)
    from croniter import CroniterError  # imported here: only schedules need it

    try:
        next_due(schedule, time.time())
    except (CroniterError, ValueError, KeyError) as e:
        raise InvalidInput(f"invalid schedule {schedule!r}: {api.one_line(str(e))}") from None
    return schedule


def next_due(schedule: str, since: float) -> float:
    """When a backup on `schedule` is due next after `since` (epoch seconds, UTC)."""
    from croniter import croniter  # imported here: see check_schedule

    return croniter(schedule, datetime.datetime.fromtimestamp(since, datetime.timezone.utc)).get_next(float)
