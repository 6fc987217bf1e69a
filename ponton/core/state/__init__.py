"""Durable state: the domain methods (apps, users, releases, knobs, proxy) over a small storage interface.

    records.py          what the domain methods return: frozen dataclasses (App, Release, User...)
    storage.py          the interface: keyed records in named collections, get/scan by key prefix/put/delete,
                        serializable transactions (compare-and-swap on revisions in a replicated store)
    sqlite_storage.py   the one-server store: one SQLite file in WAL mode, a table per collection
    migrations.py       its schema, version by version
    transactions.py     how a domain method runs: one transaction, run again whole on a conflict
    apps.py, users.py, releases.py, knobs.py, proxy.py, services.py, autoscale.py, tokens.py    the domain
                        methods, by area

Why a table per collection, not one table of key/value records as etcd has: the interface the domain methods see
is SQL-free (collections, keys, prefixes), so an etcd store implements it as `/ponton/<collection>/<key...>` with
each record as JSON, and the domain methods do not change. Below the interface SQLite keeps what it is good at:
its constraints (a unique app name, one row per key), a column per field that an admin (or a test) can read with
`sqlite3`, and an existing install's file carried over as it is, by the migrations it has always had. Nothing in
a domain method relies on SQLite: no SQL, no foreign-key cascade (destroying an app deletes its records
explicitly), no autoincrement (numbers are the last one plus one, read in the same transaction).
"""

from pathlib import Path

from ponton.core.state.apps import Apps
from ponton.core.state.autoscale import Autoscaling
from ponton.core.state.knobs import Knobs
from ponton.core.state.proxy import Proxy
from ponton.core.state.records import (
    App,
    Event,
    InstanceStatus,
    LetsEncrypt,
    Port,
    Release,
    Service,
    ServiceLink,
    SshKey,
    Token,
    User,
)
from ponton.core.state.releases import Releases
from ponton.core.state.services import Services
from ponton.core.state.sqlite_storage import SqliteStorage
from ponton.core.state.storage import Storage
from ponton.core.state.tokens import Tokens
from ponton.core.state.users import Users

__all__ = ["App", "Event", "InstanceStatus", "LetsEncrypt", "Port", "Release", "Service", "ServiceLink", "SshKey", "State",
           "Token", "User"]


class State(Apps, Users, Releases, Knobs, Proxy, Services, Autoscaling, Tokens):
    """The state of one ponton: in the SQLite file under `state_dir`, or in `store` if given."""

    def __init__(self, state_dir: Path | None = None, store: Storage | None = None):
        super().__init__(store if store is not None else SqliteStorage(state_dir))
