"""state: the SQLite file, its migrations and transactions, and what each table means."""

import sqlite3

import pytest

from ponton.core.errors import InvalidInput, NotFound
from ponton.core.state import State
from ponton.core.state import migrations as state_module


@pytest.fixture
def state(tmp_path):
    s = State(tmp_path / "state")
    yield s
    s.close()


def add_release(state, app="app", image="img:1", config=None, status=None):
    release = state.add_release(app, image, "sha1", config or {}, {"web": ""}, {}, "Deploy")
    if status:
        state.set_release_status(app, release.version, status)
    return release


def test_migrations_set_user_version_and_wal(tmp_path, state):
    assert state.store.db.execute("PRAGMA user_version").fetchone()[0] == len(state_module.MIGRATIONS)
    assert state.store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert state.store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert (tmp_path / "state" / "ponton.db").is_file()


def test_reopening_keeps_data_and_version(tmp_path, state):
    state.create_app("app")
    again = State(tmp_path / "state")
    assert [row.name for row in again.apps()] == ["app"]
    assert again.store.db.execute("PRAGMA user_version").fetchone()[0] == len(state_module.MIGRATIONS)


def test_migrates_an_old_database(tmp_path):
    """A database at version 1 (the first release of ponton) gets the later tables and keeps its rows."""
    path = tmp_path / "state"
    path.mkdir()
    db = sqlite3.connect(path / "ponton.db")
    db.executescript(state_module.MIGRATIONS[0] + "PRAGMA user_version = 1;")
    db.execute("INSERT INTO apps (name, created) VALUES ('old', 1.0)")
    db.commit()
    db.close()
    s = State(path)
    assert s.store.db.execute("PRAGMA user_version").fetchone()[0] == len(state_module.MIGRATIONS)
    assert s.app("old").deploy_branch is None
    s.add_event("old", "me", "kind", "message")
    assert [row.message for row in s.events("old", 10)] == ["message"]


def test_transaction_rolls_back_everything_on_error(state):
    state.create_app("app")

    def change():
        state.create_app("other")
        state.replace_config("app", {"K": "V"})
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        state.atomically(change)
    assert [row.name for row in state.apps()] == ["app"]
    assert state.config("app") == {}
    assert not state.store.db.in_transaction


def test_a_transaction_interrupted_before_its_block_began_is_rolled_back_by_the_next(state):
    """A signal (KeyboardInterrupt) right after the transaction began, before the caller's `with` block ran: the
    block's exit never runs, and the interrupted command's undo must still be able to write."""
    state.create_app("app")
    interrupted = state.store.transaction()
    interrupted.__enter__()  # and never __exit__: the traceback keeps it alive
    state.store.db.execute("INSERT INTO config SELECT id, 'HALF', 'done' FROM apps")
    state.replace_config("app", {"K": "V"})
    assert state.config("app") == {"K": "V"}
    assert not state.store.db.in_transaction
    with state.store.transaction():  # collected at last, the interrupted one rolls back nothing of a later one
        state.store.db.execute("INSERT INTO config SELECT id, 'LATER', 'kept' FROM apps")
        interrupted.__exit__(GeneratorExit, GeneratorExit(), None)
    assert state.config("app") == {"K": "V", "LATER": "kept"}


def test_failed_write_changes_nothing(state):
    state.create_app("app")
    state.replace_config("app", {"A": "1"})
    with pytest.raises(sqlite3.ProgrammingError):
        state.replace_config("app", {"B": "2", "C": object()})  # the second row cannot be stored
    assert state.config("app") == {"A": "1"}


def test_create_app_has_one_web_and_refuses_duplicates(state):
    state.create_app("app")
    assert state.formation("app") == {"web": 1}
    assert state.app("app").stopped == 0
    with pytest.raises(InvalidInput, match="^app app already exists$"):
        state.create_app("app")
    assert len(state.apps()) == 1


def test_unknown_app_is_not_found(state):
    for call in (state.app, state.config, state.domains, state.releases, state.current_release, state.delete_app):
        with pytest.raises(NotFound, match="^app nope does not exist$"):
            call("nope")


def test_release_numbering_per_app(state):
    state.create_app("app")
    state.create_app("other")
    assert [add_release(state).version for _ in range(3)] == [1, 2, 3]
    assert add_release(state, "other").version == 1
    release = state.release("app", 2)
    assert (release.label, release.status, release.image, release.processes) == ("v2", "deploying", "img:1", {"web": ""})
    with pytest.raises(NotFound, match="^app app has no release v9$"):
        state.release("app", 9)


