"""The storage interface is enough for a replicated store: the domain methods over a store that commits by
compare-and-swap, as etcd does (tests/unit/memory_storage.py), answer as they do over SQLite, and a transaction
whose reads changed under it runs again from the start, so that the quota's count-then-create stays race-free."""

import itertools
import types

import pytest

from ponton.core import state as state_package
from ponton.core.context import Ponton
from ponton.core.errors import AccessDenied, InvalidInput, NotFound, PontonError
from ponton.core.settings import Settings
from ponton.core.state import State, transactions
from ponton.features import quota
from tests.unit.memory_storage import MemoryStorage


@pytest.fixture
def clock(monkeypatch):
    """Call it to start the state's clock again: the same times on both stores, so that their records compare."""
    def restart():
        ticks = itertools.count(1000)
        fake = types.SimpleNamespace(time=lambda: float(next(ticks)))
        for module in ("apps", "users", "releases", "proxy"):
            monkeypatch.setattr(getattr(state_package, module), "time", fake)
    return restart


def refused(call, *args) -> str:
    with pytest.raises((InvalidInput, NotFound)) as e:
        call(*args)
    return f"{type(e.value).__name__}: {e.value}"


def history(state: State) -> list:
    """Every kind of change, the refused ones too: what each returned or said."""
    said = [state.add_ssh_key("ops", "SHA256:ops", "key ops"), state.add_ssh_key("dev", "SHA256:dev", "key dev"),
            state.add_ssh_key("dev", "SHA256:dev2", "key dev2"), refused(state.add_ssh_key, "x", "SHA256:dev", "k"),
            state.add_ssh_key("eve", "SHA256:eve", "key eve", "admin")]
    for app, owner in (("shop", "dev"), ("blog", "dev"), ("api", None), ("tmp", "eve")):
        state.create_app(app, owner=owner)
    said += [refused(state.create_app, "shop"), refused(state.rename_app, "shop", "blog"),
             refused(state.rename_app, "nope", "x"), refused(state.config, "nope")]
    state.replace_config("shop", {"B": "2", "A": "1"})
    state.replace_config("shop", {"A": "1", "C": "3"})
    state.set_formation("shop", {"web": 2, "worker": 1})
    state.set_formation("shop", {"worker": 0})
    for app, domain in (("shop", "shop.example.com"), ("shop", "a.example.com"), ("blog", "blog.example.com"),
                        ("tmp", "tmp.example.com")):
        state.add_domain(app, domain)
    said += [refused(state.add_domain, "blog", "shop.example.com"),
             refused(state.remove_domain, "blog", "a.example.com")]
    state.remove_domain("shop", "a.example.com")
    for app, image, status in (("shop", "img:1", "succeeded"), ("shop", "img:2", "failed"), ("shop", "img:3", None),
                               ("blog", "img:b", "succeeded"), ("tmp", "img:t", "succeeded")):
        release = state.add_release(app, image, "src", {"K": image}, {"web": ""}, {"web": []}, f"Deploy {image}", "log")
        said.append(release)
        if status:
            state.set_release_status(app, release.version, status)
    said.append(refused(state.release, "shop", 9))
    for n, app in enumerate(("shop", "blog", "shop", "tmp", "shop")):
        state.add_event(app, "dev", "kind", f"event {n}")
    state.set_instance_status("shop", "web.1", "crash-looping", "exit 1")
    state.set_instance_status("shop", "web.2", "unhealthy")
    state.set_instance_status("shop", "web.2", None)
    state.set_deploy_setting("shop", "strategy", "canary")
    state.set_deploy_setting("blog", "strategy", "blue-green")
    state.set_deploy_setting("blog", "strategy", None)
    state.set_proxy_setting("shop", "client-max-body-size", "10m")
    state.replace_resources("shop", {"": {"limit.memory": "256m"}, "worker": {"limit.cpu": "0.5"}})
    state.set_setting("domain", "a.test")
    state.set_setting("gone", "x")
    state.set_setting("gone", None)
    state.set_letsencrypt("shop", "failed", "rate limited", 2, 500.0)
    state.set_letsencrypt("blog", "valid")
    state.set_letsencrypt("tmp", "valid")
    state.add_port("shop", "udp", 9000, "udp", 7000)
    state.add_port("blog", "https", 8443, "tcp", 5000)
    state.add_port("tmp", "tcp", 9001, "tcp", 7001)
    said += [refused(state.add_port, "blog", "udp", 9000, "udp", 7000), refused(state.remove_port, "blog", 9000, "udp")]
    state.set_access("blog", "ops", True)
    state.set_access("shop", "ops", True)
    state.set_access("shop", "ops", False)
    state.set_quotas("dev", {"apps": "5", "instances": "7"})
    state.set_quotas("dev", {"instances": None})
    state.set_stopped("shop", True)
    state.set_deploy_branch("blog", "live")
    state.set_standby("shop", 1, 99.0)
    state.set_canary("blog", 1, 88.0)
    state.rename_app("blog", "journal")
    state.rename_images("journal", {"img:b": "img:j"})
    state.delete_app("tmp")
    state.create_app("tmp")  # its id again: it starts with nothing of the destroyed one's
    state.remove_ssh_keys("eve")
    said.append(refused(state.remove_ssh_keys, "eve"))
    return said


