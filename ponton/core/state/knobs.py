"""The state of what commands tune: per-app knobs (deploy:set, proxy:set), resource limits per process type
(resource:set), and server-wide settings (domains:set-global, letsencrypt:set --global)."""

from ponton.core.state.apps import app_id_of
from ponton.core.state.storage import Reader, Writer
from ponton.core.state.transactions import Transactions, changes, reads


def knobs(tx: Reader, collection: str, name: str) -> dict[str, str]:
    return {record["key"]: record["value"] for record in tx.scan(collection, (app_id_of(tx, name),))}


def set_knob(tx: Writer, collection: str, name: str, key: str, value: str | None):
    """Store `value` for `key` in a collection of per-app knobs (None: back to the default)."""
    app_id = app_id_of(tx, name)
    tx.delete(collection, (app_id, key))
    if value is not None:
        tx.put(collection, {"app_id": app_id, "key": key, "value": value})


class Knobs(Transactions):
    # deploy strategy: the knobs of deploy:set

    @reads
    def deploy_settings(self, tx, name: str) -> dict[str, str]:
        return knobs(tx, "deploy_settings", name)

    @changes
    def set_deploy_setting(self, tx, name: str, key: str, value: str | None):
        set_knob(tx, "deploy_settings", name, key, value)

    # resource limits and reservations per app: process '' holds what applies to every process type

    @reads
    def resources(self, tx, name: str) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = {}
        for record in tx.scan("resources", (app_id_of(tx, name),)):
            result.setdefault(record["process"], {})[record["key"]] = record["value"]
        return result

    @changes
    def replace_resources(self, tx, name: str, resources: dict[str, dict[str, str]]):
        app_id = app_id_of(tx, name)
        tx.delete("resources", (app_id,))
        for process, values in resources.items():
            for key, value in values.items():
                tx.put("resources", {"app_id": app_id, "process": process, "key": key, "value": value})

    # server-wide settings changed by commands (domains:set-global)

    @reads
    def setting(self, tx, key: str, default: str) -> str:
        record = tx.get("settings", (key,))
        return default if record is None else record["value"]

    @changes
    def set_setting(self, tx, key: str, value: str | None):
        """Set `key` (None: remove it, so that its default applies again)."""
        if value is None:
            tx.delete("settings", (key,))
        else:
            tx.put("settings", {"key": key, "value": value})
