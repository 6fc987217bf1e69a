"""access: who may run what (roles, owners, grants), checked before a command runs; denials are events."""

import pytest

from ponton.core.context import Ponton
from ponton.core.errors import AccessDenied, NotFound
from ponton.core.lock import app_lock
from ponton.core.settings import Settings
from ponton.features import access


@pytest.fixture
def p(tmp_path, monkeypatch):
    monkeypatch.delenv("PONTON_USER", raising=False)
    ponton = Ponton(Settings(state_dir=tmp_path / "state"))
    for name, fingerprint in [("root-admin", "fp0"), ("alice", "fp1"), ("bob", "fp2")]:
        ponton.state.add_ssh_key(name, fingerprint, f"ssh-ed25519 {fingerprint}")
    ponton.state.create_app("shop", owner="alice")
    ponton.state.create_app("admins-app")
    yield ponton
    ponton.state.close()


def as_user(monkeypatch, user):
    monkeypatch.setenv("PONTON_USER", user)


def denials(p, app):
    return [row.message for row in p.state.events(app, 100) if row.kind == "denied"]


def test_first_user_is_admin_and_later_ones_are_users(p):
    assert [(row.name, row.role) for row in p.state.users()] == [
        ("alice", "user"), ("bob", "user"), ("root-admin", "admin")]


def test_a_role_belongs_to_the_user_and_can_change(p):
    assert p.state.add_ssh_key("bob", "fp3", "ssh-ed25519 fp3") == "user"
    assert p.state.add_ssh_key("bob", "fp4", "ssh-ed25519 fp4", role="admin") == "admin"
    assert p.state.role("bob") == "admin"


def test_local_use_is_admin(p):
    access.check(p, "ssh-keys:add", {})
    access.check(p, "config:set", {"app": "shop"})
    assert access.visible_apps(p) == ["admins-app", "shop"]


def test_owner_may_use_their_app(p, monkeypatch):
    as_user(monkeypatch, "alice")
    for command in ["config:set", "ps:scale", "apps:destroy", "acl:add", "git-receive-pack", "metrics"]:
        access.check(p, command, {"app": "shop"})
    assert access.visible_apps(p) == ["shop"]


@pytest.mark.parametrize("command", ["config:show", "config:set", "ps:scale", "apps:info", "git-receive-pack",
                                     "git-upload-pack", "apps:destroy", "acl:add", "events", "logs"])
def test_others_are_denied_and_the_denial_is_recorded(p, monkeypatch, command):
    as_user(monkeypatch, "bob")
    with pytest.raises(AccessDenied, match="^access denied: "):
        access.check(p, command, {"app": "shop"})
    [message] = denials(p, "shop")
    assert command in message and "bob" in message
    assert access.visible_apps(p) == []


def test_rename_is_checked_on_the_old_name(p, monkeypatch):
    as_user(monkeypatch, "bob")
    with pytest.raises(AccessDenied):
        access.check(p, "apps:rename", {"old": "shop", "new": "mine"})


def test_a_grant_opens_the_app_but_not_what_is_the_owners(p, monkeypatch):
    p.state.set_access("shop", "bob", True)
    as_user(monkeypatch, "bob")
    for command in ["config:set", "config:get", "ps:scale", "git-receive-pack", "acl:list"]:
        access.check(p, command, {"app": "shop"})
    for command in ["apps:destroy", "apps:rename", "acl:add", "acl:remove"]:
        with pytest.raises(AccessDenied, match="only the owner"):
            access.check(p, command, {"app": "shop", "old": "shop"})
    assert access.visible_apps(p) == ["shop"]


@pytest.mark.parametrize("command, params", [
    ("ssh-keys:add", {"name": "mallory"}), ("domains:set-global", {"domain": "x.org"}), ("report", {}),
    ("quota:set", {"user": "bob"}), ("some-plugin:thing", {}),
    ("resource:limit", {"app": "shop"}), ("git:from-image", {"app": "shop", "image": "other"}),
    ("ports:add", {"app": "shop", "mappings": ("tcp:2222:22",)}),
])
def test_server_wide_and_admin_commands_are_for_admins(p, monkeypatch, command, params):
    as_user(monkeypatch, "alice")
    with pytest.raises(AccessDenied, match="for admins only"):
        access.check(p, command, params)


