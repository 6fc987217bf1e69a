"""The state of the proxy beyond plain HTTP: its knobs per app (proxy:set), Let's Encrypt per app, and extra
ports (ports:add: a host port and protocol belong to one app; tcp and udp may share a number)."""

import time

from ponton.core.errors import InvalidInput, NotFound
from ponton.core.state.apps import app_id_of, app_name_of
from ponton.core.state.knobs import knobs, set_knob
from ponton.core.state.records import LetsEncrypt, Port, from_record
from ponton.core.state.transactions import Transactions, changes, reads


class Proxy(Transactions):
    @reads
    def proxy_settings(self, tx, name: str) -> dict[str, str]:
        return knobs(tx, "proxy_settings", name)

    @changes
    def set_proxy_setting(self, tx, name: str, key: str, value: str | None):
        set_knob(tx, "proxy_settings", name, key, value)

    # Let's Encrypt (the certificates themselves are files)

    @reads
    def letsencrypt(self, tx, name: str) -> LetsEncrypt | None:
        """The app's Let's Encrypt issuance (None: not enabled)."""
        record = tx.get("letsencrypt", (app_id_of(tx, name),))
        return None if record is None else from_record(LetsEncrypt, record, app=name)

    @reads
    def letsencrypt_apps(self, tx) -> list[LetsEncrypt]:
        found = [from_record(LetsEncrypt, record, app=app_name_of(tx, record["app_id"]))
                 for record in tx.scan("letsencrypt")]
        return sorted(found, key=lambda letsencrypt: letsencrypt.app)

    @changes
    def set_letsencrypt(self, tx, name: str, status: str | None, error: str = "", failures: int = 0,
                        retry_after: float = 0.0):
        """Record the outcome of the last issuance (None: disable Let's Encrypt for the app)."""
        app_id = app_id_of(tx, name)
        tx.delete("letsencrypt", (app_id,))
        if status is not None:
            tx.put("letsencrypt", {"app_id": app_id, "status": status, "last_error": error, "failures": failures,
                                   "retry_after": retry_after, "updated": time.time()})

    # extra ports

    @reads
    def ports(self, tx, name: str | None = None) -> list[Port]:
        """Port mappings of one app, or of every app if `name` is None, by host port."""
        where = None if name is None else {"app_id": app_id_of(tx, name)}
        return [from_record(Port, record, app=name or app_name_of(tx, record["app_id"]))
                for record in tx.scan("ports", where=where)]

    @changes
    def add_port(self, tx, name: str, scheme: str, host_port: int, protocol: str, container_port: int):
        holder = tx.get("ports", (host_port, protocol))
        if holder is not None:
            raise InvalidInput(f"host port {host_port}/{protocol} is already used by app "
                               f"{app_name_of(tx, holder['app_id'])}")
        tx.put("ports", {"host_port": host_port, "protocol": protocol, "app_id": app_id_of(tx, name),
                         "scheme": scheme, "container_port": container_port})

    @changes
    def remove_port(self, tx, name: str, host_port: int, protocol: str):
        record = tx.get("ports", (host_port, protocol))
        if record is None or record["app_id"] != app_id_of(tx, name):
            raise NotFound(f"app {name} has no port {host_port}/{protocol}")
        tx.delete("ports", (host_port, protocol))
