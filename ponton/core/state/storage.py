"""The storage interface under the state's domain methods: keyed records in named collections, read and
written in transactions. SQLite implements it on one server (sqlite_storage.py); a replicated store (etcd, in a
cluster) implements the same without touching the domain methods.

A record is a flat dict of scalars (str, int, float, None) holding every field its collection declares;
structured values are JSON text. Its key is the tuple of its key fields, in the order COLLECTIONS declares them;
scans return records in key order (int parts compare as numbers: an etcd store encodes them fixed-width).

A transaction is serializable: everything it read still holds when its writes are applied, all of them at once,
or none. SQLite gets this by holding the database's write lock for the whole transaction. An etcd store gets it
by compare-and-swap: it reads at one revision, records what it read (each key with its mod revision, absent keys
as version 0, each scanned range), and commits in one etcd Txn whose compares require all of those unchanged
(a scanned range: no key in it modified after the read revision, and each key it returned still at its mod
revision, so that neither an insert nor a delete in the range slips by; a delete by prefix reads its range too,
and deletes the keys it found one by one, since one Txn may not delete a range and put a key in it); a failed
compare raises Conflict, and the state runs the whole domain method again (transactions.py). So "count, then
insert" (the app quota) never lets two creates each count the same free place, on either store.
"""

import contextlib
from typing import NamedTuple, Protocol

Value = str | int | float | None
Record = dict[str, Value]
Key = tuple[Value, ...]


class Conflict(Exception):
    """What a transaction read changed before it could commit: run it again from the start."""


class Collection(NamedTuple):  # not a dataclass: every command imports it, and a NamedTuple is quicker to create
    key: tuple[str, ...]  # the fields that identify a record
    fields: tuple[str, ...]  # the others

    @property
    def columns(self) -> tuple[str, ...]:
        return self.key + self.fields

    def key_of(self, record: Record) -> Key:
        return tuple(record[field] for field in self.key)


# Every collection a store keeps. An app's records are keyed by its id first (its name may change:
# apps:rename), so that a prefix scan finds them; events are numbered per app for the same reason.
COLLECTIONS = {
    "apps": Collection(("id",), ("name", "created", "stopped", "deploy_branch", "standby_version", "standby_until",
                                 "canary_version", "canary_until", "owner")),
    "config": Collection(("app_id", "key"), ("value",)),
    "formation": Collection(("app_id", "process"), ("count",)),
    "domains": Collection(("domain",), ("app_id",)),
    "releases": Collection(("app_id", "version"), ("image", "source", "config", "processes", "healthchecks",
                                                   "description", "created", "status", "build_log")),
    "settings": Collection(("key",), ("value",)),
    "ssh_keys": Collection(("fingerprint",), ("name", "key", "created")),
    "instance_status": Collection(("app_id", "instance"), ("status", "detail", "updated")),
    "events": Collection(("app_id", "id"), ("time", "user", "kind", "message")),
    "deploy_settings": Collection(("app_id", "key"), ("value",)),
    "users": Collection(("name",), ("role", "created")),
    "app_access": Collection(("app_id", "user"), ()),
    "quotas": Collection(("user", "key"), ("value",)),
    "resources": Collection(("app_id", "process", "key"), ("value",)),
    "proxy_settings": Collection(("app_id", "key"), ("value",)),
    "letsencrypt": Collection(("app_id",), ("status", "last_error", "failures", "retry_after", "updated")),
    "ports": Collection(("host_port", "protocol"), ("app_id", "scheme", "container_port")),
    "services": Collection(("id",), ("kind", "name", "owner", "password", "created", "backup_schedule", "backup_from",
                                     "backup_keep", "backup_error")),
    "service_links": Collection(("service_id", "app_id"), ("variable",)),
    "service_events": Collection(("service_id", "id"), ("time", "user", "kind", "message")),
    "autoscale": Collection(("app_id", "process"), ("minimum", "maximum", "rps", "cpu", "latency_p90", "cooldown",
                                                    "last_change", "desired", "reason", "decided", "interval")),
    "tokens": Collection(("hash",), ("kind", "user", "name", "created", "expires")),
}
# The collections whose records belong to one app (field app_id): they go with it when it is destroyed.
APP_COLLECTIONS = tuple(name for name, c in COLLECTIONS.items() if "app_id" in c.columns)


class Reader(Protocol):
    def get(self, collection: str, key: Key) -> Record | None:
        """The record with this (whole) key, or None."""

    def scan(self, collection: str, prefix: Key = (), *, where: Record | None = None, reverse: bool = False,
             limit: int | None = None) -> list[Record]:
        """The records whose key starts with `prefix` and whose fields equal those of `where`, in key order
        (`reverse`: last first), at most `limit` of them."""


class Writer(Reader, Protocol):
    def put(self, collection: str, record: Record):
        """Store `record` (every field of its collection), replacing the one with its key."""

    def delete(self, collection: str, prefix: Key):
        """Remove the records whose key starts with `prefix` (a whole key: that one record)."""


class Storage(Protocol):
    def reading(self) -> contextlib.AbstractContextManager[Reader]:
        """Reads that see one consistent state of the store, and never wait for a writer."""

    def transaction(self) -> contextlib.AbstractContextManager[Writer]:
        """A serializable transaction: committed when the block ends, rolled back if it raises; Conflict (on
        commit, or at any read) if it cannot be serialized, and then nothing of it was applied."""

    def close(self):
        """Let go of the store (its connection, its files)."""


def check(collection: str, record: Record) -> Collection:
    """The collection `record` is one of, which must hold exactly its fields (a programming error otherwise)."""
    declared = COLLECTIONS[collection]
    if set(record) != set(declared.columns):
        raise ValueError(f"a record of {collection} has the fields {', '.join(declared.columns)}, not "
                         f"{', '.join(sorted(record))}")
    return declared
