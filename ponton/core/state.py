"""Durable state: one SQLite file in WAL mode, a schema version with migrations, every change one transaction."""

import contextlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from ponton.core.errors import InvalidInput, NotFound

# Each entry migrates the schema from version i to i+1; append, never edit.
MIGRATIONS = [
    """
    CREATE TABLE apps (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created REAL NOT NULL,
        stopped INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE config (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (app_id, key)
    );
    CREATE TABLE formation (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        process TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (app_id, process)
    );
    CREATE TABLE domains (
        domain TEXT PRIMARY KEY,
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE
    );
    CREATE TABLE releases (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        image TEXT NOT NULL,
        source TEXT NOT NULL,
        config TEXT NOT NULL,
        processes TEXT NOT NULL,
        healthchecks TEXT NOT NULL,
        description TEXT NOT NULL,
        created REAL NOT NULL,
        status TEXT NOT NULL,
        PRIMARY KEY (app_id, version)
    );
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    """
    CREATE TABLE ssh_keys (
        fingerprint TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        key TEXT NOT NULL,
        created REAL NOT NULL
    );
    ALTER TABLE apps ADD COLUMN deploy_branch TEXT;
    ALTER TABLE releases ADD COLUMN build_log TEXT NOT NULL DEFAULT '';
    """,
    """
    CREATE TABLE instance_status (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        instance TEXT NOT NULL,
        status TEXT NOT NULL,
        detail TEXT NOT NULL,
        updated REAL NOT NULL,
        PRIMARY KEY (app_id, instance)
    );
    """,
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        time REAL NOT NULL,
        user TEXT NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX events_by_app ON events (app_id, time);
    """,
    """
    CREATE TABLE deploy_settings (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (app_id, key)
    );
    ALTER TABLE apps ADD COLUMN standby_version INTEGER;
    ALTER TABLE apps ADD COLUMN standby_until REAL;
    ALTER TABLE apps ADD COLUMN canary_version INTEGER;
    ALTER TABLE apps ADD COLUMN canary_until REAL;
    """,
    # Users and roles. The rule "the first key added is admin" holds for older installs too; every user they
    # had could use every app, so they keep access to the existing apps (which have no owner).
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        created REAL NOT NULL
    );
    INSERT INTO users SELECT name, 'user', MIN(created) FROM ssh_keys GROUP BY name;
    UPDATE users SET role = 'admin' WHERE name = (SELECT name FROM ssh_keys ORDER BY created LIMIT 1);
    ALTER TABLE apps ADD COLUMN owner TEXT;
    CREATE TABLE app_access (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        user TEXT NOT NULL,
        PRIMARY KEY (app_id, user)
    );
    INSERT INTO app_access SELECT apps.id, users.name FROM apps, users WHERE users.role = 'user';
    CREATE TABLE quotas (
        user TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (user, key)
    );
    CREATE TABLE resources (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        process TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (app_id, process, key)
    );
    """,
    # HTTPS and protocols: proxy knobs (proxy:set), Let's Encrypt per app, extra ports (ports:add). A host port
    # and protocol belong to one app; tcp and udp may share a number. Certificates themselves are files.
    """
    CREATE TABLE proxy_settings (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (app_id, key)
    );
    CREATE TABLE letsencrypt (
        app_id INTEGER PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
        status TEXT NOT NULL,
        last_error TEXT NOT NULL DEFAULT '',
        failures INTEGER NOT NULL DEFAULT 0,
        retry_after REAL NOT NULL DEFAULT 0,
        updated REAL NOT NULL
    );
    CREATE TABLE ports (
        host_port INTEGER NOT NULL,
        protocol TEXT NOT NULL,
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        scheme TEXT NOT NULL,
        container_port INTEGER NOT NULL,
        PRIMARY KEY (host_port, protocol)
    );
    """,
    # The web face: API tokens (tokens:create), one-time login links (dashboard:login) and browser sessions, each
    # kept as the SHA-256 of its secret, which is shown once and stored nowhere. user NULL: the server itself
    # (local root), which acts as an admin. An API token's name is its user's own.
    """
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        user TEXT,
        name TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created REAL NOT NULL,
        expires REAL NOT NULL
    );
    CREATE UNIQUE INDEX tokens_by_name ON tokens (kind, IFNULL(user, ''), name) WHERE kind = 'api';
    CREATE INDEX tokens_by_user ON tokens (user, kind);
    """,
]


@dataclass(frozen=True)
class Release:
    version: int
    image: str
    source: str  # what was deployed: an image name or a git sha
    config: dict[str, str]
    processes: dict[str, str]  # process type -> command ("" runs the image's own command)
    healthchecks: dict  # app.json "healthchecks", by process type
    description: str
    created: float
    status: str  # deploying, succeeded, failed
    build_log: str = ""

    @property
    def label(self) -> str:
        return f"v{self.version}"


class State:
    def __init__(self, state_dir: Path):
        state_dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(state_dir / "ponton.db", timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _migrate(self):
        with self.transaction():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")

    @contextlib.contextmanager
    def transaction(self):
        """One transaction, holding the database's write lock from its start (so what it reads stays true until it
        commits). Inside another, it is part of that one, which commits or rolls back all of it."""
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # apps

    def app_id(self, name: str) -> int:
        row = self.db.execute("SELECT id FROM apps WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"app {name} does not exist")
        return row["id"]

    def app_exists(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM apps WHERE name = ?", (name,)).fetchone() is not None

    def create_app(self, name: str, owner: str | None = None):
        """`owner` is the user who created it (None: an admin on the server itself)."""
        with self.transaction() as db:
            if self.app_exists(name):
                raise InvalidInput(f"app {name} already exists")
            app_id = db.execute(
                "INSERT INTO apps (name, created, owner) VALUES (?, ?, ?)", (name, time.time(), owner)
            ).lastrowid
            db.execute("INSERT INTO formation VALUES (?, 'web', 1)", (app_id,))

    def apps(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM apps ORDER BY name").fetchall()

    def app(self, name: str) -> sqlite3.Row:
        return self.db.execute("SELECT * FROM apps WHERE id = ?", (self.app_id(name),)).fetchone()

    def rename_app(self, old: str, new: str):
        with self.transaction() as db:
            app_id = self.app_id(old)
            if self.app_exists(new):
                raise InvalidInput(f"app {new} already exists")
            db.execute("UPDATE apps SET name = ? WHERE id = ?", (new, app_id))

    def delete_app(self, name: str):
        with self.transaction() as db:
            db.execute("DELETE FROM apps WHERE id = ?", (self.app_id(name),))

    def set_stopped(self, name: str, stopped: bool):
        with self.transaction() as db:
            db.execute("UPDATE apps SET stopped = ? WHERE id = ?", (int(stopped), self.app_id(name)))

    # config

    def config(self, name: str) -> dict[str, str]:
        rows = self.db.execute("SELECT key, value FROM config WHERE app_id = ? ORDER BY key", (self.app_id(name),))
        return {row["key"]: row["value"] for row in rows}

    def replace_config(self, name: str, config: dict[str, str]):
        with self.transaction() as db:
            app_id = self.app_id(name)
            db.execute("DELETE FROM config WHERE app_id = ?", (app_id,))
            db.executemany("INSERT INTO config VALUES (?, ?, ?)", [(app_id, k, v) for k, v in config.items()])

    # formation

    def formation(self, name: str) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT process, count FROM formation WHERE app_id = ? ORDER BY process", (self.app_id(name),)
        )
        return {row["process"]: row["count"] for row in rows}

    def set_formation(self, name: str, counts: dict[str, int]):
        with self.transaction() as db:
            app_id = self.app_id(name)
            db.executemany(
                "INSERT INTO formation VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET count = excluded.count",
                [(app_id, process, count) for process, count in counts.items()],
            )

    # domains

    def domains(self, name: str) -> list[str]:
        rows = self.db.execute("SELECT domain FROM domains WHERE app_id = ? ORDER BY domain", (self.app_id(name),))
        return [row["domain"] for row in rows]

    def domain_app(self, domain: str) -> str | None:
        """The app that serves `domain` (a domain belongs to one app only), or None."""
        row = self.db.execute(
            "SELECT apps.name FROM domains JOIN apps ON apps.id = app_id WHERE domain = ?", (domain,)
        ).fetchone()
        return None if row is None else row["name"]

    def add_domain(self, name: str, domain: str):
        with self.transaction() as db:
            app_id = self.app_id(name)
            owner = self.domain_app(domain)
            if owner is not None:
                raise InvalidInput(f"domain {domain} is already used by app {owner}")
            db.execute("INSERT INTO domains VALUES (?, ?)", (domain, app_id))

    def remove_domain(self, name: str, domain: str):
        with self.transaction() as db:
            deleted = db.execute(
                "DELETE FROM domains WHERE domain = ? AND app_id = ?", (domain, self.app_id(name))
            ).rowcount
            if not deleted:
                raise NotFound(f"app {name} has no domain {domain}")

    def deploy_branch(self, name: str) -> str | None:
        """The branch whose pushes deploy; None means `main` or `master`."""
        return self.app(name)["deploy_branch"]

    def set_deploy_branch(self, name: str, branch: str):
        with self.transaction() as db:
            db.execute("UPDATE apps SET deploy_branch = ? WHERE id = ?", (branch, self.app_id(name)))

    # ssh keys: the state is the truth, authorized_keys is rendered from it

    def ssh_keys(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM ssh_keys ORDER BY name, created").fetchall()

    def add_ssh_key(self, name: str, fingerprint: str, key: str, role: str | None = None) -> str:
        """Add a key of user `name` and return the user's role: `role` if given, else the role they have,
        else admin for the very first user and user for everyone after."""
        with self.transaction() as db:
            owner = db.execute("SELECT name FROM ssh_keys WHERE fingerprint = ?", (fingerprint,)).fetchone()
            if owner is not None:
                raise InvalidInput(f"this key is already added, as {owner['name']}")
            db.execute("INSERT INTO ssh_keys VALUES (?, ?, ?, ?)", (fingerprint, name, key, time.time()))
            first = db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0
            db.execute("INSERT INTO users VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                       (name, role or ("admin" if first else "user"), time.time()))
            if role:
                db.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))
        return self.role(name)

    def remove_ssh_keys(self, name: str):
        with self.transaction() as db:
            if not db.execute("DELETE FROM ssh_keys WHERE name = ?", (name,)).rowcount:
                raise NotFound(f"no ssh key named {name}")

    # users: a role each (their keys come and go; the role and what they own stay)

    def role(self, user: str) -> str | None:
        row = self.db.execute("SELECT role FROM users WHERE name = ?", (user,)).fetchone()
        return None if row is None else row["role"]

    def users(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM users ORDER BY name").fetchall()

    def require_user(self, user: str):
        if self.role(user) is None:
            raise NotFound(f"no user named {user} (ponton ssh-keys:list)")

    # who may use an app: its owner and the users it was granted to (admins may use every app)

    def owned_apps(self, user: str) -> list[str]:
        return [row["name"] for row in self.db.execute("SELECT name FROM apps WHERE owner = ? ORDER BY name", (user,))]

    def granted(self, name: str) -> list[str]:
        rows = self.db.execute("SELECT user FROM app_access WHERE app_id = ? ORDER BY user", (self.app_id(name),))
        return [row["user"] for row in rows]

    def has_access(self, name: str, user: str) -> bool:
        return self.app(name)["owner"] == user or user in self.granted(name)

    def set_access(self, name: str, user: str, allowed: bool):
        with self.transaction() as db:
            if allowed:
                db.execute("INSERT INTO app_access VALUES (?, ?) ON CONFLICT DO NOTHING", (self.app_id(name), user))
            else:
                db.execute("DELETE FROM app_access WHERE app_id = ? AND user = ?", (self.app_id(name), user))

    # quotas per user: what quota:set stored (a missing key falls back to the server default)

    def quotas(self, user: str) -> dict[str, str]:
        return {row["key"]: row["value"] for row in self.db.execute("SELECT * FROM quotas WHERE user = ?", (user,))}

    def set_quotas(self, user: str, values: dict[str, str | None]):
        with self.transaction() as db:
            for key, value in values.items():
                db.execute("DELETE FROM quotas WHERE user = ? AND key = ?", (user, key))
                if value is not None:
                    db.execute("INSERT INTO quotas VALUES (?, ?, ?)", (user, key, value))

    # resource limits and reservations per app: process '' holds what applies to every process type

    def resources(self, name: str) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = {}
        for row in self.db.execute("SELECT * FROM resources WHERE app_id = ?", (self.app_id(name),)):
            result.setdefault(row["process"], {})[row["key"]] = row["value"]
        return result

    def replace_resources(self, name: str, resources: dict[str, dict[str, str]]):
        with self.transaction() as db:
            app_id = self.app_id(name)
            db.execute("DELETE FROM resources WHERE app_id = ?", (app_id,))
            db.executemany("INSERT INTO resources VALUES (?, ?, ?, ?)",
                           [(app_id, process, k, v) for process, values in resources.items() for k, v in values.items()])

    # what the watchdog found wrong with an instance (web.1: crash-looping), shown by ps:report

    def instance_statuses(self, name: str) -> dict[str, sqlite3.Row]:
        rows = self.db.execute("SELECT * FROM instance_status WHERE app_id = ?", (self.app_id(name),))
        return {row["instance"]: row for row in rows}

    def set_instance_status(self, name: str, instance: str, status: str | None, detail: str = ""):
        """Record `status` for the instance (like web.1); None clears it."""
        with self.transaction() as db:
            app_id = self.app_id(name)
            db.execute("DELETE FROM instance_status WHERE app_id = ? AND instance = ?", (app_id, instance))
            if status:
                db.execute("INSERT INTO instance_status VALUES (?, ?, ?, ?, ?)",
                           (app_id, instance, status, detail, time.time()))

    # deploy strategy: the knobs (deploy:set), and a blue-green standby or a canary in progress

    def deploy_settings(self, name: str) -> dict[str, str]:
        return self._knobs("deploy_settings", name)

    def set_deploy_setting(self, name: str, key: str, value: str | None):
        self._set_knob("deploy_settings", name, key, value)

    def _knobs(self, table: str, name: str) -> dict[str, str]:
        rows = self.db.execute(f"SELECT key, value FROM {table} WHERE app_id = ?", (self.app_id(name),))
        return {row["key"]: row["value"] for row in rows}

    def _set_knob(self, table: str, name: str, key: str, value: str | None):
        """Store `value` for `key` in a per-app table of knobs (None: back to the default)."""
        with self.transaction() as db:
            app_id = self.app_id(name)
            db.execute(f"DELETE FROM {table} WHERE app_id = ? AND key = ?", (app_id, key))
            if value is not None:
                db.execute(f"INSERT INTO {table} VALUES (?, ?, ?)", (app_id, key, value))

    def set_standby(self, name: str, version: int | None, until: float | None):
        with self.transaction() as db:
            db.execute("UPDATE apps SET standby_version = ?, standby_until = ? WHERE id = ?",
                       (version, until, self.app_id(name)))

    def set_canary(self, name: str, version: int | None, until: float | None):
        with self.transaction() as db:
            db.execute("UPDATE apps SET canary_version = ?, canary_until = ? WHERE id = ?",
                       (version, until, self.app_id(name)))

    # events: what happened to each app, and who did it

    def add_event(self, name: str, user: str, kind: str, message: str):
        with self.transaction() as db:
            db.execute("INSERT INTO events (app_id, time, user, kind, message) VALUES (?, ?, ?, ?, ?)",
                       (self.app_id(name), time.time(), user, kind, message))

    def events(self, name: str, limit: int) -> list[sqlite3.Row]:
        rows = self.db.execute(
            "SELECT * FROM events WHERE app_id = ? ORDER BY id DESC LIMIT ?", (self.app_id(name), limit)
        ).fetchall()
        return rows[::-1]

    # server-wide settings changed by commands (domains:set-global)

    def setting(self, key: str, default: str) -> str:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else row["value"]

    def set_setting(self, key: str, value: str | None):
        """Set `key` (None: remove it, so that its default applies again)."""
        with self.transaction() as db:
            if value is None:
                db.execute("DELETE FROM settings WHERE key = ?", (key,))
            else:
                db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, value))

    # releases

    def add_release(self, name: str, image: str, source: str, config: dict, processes: dict,
                    healthchecks: dict, description: str, build_log: str = "") -> Release:
        with self.transaction() as db:
            app_id = self.app_id(name)
            version = db.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM releases WHERE app_id = ?", (app_id,)
            ).fetchone()[0]
            db.execute(
                "INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'deploying', ?)",
                (app_id, version, image, source, json.dumps(config), json.dumps(processes),
                 json.dumps(healthchecks), description, time.time(), build_log),
            )
        return self.release(name, version)

    def release_images(self) -> set[str]:
        """The images the releases of every app name."""
        return {row["image"] for row in self.db.execute("SELECT DISTINCT image FROM releases")}

    def rename_images(self, name: str, images: dict[str, str]):
        """Give the releases of app `name` that name an image of `images` its new name (after apps:rename)."""
        with self.transaction() as db:
            app_id = self.app_id(name)
            db.executemany("UPDATE releases SET image = ? WHERE app_id = ? AND image = ?",
                           [(new, app_id, old) for old, new in images.items()])

    def set_release_status(self, name: str, version: int, status: str):
        with self.transaction() as db:
            db.execute(
                "UPDATE releases SET status = ? WHERE app_id = ? AND version = ?", (status, self.app_id(name), version)
            )

    def releases(self, name: str) -> list[Release]:
        rows = self.db.execute("SELECT * FROM releases WHERE app_id = ? ORDER BY version", (self.app_id(name),))
        return [_release(row) for row in rows]

    def release(self, name: str, version: int) -> Release:
        row = self.db.execute(
            "SELECT * FROM releases WHERE app_id = ? AND version = ?", (self.app_id(name), version)
        ).fetchone()
        if row is None:
            raise NotFound(f"app {name} has no release v{version}")
        return _release(row)

    def current_release(self, name: str) -> Release | None:
        """The newest release that rolled out successfully: what serves now."""
        row = self.db.execute(
            "SELECT * FROM releases WHERE app_id = ? AND status = 'succeeded' ORDER BY version DESC LIMIT 1",
            (self.app_id(name),),
        ).fetchone()
        return None if row is None else _release(row)

    # the proxy beyond plain HTTP: knobs (proxy:set), Let's Encrypt, extra ports

    def proxy_settings(self, name: str) -> dict[str, str]:
        return self._knobs("proxy_settings", name)

    def set_proxy_setting(self, name: str, key: str, value: str | None):
        self._set_knob("proxy_settings", name, key, value)

    def letsencrypt(self, name: str) -> sqlite3.Row | None:
        """The app's Let's Encrypt row (None: not enabled)."""
        return self.db.execute("SELECT * FROM letsencrypt WHERE app_id = ?", (self.app_id(name),)).fetchone()

    def letsencrypt_apps(self) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT apps.name AS app, letsencrypt.* FROM letsencrypt JOIN apps ON apps.id = app_id ORDER BY apps.name"
        ).fetchall()

    def set_letsencrypt(self, name: str, status: str | None, error: str = "", failures: int = 0,
                        retry_after: float = 0.0):
        """Record the outcome of the last issuance (None: disable Let's Encrypt for the app)."""
        with self.transaction() as db:
            app_id = self.app_id(name)
            db.execute("DELETE FROM letsencrypt WHERE app_id = ?", (app_id,))
            if status is not None:
                db.execute("INSERT INTO letsencrypt VALUES (?, ?, ?, ?, ?, ?)",
                           (app_id, status, error, failures, retry_after, time.time()))

    def ports(self, name: str | None = None) -> list[sqlite3.Row]:
        """Port mappings of one app, or of every app (with its name) if `name` is None."""
        query = "SELECT apps.name AS app, ports.* FROM ports JOIN apps ON apps.id = app_id"
        if name is None:
            return self.db.execute(f"{query} ORDER BY host_port").fetchall()
        return self.db.execute(f"{query} WHERE app_id = ? ORDER BY host_port", (self.app_id(name),)).fetchall()

    def add_port(self, name: str, scheme: str, host_port: int, protocol: str, container_port: int):
        with self.transaction() as db:
            owner = db.execute("SELECT apps.name FROM ports JOIN apps ON apps.id = app_id "
                               "WHERE host_port = ? AND protocol = ?", (host_port, protocol)).fetchone()
            if owner is not None:
                raise InvalidInput(f"host port {host_port}/{protocol} is already used by app {owner['name']}")
            db.execute("INSERT INTO ports VALUES (?, ?, ?, ?, ?)",
                       (host_port, protocol, self.app_id(name), scheme, container_port))

    def remove_port(self, name: str, host_port: int, protocol: str):
        with self.transaction() as db:
            deleted = db.execute("DELETE FROM ports WHERE host_port = ? AND protocol = ? AND app_id = ?",
                                 (host_port, protocol, self.app_id(name))).rowcount
            if not deleted:
                raise NotFound(f"app {name} has no port {host_port}/{protocol}")

    # the web face's secrets: API tokens, one-time login links, browser sessions (hashes only; user None: the server)

    def add_token(self, kind: str, user: str | None, name: str, digest: str, expires: float, limit: int):
        """Store a secret's hash; refused if `user` already has `limit` live ones of `kind`, or an API token of
        that name. Expired secrets of everyone are forgotten first."""
        with self.transaction() as db:
            db.execute("DELETE FROM tokens WHERE expires <= ?", (time.time(),))
            if kind == "api" and db.execute("SELECT 1 FROM tokens WHERE kind = ? AND user IS ? AND name = ?",
                                            (kind, user, name)).fetchone():
                raise InvalidInput(f"a token named {name} exists already: revoke it first (tokens:revoke {name})")
            if db.execute("SELECT COUNT(*) FROM tokens WHERE kind = ? AND user IS ?", (kind, user)).fetchone()[0] >= limit:
                raise InvalidInput(f"at most {limit} live {kind} tokens per user: revoke some first")
            db.execute("INSERT INTO tokens (kind, user, name, hash, created, expires) VALUES (?, ?, ?, ?, ?, ?)",
                       (kind, user, name, digest, time.time(), expires))

    def token(self, kind: str, digest: str, take: bool = False) -> sqlite3.Row | None:
        """The live secret of `kind` with this hash, or None; `take` forgets it in the same transaction (a
        one-time link works once, even for two requests at the same moment)."""
        with self.transaction() as db:
            row = db.execute("SELECT * FROM tokens WHERE kind = ? AND hash = ? AND expires > ?",
                             (kind, digest, time.time())).fetchone()
            if row is not None and take:
                db.execute("DELETE FROM tokens WHERE id = ?", (row["id"],))
        return row

    def tokens(self, kind: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM tokens WHERE kind = ? AND expires > ? ORDER BY user, name",
                               (kind, time.time())).fetchall()

    def remove_token(self, kind: str, user: str | None, name: str):
        with self.transaction() as db:
            if not db.execute("DELETE FROM tokens WHERE kind = ? AND user IS ? AND name = ?", (kind, user, name)).rowcount:
                raise NotFound(f"no token named {name}" + (f" of user {user}" if user else ""))

    def remove_user_tokens(self, user: str):
        """Forget every secret of `user` (their keys were removed: they are locked out of the web too)."""
        with self.transaction() as db:
            db.execute("DELETE FROM tokens WHERE user = ?", (user,))


def _release(row: sqlite3.Row) -> Release:
    return Release(
        version=row["version"],
        image=row["image"],
        source=row["source"],
        config=json.loads(row["config"]),
        processes=json.loads(row["processes"]),
        healthchecks=json.loads(row["healthchecks"]),
        description=row["description"],
        created=row["created"],
        status=row["status"],
        build_log=row["build_log"],
    )
