"""The state of the apps themselves: each app, its config, formation, domains, deploy branch, blue-green standby
or canary, and what the watchdog found wrong with its instances."""

import time

from ponton.core.errors import InvalidInput, NotFound
from ponton.core.state.records import App, InstanceStatus, from_record
from ponton.core.state.storage import APP_COLLECTIONS, COLLECTIONS, Reader, Record
from ponton.core.state.transactions import Transactions, changes, reads


def app_record(tx: Reader, name: str) -> Record:
    found = tx.scan("apps", where={"name": name}, limit=1)
    if not found:
        raise NotFound(f"app {name} does not exist")
    return found[0]


def app_id_of(tx: Reader, name: str) -> int:
    return app_record(tx, name)["id"]


def app_name_of(tx: Reader, app_id: int) -> str:
    return tx.get("apps", (app_id,))["name"]


def _exists(tx: Reader, name: str) -> bool:
    return bool(tx.scan("apps", where={"name": name}, limit=1))


class Apps(Transactions):
    @reads
    def app_id(self, tx, name: str) -> int:
        """The app's id (raises NotFound if there is no such app)."""
        return app_id_of(tx, name)

    @reads
    def app_exists(self, tx, name: str) -> bool:
        return _exists(tx, name)

    @changes
    def create_app(self, tx, name: str, owner: str | None = None):
        """`owner` is the user who created it (None: an admin on the server itself)."""
        if _exists(tx, name):
            raise InvalidInput(f"app {name} already exists")
        last = tx.scan("apps", reverse=True, limit=1)
        app_id = last[0]["id"] + 1 if last else 1
        tx.put("apps", {"id": app_id, "name": name, "created": time.time(), "owner": owner, "stopped": 0,
                        "deploy_branch": None, "standby_version": None, "standby_until": None,
                        "canary_version": None, "canary_until": None})
        tx.put("formation", {"app_id": app_id, "process": "web", "count": 1})

    @reads
    def apps(self, tx) -> list[App]:
        return sorted((_app(record) for record in tx.scan("apps")), key=lambda app: app.name)

    @reads
    def app(self, tx, name: str) -> App:
        return _app(app_record(tx, name))

    @changes
    def rename_app(self, tx, old: str, new: str):
        record = app_record(tx, old)
        if _exists(tx, new):
            raise InvalidInput(f"app {new} already exists")
        tx.put("apps", {**record, "name": new})  # what belongs to the app is keyed by its id: it stays

    @changes
    def delete_app(self, tx, name: str):
        """Remove the app and everything that belongs to it."""
        app_id = app_id_of(tx, name)
        for collection in APP_COLLECTIONS:
            declared = COLLECTIONS[collection]
            if declared.key[0] == "app_id":
                tx.delete(collection, (app_id,))
            else:  # keyed by what is unique across apps (a domain, a host port)
                for record in tx.scan(collection, where={"app_id": app_id}):
                    tx.delete(collection, declared.key_of(record))
        tx.delete("apps", (app_id,))

    @changes
    def set_stopped(self, tx, name: str, stopped: bool):
        tx.put("apps", {**app_record(tx, name), "stopped": int(stopped)})

    # config

    @reads
    def config(self, tx, name: str) -> dict[str, str]:
        return {record["key"]: record["value"] for record in tx.scan("config", (app_id_of(tx, name),))}

    @changes
    def replace_config(self, tx, name: str, config: dict[str, str]):
        app_id = app_id_of(tx, name)
        tx.delete("config", (app_id,))
        for key, value in config.items():
            tx.put("config", {"app_id": app_id, "key": key, "value": value})

    # formation

    @reads
    def formation(self, tx, name: str) -> dict[str, int]:
        return {record["process"]: record["count"] for record in tx.scan("formation", (app_id_of(tx, name),))}

    @changes
    def set_formation(self, tx, name: str, counts: dict[str, int]):
        app_id = app_id_of(tx, name)
        for process, count in counts.items():
            tx.put("formation", {"app_id": app_id, "process": process, "count": count})

    # domains

    @reads
    def domains(self, tx, name: str) -> list[str]:
        return [record["domain"] for record in tx.scan("domains", where={"app_id": app_id_of(tx, name)})]

    @reads
    def domain_app(self, tx, domain: str) -> str | None:
        """The app that serves `domain` (a domain belongs to one app only), or None."""
        record = tx.get("domains", (domain,))
        return None if record is None else app_name_of(tx, record["app_id"])

    @changes
    def add_domain(self, tx, name: str, domain: str):
        app_id = app_id_of(tx, name)
        owner = self.domain_app(domain)
        if owner is not None:
            raise InvalidInput(f"domain {domain} is already used by app {owner}")
        tx.put("domains", {"domain": domain, "app_id": app_id})

    @changes
    def remove_domain(self, tx, name: str, domain: str):
        record = tx.get("domains", (domain,))
        if record is None or record["app_id"] != app_id_of(tx, name):
            raise NotFound(f"app {name} has no domain {domain}")
        tx.delete("domains", (domain,))

    # which branch deploys

    @reads
    def deploy_branch(self, tx, name: str) -> str | None:
        """The branch whose pushes deploy; None means `main` or `master`."""
        return app_record(tx, name)["deploy_branch"]

    @changes
    def set_deploy_branch(self, tx, name: str, branch: str):
        tx.put("apps", {**app_record(tx, name), "deploy_branch": branch})

    # a blue-green standby or a canary in progress

    @changes
    def set_standby(self, tx, name: str, version: int | None, until: float | None):
        tx.put("apps", {**app_record(tx, name), "standby_version": version, "standby_until": until})

    @changes
    def set_canary(self, tx, name: str, version: int | None, until: float | None):
        tx.put("apps", {**app_record(tx, name), "canary_version": version, "canary_until": until})

    # what the watchdog found wrong with an instance (web.1: crash-looping), shown by ps:report

    @reads
    def instance_statuses(self, tx, name: str) -> dict[str, InstanceStatus]:
        records = tx.scan("instance_status", (app_id_of(tx, name),))
        return {record["instance"]: from_record(InstanceStatus, record) for record in records}

    @changes
    def set_instance_status(self, tx, name: str, instance: str, status: str | None, detail: str = ""):
        """Record `status` for the instance (like web.1); None clears it."""
        app_id = app_id_of(tx, name)
        tx.delete("instance_status", (app_id, instance))
        if status:
            tx.put("instance_status", {"app_id": app_id, "instance": instance, "status": status, "detail": detail,
                                       "updated": time.time()})


def _app(record: Record) -> App:
    return from_record(App, record, stopped=bool(record["stopped"]))
