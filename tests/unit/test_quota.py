"""quota: apps and instances per user, set by an admin, with a server default."""

import dataclasses

import pytest

from ponton.core.context import Ponton
from ponton.core.errors import AccessDenied, InvalidInput, PontonError
from ponton.core.settings import Settings
from ponton.features import quota


@pytest.fixture
def p(tmp_path):
    ponton = Ponton(Settings(state_dir=tmp_path / "state", default_quota="apps=2 instances=3"))
    ponton.state.add_ssh_key("admin", "fp0", "k0")
    ponton.state.add_ssh_key("alice", "fp1", "k1")
    yield ponton
    ponton.state.close()


def test_parse():
    assert quota.parse(["apps=3", "instances=unlimited"]) == {"apps": "3", "instances": "unlimited"}
    assert quota.parse(["apps=default"]) == {"apps": None}
    for bad in [[], ["apps"], ["apps=-1"], ["apps=x"], ["cpus=2"], ["apps=1e3"], ["apps=999999"]]:
        with pytest.raises(InvalidInput):
            quota.parse(bad)
    with pytest.raises(InvalidInput):
        quota.parse(["apps=default"], allow_default=False)


def test_limits_fall_back_to_the_server_default(p):
    assert quota.limits(p, "alice") == {"apps": 2, "instances": 3}
    p.state.set_quotas("alice", {"apps": "5"})
    assert quota.limits(p, "alice") == {"apps": 5, "instances": 3}
    p.state.set_quotas("alice", {"apps": None, "instances": "unlimited"})
    assert quota.limits(p, "alice") == {"apps": 2, "instances": None}


def test_a_bad_default_names_the_setting(p):
    p.settings = dataclasses.replace(p.settings, default_quota="apps=many")
    with pytest.raises(PontonError, match="setting default_quota"):
        quota.limits(p, "alice")


def test_new_apps_within_the_quota(p):
    for app in ["a1", "a2"]:
        quota.check_new_app(p, "alice")
        p.state.create_app(app, owner="alice")
    with pytest.raises(AccessDenied, match="at most 2 apps"):
        quota.check_new_app(p, "alice")
    quota.check_new_app(p, "admin")  # admins have no quota
    quota.check_new_app(p, None)  # nor the server itself


def test_instances_count_every_app_of_the_owner(p):
    p.state.create_app("a1", owner="alice")
    p.state.create_app("a2", owner="alice")  # web=1 each: 2 of 3
    quota.check_instances(p, "a1", {"web": 2})
    with pytest.raises(AccessDenied, match="at most 3 instances in all, this would make 4"):
        quota.check_instances(p, "a1", {"worker": 2})
    assert [row.kind for row in p.state.events("a1", 10)] == ["denied"]


def test_scaling_down_is_always_allowed(p):
    p.state.create_app("a1", owner="alice")
    p.state.set_formation("a1", {"web": 6})  # set before the quota was lowered
    quota.check_instances(p, "a1", {"web": 5})


def race(p, attempt, callers: int = 8) -> list[Exception | None]:
    """Run `attempt(ponton, n)` in `callers` threads (n: 0, 1, ...) at once, each with its own connection to p's state, while the
    database's write lock is held elsewhere until every one of them waits for it: whatever they read before
    asking for the lock, they all read before any of them wrote. The outcome of each: None or its error."""
    import threading

    from ponton.core.state import State

    opened, go = threading.Barrier(callers + 1), threading.Event()
    begun = [threading.Event() for _ in range(callers)]
    outcomes: list[Exception | None] = [None] * callers

    def caller(n: int):
        ponton = Ponton(p.settings)
        ponton.state.store.db.set_trace_callback(lambda sql: sql.startswith("BEGIN IMMEDIATE") and begun[n].set())
        opened.wait(timeout=30)
        go.wait(timeout=30)
        try:
            attempt(ponton, n)
        except Exception as e:
            outcomes[n] = e
        finally:
            ponton.state.close()

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(callers)]
    for thread in threads:
        thread.start()
    opened.wait(timeout=30)
    holder = State(p.settings.state_dir)
    with holder.store.transaction():
        go.set()
        assert all(event.wait(timeout=30) for event in begun), "every caller asks for the write lock"
    holder.close()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_creates_at_once_never_pass_the_quota_together(p, monkeypatch):
    monkeypatch.setenv("PONTON_USER", "alice")
    p.state.set_quotas("alice", {"apps": "1"})
    outcomes = race(p, lambda ponton, n: quota.create_app(ponton, f"a{n}", "alice"))
    assert outcomes.count(None) == 1, outcomes
    assert all(isinstance(e, AccessDenied) and "at most 1 apps and has 1" in str(e) for e in outcomes if e)
    assert p.state.owned_apps("alice") == [f"a{outcomes.index(None)}"]


def test_scaling_apps_at_once_never_passes_the_instances_quota_together(p):
    p.state.set_quotas("alice", {"instances": "4"})
    apps = [f"a{n}" for n in range(4)]
    for app in apps:
        p.state.create_app(app, owner="alice")  # web=1 each: 4 of 4
    p.state.set_quotas("alice", {"instances": "6"})  # room for 2 more
    outcomes = race(p, lambda ponton, n: quota.set_formation(ponton, apps[n], {"web": 3}), callers=4)
    assert outcomes.count(None) == 1, outcomes
    assert all(isinstance(e, AccessDenied) and "at most 6 instances" in str(e) for e in outcomes if e)
    assert sum(sum(p.state.formation(app).values()) for app in apps) == 6


def test_a_quota_of_5000_digits_is_refused_in_one_short_line():
    with pytest.raises(InvalidInput) as e:
        quota.parse((f"apps={'9' * 5000}",))
    assert str(e.value).startswith("invalid quota 'apps=999") and len(str(e.value)) < 150
