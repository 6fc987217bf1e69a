"""The state of each app's history: its releases (numbered per app, each with the config it ran with) and its
events (what happened to it, and who did it)."""

import json
import time

from ponton.core.errors import NotFound
from ponton.core.state.apps import app_id_of
from ponton.core.state.records import Event, Release, from_record
from ponton.core.state.storage import Reader, Record
from ponton.core.state.transactions import Transactions, changes, reads


def next_number(tx: Reader, collection: str, app_id: int, field: str) -> int:
    last = tx.scan(collection, (app_id,), reverse=True, limit=1)
    return last[0][field] + 1 if last else 1


class Releases(Transactions):
    @changes
    def add_release(self, tx, name: str, image: str, source: str, config: dict, processes: dict,
                    healthchecks: dict, description: str, build_log: str = "") -> Release:
        app_id = app_id_of(tx, name)
        record = {"app_id": app_id, "version": next_number(tx, "releases", app_id, "version"), "image": image,
                  "source": source, "config": json.dumps(config), "processes": json.dumps(processes),
                  "healthchecks": json.dumps(healthchecks), "description": description, "created": time.time(),
                  "status": "deploying", "build_log": build_log}
        tx.put("releases", record)
        return _release(record)

    @reads
    def release_images(self, tx) -> set[str]:
        """The images the releases of every app name."""
        return {record["image"] for record in tx.scan("releases")}

    @changes
    def rename_images(self, tx, name: str, images: dict[str, str]):
        """Give the releases of app `name` that name an image of `images` its new name (after apps:rename)."""
        for record in tx.scan("releases", (app_id_of(tx, name),)):
            if record["image"] in images:
                tx.put("releases", {**record, "image": images[record["image"]]})

    @changes
    def set_release_status(self, tx, name: str, version: int, status: str):
        record = tx.get("releases", (app_id_of(tx, name), version))
        if record is not None:
            tx.put("releases", {**record, "status": status})

    @reads
    def releases(self, tx, name: str) -> list[Release]:
        return [_release(record) for record in tx.scan("releases", (app_id_of(tx, name),))]

    @reads
    def release(self, tx, name: str, version: int) -> Release:
        record = tx.get("releases", (app_id_of(tx, name), version))
        if record is None:
            raise NotFound(f"app {name} has no release v{version}")
        return _release(record)

    @reads
    def current_release(self, tx, name: str) -> Release | None:
        """The newest release that rolled out successfully: what serves now."""
        found = tx.scan("releases", (app_id_of(tx, name),), where={"status": "succeeded"}, reverse=True, limit=1)
        return _release(found[0]) if found else None

    # events: what happened to each app, and who did it

    @changes
    def add_event(self, tx, name: str, user: str, kind: str, message: str):
        app_id = app_id_of(tx, name)
        tx.put("events", {"app_id": app_id, "id": next_number(tx, "events", app_id, "id"), "time": time.time(),
                          "user": user, "kind": kind, "message": message})

    @reads
    def events(self, tx, name: str, limit: int) -> list[Event]:
        """The app's last `limit` events, oldest first."""
        latest = tx.scan("events", (app_id_of(tx, name),), reverse=True, limit=limit)
        return [from_record(Event, record) for record in reversed(latest)]


def _release(record: Record) -> Release:
    return from_record(Release, record, config=json.loads(record["config"]),
                       processes=json.loads(record["processes"]), healthchecks=json.loads(record["healthchecks"]))