def test_open_commands_and_new_apps(p, monkeypatch):
    as_user(monkeypatch, "bob")
    for command in ["apps:list", "apps:create", "quota:report"]:
        access.check(p, command, {"app": "new"})
    access.check(p, "git-receive-pack", {"app": "not-yet"})  # a push creates it, for bob


def test_admin_user_may_do_everything(p, monkeypatch):
    as_user(monkeypatch, "root-admin")
    access.check(p, "apps:destroy", {"app": "shop"})
    access.check(p, "ssh-keys:add", {})
    assert access.visible_apps(p) == ["admins-app", "shop"]


def test_guard_checks_before_the_command_runs(p, monkeypatch):
    import click

    ran = []

    @click.command("config:set")
    @click.argument("app")
    def command(app):
        ran.append(app)

    access.guard(access.guard(command))  # wrapping twice checks once
    as_user(monkeypatch, "bob")
    with pytest.raises(AccessDenied):
        command.main(["shop"], standalone_mode=False, obj=p)
    assert ran == [] and len(denials(p, "shop")) == 1
    p.state.set_access("shop", "bob", True)
    command.main(["shop"], standalone_mode=False, obj=p)
    assert ran == ["shop"]


def test_an_older_install_keeps_working(tmp_path):
    """Keys added before roles: the first is admin, and every user keeps access to the apps they could use."""
    import sqlite3

    from ponton.core.state import State
    from ponton.core.state import migrations as state_module

    path = tmp_path / "old"
    path.mkdir()
    db = sqlite3.connect(path / "ponton.db")
    db.executescript("".join(state_module.MIGRATIONS[:5]) + "PRAGMA user_version = 5;")
    db.execute("INSERT INTO apps (name, created) VALUES ('old', 1.0)")
    db.executemany("INSERT INTO ssh_keys VALUES (?, ?, ?, ?)",
                   [("fp1", "ops", "k1", 1.0), ("fp2", "dev", "k2", 2.0), ("fp3", "dev", "k3", 3.0)])
    db.commit()
    db.close()
    s = State(path)
    assert [(row.name, row.role) for row in s.users()] == [("dev", "user"), ("ops", "admin")]
    assert s.app("old").owner is None and s.granted("old") == ["dev"]
    s.close()


def test_only_commands_that_create_an_app_pass_for_one_that_does_not_exist(p, monkeypatch):
    """Any other would find, when it reads the app, one that someone else created in the meantime."""
    as_user(monkeypatch, "bob")
    for command in ("config:show", "config:set", "apps:info", "logs", "domains:add"):
        with pytest.raises(NotFound, match="^app new does not exist$"):
            access.check(p, command, {"app": "new"})
    for command in access.CREATES - access.ADMIN_ONLY:
        access.check(p, command, {"app": "new"})  # it creates the app for bob
    access.check(p, "apps:create", {"app": "new"})


def test_access_is_checked_again_once_the_lock_is_held(p, monkeypatch):
    """bob's push to `shop`, checked while shop did not exist, waits for its lock; meanwhile alice made shop hers.
    Under the lock it is refused, and the lock is released again."""
    as_user(monkeypatch, "bob")
    p.recheck = lambda: access.check(p, "git-receive-pack", {"app": "shop"})
    with pytest.raises(AccessDenied, match="user bob has no access to app shop"):
        with p.locked("shop"):
            raise AssertionError("bob got alice's app")
    p.state.set_access("shop", "bob", True)
    with p.locked("shop"), p.locked("shop"):  # a lock held already is not taken again (no deadlock)
        pass
    with app_lock(p.settings.state_dir, "shop", wait=False) as free:
        assert free  # released
