"""quota: apps and instances per user, set by an admin, with a server default."""

import dataclasses

import pytest

from ponton import quota
from ponton.context import Ponton
from ponton.errors import AccessDenied, InvalidInput, PontonError
from ponton.settings import Settings


@pytest.fixture
def p(tmp_path):
    ponton = Ponton(Settings(state_dir=tmp_path / "state", default_quota="apps=2 instances=3"))
    ponton.state.add_ssh_key("admin", "fp0", "k0")
    ponton.state.add_ssh_key("alice", "fp1", "k1")
    yield ponton
    ponton.state.db.close()


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
    assert [row["kind"] for row in p.state.events("a1", 10)] == ["denied"]


def test_scaling_down_is_always_allowed(p):
    p.state.create_app("a1", owner="alice")
    p.state.set_formation("a1", {"web": 6})  # set before the quota was lowered
    quota.check_instances(p, "a1", {"web": 5})


def test_a_quota_of_5000_digits_is_refused_in_one_short_line():
    with pytest.raises(InvalidInput) as e:
        quota.parse((f"apps={'9' * 5000}",))
    assert str(e.value).startswith("invalid quota 'apps=999") and len(str(e.value)) < 150
