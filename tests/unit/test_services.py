"""Backing services, the pure parts: names, URLs, backup ids and retention, schedules, the container's spec, who
may do what, and their records in the state."""

import dataclasses
import datetime

import pytest

import plugins.postgres
import plugins.redis
from plugins import services
from plugins.services import backups, container, owners
from ponton.core.context import Ponton
from ponton.core.errors import AccessDenied, InvalidInput, NotFound
from ponton.core.settings import Settings
from ponton.features import access, quota

POSTGRES, REDIS = plugins.postgres.KIND, plugins.redis.KIND


@pytest.fixture
def p(tmp_path, monkeypatch):
    monkeypatch.delenv("PONTON_USER", raising=False)
    ponton = Ponton(Settings(state_dir=tmp_path / "state"))
    for name, fingerprint in [("root-admin", "fp0"), ("alice", "fp1"), ("bob", "fp2"), ("carol", "fp3")]:
        ponton.state.add_ssh_key(name, fingerprint, f"ssh-ed25519 {fingerprint}")
    ponton.state.create_app("shop", owner="alice")
    ponton.state.create_service("postgres", "db", "alice", "secret", backups.KEEP)
    yield ponton
    ponton.state.close()


@pytest.mark.parametrize("name", ["db", "a", "my-db-2", "a" * 30])
def test_good_names(name):
    assert services.check_name(name) == name


@pytest.mark.parametrize("name", ["", "Db", "1db", "-db", "db_1", "a" * 31, "db.x", "../db", "db\n", "dé", "db "])
def test_bad_names(name):
    with pytest.raises(InvalidInput, match="invalid service name"):
        services.check_name(name)


def test_engine_names_never_meet_an_apps():
    """An app's network is ponton-APP; a service's objects have dots, which no app name has."""
    assert services.engine_name(POSTGRES, "db") == "ponton.postgres.db"
    assert services.lock_name(POSTGRES, "db") == "postgres.db"
    assert "." not in services.host(POSTGRES, "db")


def test_urls_are_what_dokku_gives():
    assert services.url(POSTGRES, "db", "pw") == "postgres://postgres:pw@ponton-postgres-db:5432/db"
    assert services.url(REDIS, "cache", "pw") == "redis://:pw@ponton-redis-cache:6379"
    assert services.owns_url(services.url(POSTGRES, "db", "other"), POSTGRES, "db")
    for value in [None, "", "postgres://postgres:pw@ponton-postgres-db2:5432/db2", "postgres://me@elsewhere/db",
                  services.url(REDIS, "db", "pw")]:
        assert not services.owns_url(value, POSTGRES, "db")


def test_backup_ids_sort_by_time_and_never_repeat():
    noon = datetime.datetime(2025, 1, 31, 12, 0, 0, tzinfo=datetime.timezone.utc).timestamp()
    assert backups.new_id(set(), noon) == "20250131-120000"
    assert backups.new_id({"20250131-120000"}, noon) == "20250131-120000-1"
    taken = {"20250131-120000", *(f"20250131-120000-{n}" for n in range(1, 10))}
    assert backups.new_id(taken, noon) == "20250131-120000-10"
    ids = ["20250131-120000-10", "20250131-120000", "20250130-000000", "20250131-120000-9"]
    assert backups.to_remove(ids, 2) == ["20250130-000000", "20250131-120000"]
    assert backups.to_remove(ids, 10) == []


@pytest.mark.parametrize("text", ["", "../../etc/passwd", "20250131", "20250131-120000.dump", "20250131-120000-0",
                                  "20250131-120000-12345", " 20250131-120000", "x" * 5000])
def test_bad_backup_ids(text):
    with pytest.raises(InvalidInput):
        backups.check_id(text)


def test_schedules():
    assert backups.check_schedule("0  3 * * *") == "0 3 * * *"
    assert backups.check_schedule("@daily") == "@daily"
    assert backups.check_schedule("*/15 1-5 * JAN,FEB mon-fri") == "*/15 1-5 * JAN,FEB mon-fri"
    since = datetime.datetime(2025, 1, 31, 2, 59, 30, tzinfo=datetime.timezone.utc).timestamp()
    assert backups.next_due("0 3 * * *", since) == since + 30
    assert backups.next_due("@hourly", since + 30) == since + 30 + 3600


@pytest.mark.parametrize("text", ["", "* * * *", "* * * * * *", "61 * * * *", "* 24 * * *", "0 0 31 2 *",
                                  "@reboot", "$(id) * * * *", "H * * * *", "1 " * 500, "* * * * *\n* * * * *"])