def everything(state: State) -> dict:
    """What every read of the state says."""
    apps = [app.name for app in state.apps()]
    users = [user.name for user in state.users()]
    return {
        "apps": state.apps(), "ssh_keys": state.ssh_keys(), "users": state.users(),
        "letsencrypt_apps": state.letsencrypt_apps(), "ports": state.ports(), "images": state.release_images(),
        "settings": [state.setting(key, "default") for key in ("domain", "gone")],
        "domain_apps": [state.domain_app(d) for d in ("shop.example.com", "blog.example.com", "tmp.example.com")],
        "by_user": {user: (state.role(user), state.quotas(user), state.owned_apps(user),
                           [state.has_access(app, user) for app in apps]) for user in users},
        "by_app": {app: (state.app(app), state.config(app), state.formation(app), state.domains(app),
                         state.releases(app), state.current_release(app), state.events(app, 2),
                         state.events(app, 100), state.instance_statuses(app), state.deploy_settings(app),
                         state.proxy_settings(app), state.resources(app), state.letsencrypt(app), state.ports(app),
                         state.granted(app), state.deploy_branch(app)) for app in apps},
    }


def test_a_compare_and_swap_store_answers_as_sqlite_does(tmp_path, clock):
    clock()
    on_sqlite = State(tmp_path / "state")
    sqlite_said, sqlite_reads = history(on_sqlite), everything(on_sqlite)
    on_sqlite.close()
    clock()
    store = MemoryStorage()
    assert history(State(store=store)) == sqlite_said
    assert everything(State(store=store)) == sqlite_reads
    assert sqlite_reads["by_app"]["journal"][0].canary_version == 1  # (what was compared is what was done)
    assert store.conflicts == 0


def test_a_transaction_whose_reads_changed_runs_again_and_the_quota_holds(tmp_path):
    """Alice may have one app: her two creates count at once, then the other one commits first."""
    store = MemoryStorage()
    ours, theirs = (Ponton(Settings(state_dir=tmp_path / "state")) for _ in range(2))
    ours.state, theirs.state = State(store=store), State(store=store)
    ours.state.add_ssh_key("admin", "SHA256:admin", "key admin")
    ours.state.add_ssh_key("alice", "SHA256:alice", "key alice")
    ours.state.set_quotas("alice", {"apps": "1"})

    def the_other_create_commits_first():
        store.before_commit = None
        quota.create_app(theirs, "theirs", "alice")

    store.before_commit = the_other_create_commits_first
    with pytest.raises(AccessDenied, match="at most 1 apps and has 1"):
        quota.create_app(ours, "ours", "alice")  # counted 0, conflicted, counted again: 1
    assert store.conflicts == 1
    assert ours.state.owned_apps("alice") == ["theirs"]


def test_a_conflict_applies_nothing_of_the_attempt(tmp_path):
    store = MemoryStorage()
    state, other = State(store=store), State(store=store)
    state.create_app("app")
    attempts = []

    def change():
        attempts.append(state.config("app"))
        state.replace_config("app", {**state.config("app"), "MINE": str(len(attempts))})

    def another_writer_first():
        store.before_commit = None
        other.replace_config("app", {"THEIRS": "1"})

    store.before_commit = another_writer_first
    state.atomically(change)
    assert attempts == [{}, {"THEIRS": "1"}]
    assert state.config("app") == {"MINE": "2", "THEIRS": "1"}


def test_a_change_that_always_conflicts_gives_up_with_one_line(monkeypatch):
    store = MemoryStorage()
    state, other = State(store=store), State(store=store)
    state.create_app("app")
    bumps = itertools.count()

    def always_another_writer():
        store.before_commit = None
        other.set_stopped("app", next(bumps) % 2 == 0)  # the app's record, which the change read
        store.before_commit = always_another_writer

    monkeypatch.setattr(transactions, "ATTEMPTS", 3)
    store.before_commit = always_another_writer
    with pytest.raises(PontonError, match="^the state changed under this change 3 times in a row: try again$"):
        state.set_formation("app", {"worker": 1})
    store.before_commit = None
    assert state.formation("app") == {"web": 1} and next(bumps) == 3


def test_a_read_never_writes():
    state = State(store=MemoryStorage())
    with pytest.raises(RuntimeError, match="inside a read"):
        state._read(lambda tx: state.set_setting("k", "v"))
    assert state.setting("k", "none") == "none"