def test_release_keeps_config_snapshot(state):
    state.create_app("app")
    state.replace_config("app", {"A": "line1\nline2", "B": "ü $x 'q'"})
    release = add_release(state, config=state.config("app"))
    state.replace_config("app", {})
    assert state.release("app", release.version).config == {"A": "line1\nline2", "B": "ü $x 'q'"}


def test_current_release_is_newest_succeeded(state):
    state.create_app("app")
    assert state.current_release("app") is None
    add_release(state, image="one", status="succeeded")
    add_release(state, image="two", status="succeeded")
    add_release(state, image="three", status="failed")
    add_release(state, image="four")  # still deploying
    current = state.current_release("app")
    assert (current.version, current.image) == (2, "two")
    assert [r.status for r in state.releases("app")] == ["succeeded", "succeeded", "failed", "deploying"]


def test_domain_belongs_to_one_app(state):
    state.create_app("a")
    state.create_app("b")
    state.add_domain("a", "example.com")
    with pytest.raises(InvalidInput, match="^domain example.com is already used by app a$"):
        state.add_domain("b", "example.com")
    assert state.domains("a") == ["example.com"]
    assert state.domains("b") == []
    with pytest.raises(NotFound, match="^app b has no domain example.com$"):
        state.remove_domain("b", "example.com")
    state.remove_domain("a", "example.com")
    state.add_domain("b", "example.com")
    assert state.domains("b") == ["example.com"]


def test_rename_keeps_everything(state):
    state.create_app("old")
    state.replace_config("old", {"K": "V"})
    state.add_domain("old", "example.com")
    state.set_formation("old", {"web": 3, "worker": 1})
    add_release(state, "old", status="succeeded")
    state.rename_app("old", "new")
    assert not state.app_exists("old")
    assert state.config("new") == {"K": "V"}
    assert state.domains("new") == ["example.com"]
    assert state.formation("new") == {"web": 3, "worker": 1}
    assert state.current_release("new").version == 1


def test_rename_onto_existing_app_is_refused(state):
    state.create_app("a")
    state.create_app("b")
    with pytest.raises(InvalidInput, match="^app b already exists$"):
        state.rename_app("a", "b")
    with pytest.raises(NotFound):
        state.rename_app("nope", "c")
    assert [row.name for row in state.apps()] == ["a", "b"]


def test_delete_cascades(state):
    state.create_app("app")
    state.create_app("keep")
    state.replace_config("app", {"K": "V"})
    state.add_domain("app", "example.com")
    add_release(state)
    state.add_event("app", "me", "create", "created")
    state.set_instance_status("app", "web.1", "crash-looping")
    state.set_deploy_setting("app", "strategy", "canary")
    state.replace_config("keep", {"K": "kept"})
    state.delete_app("app")
    tables = [row[0] for row in state.store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
              if any(column[1] == "app_id" for column in state.store.db.execute(f"PRAGMA table_info({row[0]})"))]
    assert {"config", "formation", "domains", "releases", "events", "instance_status"} <= set(tables)
    for table in tables:
        rows = state.store.db.execute(
            f"SELECT COUNT(*) FROM {table} WHERE app_id NOT IN (SELECT id FROM apps)").fetchone()
        assert rows[0] == 0, table
    assert state.config("keep") == {"K": "kept"}
    state.create_app("app")  # the name is free again, with a fresh history
    assert state.config("app") == {} and state.domains("app") == [] and add_release(state).version == 1


def test_formation_upserts(state):
    state.create_app("app")
    state.set_formation("app", {"worker": 2})
    state.set_formation("app", {"web": 0, "worker": 5})
    assert state.formation("app") == {"web": 0, "worker": 5}


def test_settings_and_events(state):
    assert state.setting("domain", "default.test") == "default.test"
    state.set_setting("domain", "a.test")
    state.set_setting("domain", "b.test")
    assert state.setting("domain", "default.test") == "b.test"
    state.create_app("app")
    for n in range(5):
        state.add_event("app", "me", "kind", f"m{n}")
    assert [row.message for row in state.events("app", 3)] == ["m2", "m3", "m4"]


def test_instance_status_set_and_clear(state):
    state.create_app("app")
    state.set_instance_status("app", "web.1", "crash-looping", "exit 1")
    assert {k: (v.status, v.detail) for k, v in state.instance_statuses("app").items()} == {
        "web.1": ("crash-looping", "exit 1")}
    state.set_instance_status("app", "web.1", None)
    assert state.instance_statuses("app") == {}
