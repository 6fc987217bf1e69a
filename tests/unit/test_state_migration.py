"""An existing install's database, at the schema before the storage interface, is carried over on first open:
every row of every table reads back through the domain methods; and each SQLite table is the collection the
storage interface declares."""

import sqlite3

from ponton.core.state import App, Event, InstanceStatus, LetsEncrypt, Port, Release, SshKey, State, User
from ponton.core.state.migrations import MIGRATIONS
from ponton.core.state.storage import COLLECTIONS

BEFORE = 7  # the schema version before this one: events numbered across apps, keyed by their number alone

OLD_ROWS = {
    "apps": [(1, "shop", 10.0, 1, "live", 2, 99.5, None, None, "dev"),
             (2, "blog", 11.0, 0, None, None, None, 3, 88.5, None)],
    "config": [(1, "B", "2"), (1, "A", "line1\nline2"), (2, "K", "ü $x 'q'")],
    "formation": [(1, "web", 2), (1, "worker", 1), (2, "web", 1)],
    "domains": [("shop.example.com", 1), ("www.shop.example.com", 1), ("blog.example.com", 2)],
    "releases": [(1, 1, "img:1", "sha1", '{"A": "1"}', '{"web": ""}', "{}", "Deploy sha1", 12.0, "succeeded", "log 1"),
                 (1, 2, "img:2", "sha2", "{}", '{"web": "serve"}', '{"web": [{"path": "/up"}]}', "Deploy sha2",
                  13.0, "failed", ""),
                 (2, 1, "img:b", "img:b", "{}", '{"web": ""}', "{}", "Deploy image img:b", 14.0, "succeeded", "")],
    "settings": [("domain", "ponton.example.com"), ("letsencrypt_email", "ops@example.com")],
    "ssh_keys": [("SHA256:ops", "ops", "ssh-ed25519 AAAA ops", 1.0), ("SHA256:dev", "dev", "ssh-ed25519 AAAA dev", 2.0),
                 ("SHA256:dev2", "dev", "ssh-ed25519 AAAA dev2", 3.0)],
    "instance_status": [(1, "web.1", "crash-looping", "exit 1", 15.0)],
    # numbered across apps: shop has 1, 3 and 4, blog has 2
    "events": [(1, 1, 20.0, "dev", "create", "created shop"), (2, 2, 21.0, "ops", "create", "created blog"),
               (3, 1, 22.0, "dev", "deploy", "v1"), (4, 1, 23.0, "watchdog", "oom", "web.1 ran out of memory")],
    "deploy_settings": [(1, "strategy", "blue-green"), (2, "strategy", "canary")],
    "users": [("ops", "admin", 1.0), ("dev", "user", 2.0)],
    "app_access": [(2, "dev")],
    "quotas": [("dev", "apps", "5"), ("dev", "instances", "unlimited")],
    "resources": [(1, "", "limit.memory", "256m"), (1, "worker", "limit.cpu", "0.5")],
    "proxy_settings": [(1, "client-max-body-size", "10m")],
    "letsencrypt": [(1, "failed", "rate limited", 2, 500.0, 16.0), (2, "valid", "", 0, 0.0, 17.0)],
    "ports": [(9000, "udp", 1, "udp", 7000), (8443, "tcp", 2, "https", 5000)],
}


def old_install(path):
    path.mkdir()
    db = sqlite3.connect(path / "ponton.db")
    db.executescript("".join(MIGRATIONS[:BEFORE]) + f"PRAGMA user_version = {BEFORE};")
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == set(OLD_ROWS), "a row in every table of the old schema"
    for table, rows in OLD_ROWS.items():
        db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    db.commit()
    db.close()