def test_bad_schedules(text):
    with pytest.raises(InvalidInput, match="invalid schedule"):
        backups.check_schedule(text)


def test_a_service_container_is_isolated_limited_and_publishes_nothing(tmp_path):
    settings = Settings(state_dir=tmp_path)
    args = container.spec(settings, POSTGRES, "db", "pw")
    assert args["name"] == args["network"] == "ponton.postgres.db"
    assert args["volumes"] == {"ponton.postgres.db": {"bind": "/var/lib/postgresql/data", "mode": "rw"}}
    assert "ports" not in args and "privileged" not in args
    assert args["security_opt"] == ["no-new-privileges"] and args["cap_drop"] == ["ALL"]
    assert args["restart_policy"] == {"Name": "unless-stopped"}
    assert (args["mem_limit"], args["nano_cpus"], args["pids_limit"]) == (512 * 2**20, 10**9, 1024)
    assert args["environment"] == {"POSTGRES_PASSWORD": "pw", "POSTGRES_DB": "db"}
    assert args["labels"][services.LABEL_OWNER] == str(tmp_path)
    # The server's default for every container wins over the kind's; Redis keeps its data under 3/4 of it.
    redis = container.spec(dataclasses.replace(settings, memory_limit="1g", cpu_limit="0.5"), REDIS, "c", "pw")
    assert (redis["mem_limit"], redis["nano_cpus"]) == (2**30, 5 * 10**8)
    assert redis["environment"]["REDIS_MAXMEMORY"] == str(3 * 2**30 // 4)


def test_who_may_use_and_manage_a_service(p, monkeypatch):
    db = p.state.service("postgres", "db")
    cases = {None: (True, True), "root-admin": (True, True), "alice": (True, True), "bob": (False, False),
             "carol": (False, False)}
    for user, allowed in cases.items():
        monkeypatch.setenv("PONTON_USER", user or "")
        assert (owners.may(p, POSTGRES, db, owners.USE), owners.may(p, POSTGRES, db, owners.MANAGE)) == allowed, user
    p.state.link_service("postgres", "db", "shop", "DATABASE_URL")
    p.state.set_access("shop", "carol", True)
    monkeypatch.setenv("PONTON_USER", "carol")  # may use the app it is linked to: may use it, not manage it
    assert owners.may(p, POSTGRES, db, owners.USE) and not owners.may(p, POSTGRES, db, owners.MANAGE)
    assert [row.name for row in owners.visible(p, POSTGRES)] == ["db"]
    with pytest.raises(AccessDenied, match="only the owner of postgres service db"):
        owners.require(p, POSTGRES, "db", owners.MANAGE, "postgres:restore")
    monkeypatch.setenv("PONTON_USER", "bob")
    assert owners.visible(p, POSTGRES) == []
    with pytest.raises(AccessDenied, match="user bob has no access to postgres service db"):
        owners.require(p, POSTGRES, "db", owners.USE, "postgres:info")
    denied = [row.message for row in p.state.service_events("postgres", "db", 10) if row.kind == "denied"]
    assert len(denied) == 2 and "bob" in denied[1]


def test_commands_that_check_their_own_access_need_no_app(p, monkeypatch):
    monkeypatch.setenv("PONTON_USER", "bob")
    access.check(p, "postgres:list", {}, own=True)  # no APP: the command checks the service itself
    with pytest.raises(AccessDenied):
        access.check(p, "postgres:list", {}, own=False)  # unmarked, it is for admins
    with pytest.raises(AccessDenied):
        access.check(p, "postgres:link", {"name": "db", "app": "shop"}, own=True)  # its APP is still checked


def test_links_go_with_the_app_and_a_service_counts_towards_the_instances_quota(p):
    assert p.state.service_links("postgres", "db") == []
    p.state.link_service("postgres", "db", "shop", "DATABASE_URL")
    assert [(row.kind, row.name, row.variable) for row in p.state.app_service_links("shop")] == [("postgres", "db", "DATABASE_URL")]
    with pytest.raises(NotFound):
        p.state.unlink_service("postgres", "db", "nosuch")
    with pytest.raises(InvalidInput, match="already exists"):
        p.state.create_service("postgres", "db", "bob", "pw", 7)
    assert quota.usage(p, "alice") == {"apps": 1, "instances": 2}  # shop's web instance, and the service
    p.state.set_quotas("alice", {"instances": "2"})
    with pytest.raises(AccessDenied, match="quota"):
        quota.create_service(p, "redis", "cache", "alice", "pw", 7)
    assert not p.state.service_exists("redis", "cache")
    p.state.delete_app("shop")
    assert p.state.service_links("postgres", "db") == []
