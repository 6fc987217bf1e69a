"""The state of backing services (plugins/services): each of a kind (postgres, redis) and a name, owned like an
app, the apps it is linked to, its backup schedule, and its events."""

import time

from ponton.core.errors import InvalidInput, NotFound
from ponton.core.state.apps import app_id_of, app_name_of
from ponton.core.state.records import Event, Service, ServiceLink, from_record
from ponton.core.state.releases import next_number
from ponton.core.state.storage import Reader, Record
from ponton.core.state.transactions import Transactions, changes, reads


def service_record(tx: Reader, kind: str, name: str) -> Record:
    found = tx.scan("services", where={"kind": kind, "name": name}, limit=1)
    if not found:
        raise NotFound(f"{kind} service {name} does not exist")
    return found[0]


class Services(Transactions):
    @reads
    def service_exists(self, tx, kind: str, name: str) -> bool:
        return bool(tx.scan("services", where={"kind": kind, "name": name}, limit=1))

    @reads
    def service(self, tx, kind: str, name: str) -> Service:
        return from_record(Service, service_record(tx, kind, name))

    @reads
    def services(self, tx, kind: str | None = None) -> list[Service]:
        """Every service of `kind` (None: of every kind), by kind and name."""
        found = tx.scan("services", where=None if kind is None else {"kind": kind})
        return sorted((from_record(Service, record) for record in found), key=lambda s: (s.kind, s.name))

    @reads
    def owned_services(self, tx, user: str) -> list[Service]:
        found = tx.scan("services", where={"owner": user})
        return sorted((from_record(Service, record) for record in found), key=lambda s: (s.kind, s.name))

    @changes
    def create_service(self, tx, kind: str, name: str, owner: str | None, password: str, backup_keep: int):
        if tx.scan("services", where={"kind": kind, "name": name}, limit=1):
            raise InvalidInput(f"{kind} service {name} already exists")
        last = tx.scan("services", reverse=True, limit=1)
        tx.put("services", {"id": last[0]["id"] + 1 if last else 1, "kind": kind, "name": name, "owner": owner,
                            "password": password, "created": time.time(), "backup_schedule": None,
                            "backup_from": None, "backup_keep": backup_keep, "backup_error": ""})

    @changes
    def delete_service(self, tx, kind: str, name: str):
        service_id = service_record(tx, kind, name)["id"]
        tx.delete("service_links", (service_id,))
        tx.delete("service_events", (service_id,))
        tx.delete("services", (service_id,))

    @reads
    def service_links(self, tx, kind: str, name: str) -> list[str]:
        """The apps the service is linked to, by name."""
        links = tx.scan("service_links", (service_record(tx, kind, name)["id"],))
        return sorted(app_name_of(tx, link["app_id"]) for link in links)

    @reads
    def app_service_links(self, tx, app: str) -> list[ServiceLink]:
        """The services linked to `app`, each with the variable it set."""
        links = []
        for link in tx.scan("service_links", where={"app_id": app_id_of(tx, app)}):
            service = tx.get("services", (link["service_id"],))
            links.append(ServiceLink(service["kind"], service["name"], link["variable"]))
        return sorted(links, key=lambda link: (link.kind, link.name))

    @changes
    def link_service(self, tx, kind: str, name: str, app: str, variable: str):
        key = (service_record(tx, kind, name)["id"], app_id_of(tx, app))
        if tx.get("service_links", key) is not None:
            raise InvalidInput(f"{kind} service {name} is already linked to app {app}")
        tx.put("service_links", {"service_id": key[0], "app_id": key[1], "variable": variable})

    @changes
    def unlink_service(self, tx, kind: str, name: str, app: str):
        key = (service_record(tx, kind, name)["id"], app_id_of(tx, app))
        if tx.get("service_links", key) is None:
            raise NotFound(f"{kind} service {name} is not linked to app {app}")
        tx.delete("service_links", key)

    @changes
    def set_backup_schedule(self, tx, kind: str, name: str, schedule: str | None, keep: int, since: float | None):
        """The cron schedule of the service's backups (None: none), counted from `since`, and how many to keep."""
        record = service_record(tx, kind, name)
        tx.put("services", {**record, "backup_schedule": schedule, "backup_from": since, "backup_keep": keep})

    @changes
    def set_backup_outcome(self, tx, kind: str, name: str, error: str, since: float | None = None):
        """Record how the last backup went ("": it worked) and, for a scheduled one, the time it was due, which
        the schedule counts from next."""
        record = service_record(tx, kind, name)
        tx.put("services", {**record, "backup_error": error,
                            "backup_from": record["backup_from"] if since is None else since})

    @changes
    def add_service_event(self, tx, kind: str, name: str, user: str, event: str, message: str):
        service_id = service_record(tx, kind, name)["id"]
        tx.put("service_events", {"service_id": service_id, "id": next_number(tx, "service_events", service_id, "id"),
                                  "time": time.time(), "user": user, "kind": event, "message": message})

    @reads
    def service_events(self, tx, kind: str, name: str, limit: int) -> list[Event]:
        """The service's last `limit` events, oldest first."""
        latest = tx.scan("service_events", (service_record(tx, kind, name)["id"],), reverse=True, limit=limit)
        return [from_record(Event, record) for record in reversed(latest)]