def test_an_existing_install_is_carried_over_with_every_row(tmp_path):
    old_install(tmp_path / "state")
    state = State(tmp_path / "state")
    assert state.store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)

    assert state.apps() == [
        App("blog", 11.0, None, False, None, None, None, 3, 88.5),
        App("shop", 10.0, "dev", True, "live", 2, 99.5, None, None),
    ]
    assert state.app("shop") == state.apps()[1] and state.app_exists("blog") and state.app_id("blog") == 2
    assert state.config("shop") == {"A": "line1\nline2", "B": "2"} and state.config("blog") == {"K": "ü $x 'q'"}
    assert state.formation("shop") == {"web": 2, "worker": 1} and state.formation("blog") == {"web": 1}
    assert state.domains("shop") == ["shop.example.com", "www.shop.example.com"]
    assert state.domain_app("blog.example.com") == "blog" and state.domain_app("nope.example.com") is None
    assert state.deploy_branch("shop") == "live" and state.deploy_branch("blog") is None

    assert state.releases("shop") == [
        Release(1, "img:1", "sha1", {"A": "1"}, {"web": ""}, {}, "Deploy sha1", 12.0, "succeeded", "log 1"),
        Release(2, "img:2", "sha2", {}, {"web": "serve"}, {"web": [{"path": "/up"}]}, "Deploy sha2", 13.0, "failed"),
    ]
    assert state.release("shop", 2) == state.releases("shop")[1]
    assert state.current_release("shop").version == 1 and state.current_release("blog").image == "img:b"
    assert state.release_images() == {"img:1", "img:2", "img:b"}

    assert state.events("shop", 10) == [Event(20.0, "dev", "create", "created shop"),
                                         Event(22.0, "dev", "deploy", "v1"),
                                         Event(23.0, "watchdog", "oom", "web.1 ran out of memory")]
    assert state.events("shop", 1) == [Event(23.0, "watchdog", "oom", "web.1 ran out of memory")]
    assert state.events("blog", 10) == [Event(21.0, "ops", "create", "created blog")]
    assert state.instance_statuses("shop") == {"web.1": InstanceStatus("web.1", "crash-looping", "exit 1", 15.0)}
    assert state.instance_statuses("blog") == {}

    assert state.ssh_keys() == [SshKey("SHA256:dev", "dev", "ssh-ed25519 AAAA dev", 2.0),
                                SshKey("SHA256:dev2", "dev", "ssh-ed25519 AAAA dev2", 3.0),
                                SshKey("SHA256:ops", "ops", "ssh-ed25519 AAAA ops", 1.0)]
    assert state.users() == [User("dev", "user", 2.0), User("ops", "admin", 1.0)]
    assert (state.role("ops"), state.role("dev"), state.role("nobody")) == ("admin", "user", None)
    assert state.owned_apps("dev") == ["shop"] and state.owned_apps("ops") == []
    assert state.granted("blog") == ["dev"] and state.granted("shop") == []
    assert state.has_access("shop", "dev") and state.has_access("blog", "dev") and not state.has_access("shop", "ops")
    assert state.quotas("dev") == {"apps": "5", "instances": "unlimited"} and state.quotas("ops") == {}

    assert state.deploy_settings("shop") == {"strategy": "blue-green"} and state.deploy_settings("blog") == {
        "strategy": "canary"}
    assert state.proxy_settings("shop") == {"client-max-body-size": "10m"} and state.proxy_settings("blog") == {}
    assert state.resources("shop") == {"": {"limit.memory": "256m"}, "worker": {"limit.cpu": "0.5"}}
    assert state.setting("domain", "default") == "ponton.example.com"
    assert state.setting("letsencrypt_email", "") == "ops@example.com" and state.setting("nope", "d") == "d"

    assert state.letsencrypt("shop") == LetsEncrypt("shop", "failed", "rate limited", 2, 500.0, 16.0)
    assert state.letsencrypt_apps() == [LetsEncrypt("blog", "valid", "", 0, 0.0, 17.0), state.letsencrypt("shop")]
    assert state.ports() == [Port("blog", "https", 8443, "tcp", 5000), Port("shop", "udp", 9000, "udp", 7000)]
    assert state.ports("shop") == [Port("shop", "udp", 9000, "udp", 7000)]
    state.close()


def test_a_carried_over_install_goes_on_where_it_was(tmp_path):
    """New events follow the app's last number, new apps the last id, and a destroyed app takes all it had."""
    old_install(tmp_path / "state")
    state = State(tmp_path / "state")
    state.add_event("blog", "ops", "scale", "web=2")
    assert [event.message for event in state.events("blog", 10)] == ["created blog", "web=2"]
    assert state.store.db.execute("SELECT id FROM events WHERE app_id = 2 ORDER BY id").fetchall() == [(2,), (3,)]
    state.create_app("new")
    assert state.app_id("new") == 3 and state.formation("new") == {"web": 1}
    assert state.add_release("shop", "img:3", "sha3", {}, {"web": ""}, {}, "Deploy sha3").version == 3
    state.delete_app("shop")
    for table, declared in COLLECTIONS.items():
        if "app_id" in declared.columns:
            assert state.store.db.execute(f"SELECT COUNT(*) FROM {table} WHERE app_id = 1").fetchone()[0] == 0, table
    assert state.domain_app("shop.example.com") is None and state.ports() == [Port("blog", "https", 8443, "tcp", 5000)]
    state.close()


def test_each_table_is_the_collection_the_storage_interface_declares(tmp_path):
    state = State(tmp_path / "state")
    db = state.store.db
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == set(COLLECTIONS)
    for table, declared in COLLECTIONS.items():
        columns = db.execute(f"PRAGMA table_info({table})").fetchall()  # (cid, name, type, notnull, default, pk)
        assert {column[1] for column in columns} == set(declared.columns), table
        key = [column[1] for column in sorted(columns, key=lambda column: column[5]) if column[5]]
        assert tuple(key) == declared.key, table
    state.close()

