"""Backing services on the real engine: postgres:* and redis:* linked to an app built from source
(tests/apps/services, which keeps a row in Postgres and a counter in Redis), their backups, the watchdog's care,
and another tenant kept out of them."""

import io
import json
import secrets
import subprocess
import sys
import tarfile

import pytest

from ponton.engine_restart import restart_engine
from ponton.testing import Load
from tests.conftest import _docker
from tests.integration.conftest import APPS, Pusher, eventually, settled


def deploy_source(sandbox, app: str, marker: str = ""):
    """Build and deploy tests/apps/services into APP (git:from-archive); `marker` changes the source (a redeploy)."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        tar.add(APPS / "services", arcname=".")
        data = f"# {marker}\n".encode()
        info = tarfile.TarInfo("marker.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    result = subprocess.run([sys.executable, "-m", "ponton", "git:from-archive", app], env=sandbox.env,
                            input=archive.getvalue(), capture_output=True, timeout=900)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def data(sandbox, *args):
    return json.loads(sandbox.run(*args, "--format", "json").stdout)


def one_error_line(result: subprocess.CompletedProcess, code: int | None = None) -> str:
    """The one-line error of a refused command (asserting it was refused with `code`, if given)."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert code is None or result.returncode == code, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def networks_of(container: str) -> set[str]:
    return set(json.loads(_docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", container)))


def service_name() -> str:
    return f"s{secrets.token_hex(4)}"


@pytest.fixture
def services(sandbox):
    """Make names for services, and destroy whatever services they name afterwards (also when a test fails)."""
    made = []

    def new(kind: str) -> str:
        made.append((kind, service_name()))
        return made[-1][1]

    yield new
    for kind, name in made:
        shown = sandbox.run(f"{kind}:info", name, "--format", "json", check=False)
        for app in json.loads(shown.stdout)["links"] if shown.returncode == 0 else []:
            sandbox.run(f"{kind}:unlink", name, app, check=False)
        sandbox.run(f"{kind}:destroy", name, "--force", check=False)


def test_a_linked_app_keeps_its_data_through_redeploys_restarts_and_a_restore(sandbox, services):
    app, db, cache = sandbox.new_app_name(), services("postgres"), services("redis")
    deploy_source(sandbox, app)
    host = sandbox.host(app)
    assert sandbox.get(host) == (200, b"services app: postgres=no redis=no")
    sandbox.run("postgres:create", db)
    sandbox.run("redis:create", cache)

    with Load(sandbox.http_port, host, clients=4, max_seconds=600) as load:
        sandbox.run("postgres:link", db, app)
        sandbox.run("redis:link", cache, app)
    assert load.result.failures == [] and load.result.ok > 0
    assert sandbox.get(host) == (200, b"services app: postgres=yes redis=yes")
    config = data(sandbox, "config:show", app)
    assert config["DATABASE_URL"].startswith("postgres://postgres:") and config["DATABASE_URL"].endswith(
        f"@ponton-postgres-{db}:5432/{db}")
    assert config["REDIS_URL"].startswith("redis://:") and config["REDIS_URL"].endswith(f"@ponton-redis-{cache}:6379")
    for name in settled(app, 1):
        assert {f"ponton.postgres.{db}", f"ponton.redis.{cache}"} <= networks_of(name)
    service = json.loads(_docker("inspect", f"ponton.postgres.{db}"))[0]
    assert service["NetworkSettings"]["Ports"] in ({}, None) and set(service["NetworkSettings"]["Networks"]) == {
        f"ponton.postgres.{db}"}  # reached by linked apps only, on its own network
    limits = [service["HostConfig"][key] for key in ("Memory", "NanoCpus", "PidsLimit", "CapDrop")]
    assert limits == [512 * 2**20, 10**9, 1024, ["ALL"]]  # the kind's own limits: the server sets no default
    assert [m["Type"] for m in service["Mounts"]] == ["volume"]

    assert sandbox.get(host, "/write?text=first-row") == (200, b"ok")
    assert [sandbox.get(host, "/incr")[1] for _ in range(2)] == [b"1", b"2"]

    deploy_source(sandbox, app, marker="a redeploy")
    assert sandbox.get(host, "/read") == (200, b"first-row")
    assert sandbox.get(host, "/counter") == (200, b"2")

    sandbox.run("postgres:restart", db)
    sandbox.run("redis:restart", cache)
    assert sandbox.get(host, "/read") == (200, b"first-row")
    assert sandbox.get(host, "/counter") == (200, b"2")

    assert "-----> Backup " in sandbox.run("postgres:backup", db).stdout
    (backup,) = data(sandbox, "postgres:backups", db)
    assert set(backup) == {"id", "created", "size"} and backup["size"] > 0
    assert sandbox.get(host, "/drop") == (200, b"dropped")
    assert sandbox.get(host, "/read")[0] == 500
    sandbox.run("postgres:restore", db, backup["id"])
    assert sandbox.get(host, "/read") == (200, b"first-row")

    sandbox.run("redis:backup", cache)
    (snapshot,) = data(sandbox, "redis:backups", cache)
    assert sandbox.get(host, "/incr") == (200, b"3")
    sandbox.run("redis:restore", cache, snapshot["id"])
    assert sandbox.get(host, "/counter") == (200, b"2")

    kinds = [event["kind"] for event in data(sandbox, "postgres:events", db)]
    assert kinds == ["create", "link", "restart", "backup", "restore"]
    assert "Link postgres service" in " ".join(e["message"] for e in data(sandbox, "events", app))

    refused = sandbox.run("postgres:destroy", db, "--force", check=False)
    assert "is linked to " + app in one_error_line(refused, 2)
    assert data(sandbox, "postgres:info", db)["state"] == "running"

    sandbox.run("postgres:unlink", db, app)
    assert "DATABASE_URL" not in data(sandbox, "config:show", app)
    assert sandbox.get(host) == (200, b"services app: postgres=no redis=yes")
    for name in settled(app, 1):
        assert f"ponton.postgres.{db}" not in networks_of(name)
    one_error_line(sandbox.run("postgres:destroy", db, check=False), 2)  # --force is required
    assert data(sandbox, "postgres:info", db)["state"] == "running"  # and nothing of it went: data, backups
    assert _docker("volume", "ls", "-q", "--filter", f"name=ponton.postgres.{db}").split() == [f"ponton.postgres.{db}"]
    assert len(data(sandbox, "postgres:backups", db)) == 1
    sandbox.run("postgres:destroy", db, "--force")
    assert _docker("ps", "-a", "--filter", f"name=ponton.postgres.{db}", "-q") == ""
    assert _docker("volume", "ls", "-q", "--filter", f"name=ponton.postgres.{db}") == ""
    assert _docker("network", "ls", "-q", "--filter", f"name=ponton.postgres.{db}") == ""
    assert data(sandbox, "postgres:list") == []


def test_a_failed_backup_is_an_event_and_shows_in_the_report(sandbox, services):
    db = services("postgres")
    sandbox.run("postgres:create", db)
    psql = ["docker", "exec", f"ponton.postgres.{db}", "psql", "-q", "-U", "postgres", "-d", "postgres", "-c"]
    subprocess.run([*psql, f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false'], check=True)  # pg_dump cannot connect
    error = one_error_line(sandbox.run("postgres:backup", db, check=False))
    assert error.startswith(f"error: backup of postgres service {db} failed: pg_dump exited with code 1")
    assert data(sandbox, "postgres:backups", db) == []
    assert list(sandbox.root.glob(f"state/services/postgres/{db}/*")) == []  # nothing half-written is left
    assert data(sandbox, "postgres:events", db)[-1]["kind"] == "backup-failed"
    (row,) = data(sandbox, "report")["postgres"]
    assert row["service"] == f"postgres {db}" and row["problems"].startswith("last backup failed: pg_dump exited")
    assert data(sandbox, "postgres:info", db)["last_backup_error"].startswith("pg_dump exited")

    subprocess.run([*psql, f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true'], check=True)
    sandbox.run("postgres:backup", db)
    assert data(sandbox, "report")["postgres"][0]["problems"] == "-"


def test_only_the_newest_backups_are_kept(sandbox, services):
    cache = services("redis")
    sandbox.run("redis:create", cache)
    sandbox.run("redis:backup-schedule", cache, "@yearly", "--keep", "2")
    for _ in range(4):
        sandbox.run("redis:backup", cache)
    taken = [e["message"].split()[1] for e in data(sandbox, "redis:events", cache) if e["kind"] == "backup"]
    assert len(taken) == 4 and [b["id"] for b in data(sandbox, "redis:backups", cache)] == taken[2:]
    assert sorted(p.name for p in sandbox.root.glob(f"state/services/redis/{cache}/*")) == [
        f"{backup_id}.rdb.gz" for backup_id in taken[2:]]
    assert f"removed {taken[1]} (keeping 2)" in data(sandbox, "redis:events", cache)[-1]["message"]
    assert data(sandbox, "redis:info", cache)["backup_keep"] == 2


def test_bad_names_and_inputs_are_one_line_and_change_nothing(sandbox, services, echo_image):
    db, app = services("postgres"), sandbox.new_app_name()
    sandbox.run("postgres:create", db)
    sandbox.run("git:from-image", app, echo_image)
    before = (data(sandbox, "postgres:info", db), data(sandbox, "config:show", app), data(sandbox, "postgres:list"))
    refusals = {
        ("postgres:create", "Bad"): 2, ("postgres:create", "-x"): 2, ("postgres:create", "a" * 31): 2,
        ("postgres:create", "a/../b"): 2, ("postgres:create", "db\n"): 2, ("postgres:create", ""): 2,
        ("postgres:create", db): 2, ("redis:info", "../etc"): 2, ("postgres:info", "nosuch"): 3,
        ("postgres:restore", db, "../../etc/passwd"): 2, ("postgres:restore", db, "20200101-000000"): 3,
        ("postgres:restore", db, ""): 2, ("postgres:backup-schedule", db, "* * *"): 2,
        ("postgres:backup-schedule", db, "61 * * * *"): 2, ("postgres:backup-schedule", db, "0 0 31 2 *"): 2,
        ("postgres:backup-schedule", db, "* * * * * *"): 2, ("postgres:backup-schedule", db, "@reboot"): 2,
        ("postgres:backup-schedule", db, "1 " * 500): 2, ("postgres:backup-schedule", db, "$(id) * * * *"): 2,
        ("postgres:backup-schedule", db, "@daily", "--keep", "0"): 2,
        ("postgres:backup-schedule", db, "@daily", "--keep", "1e3"): 2,
        ("postgres:backup-schedule", db, "@daily", "--keep", "9" * 5000): 2,
        ("postgres:link", db, "nosuch"): 3, ("postgres:link", db, "Bad"): 2, ("postgres:unlink", db, app): 3,
        ("postgres:events", db, "-n", "0"): 2,
    }
    for args, code in refusals.items():
        one_error_line(sandbox.run(*args, check=False), code)
    assert (data(sandbox, "postgres:info", db), data(sandbox, "config:show", app),
            data(sandbox, "postgres:list")) == before

    sandbox.run("config:set", app, "DATABASE_URL=postgres://mine@elsewhere/db", "--no-restart")  # the user's own
    assert "has DATABASE_URL already (by config:set)" in one_error_line(sandbox.run("postgres:link", db, app,
                                                                                   check=False), 2)
    assert data(sandbox, "postgres:info", db)["links"] == []


def test_another_tenant_can_neither_reach_nor_run_anything_on_a_service(sandbox, tmp_path, services, echo_image):
    sandbox.start_sshd()
    sandbox.run("ssh-keys:add", "root-admin", input=sandbox.new_key("root-admin").with_suffix(".pub").read_text())
    alice, bob = Pusher(sandbox, tmp_path, "alice", role="user"), Pusher(sandbox, tmp_path, "bob", role="user")
    carol = Pusher(sandbox, tmp_path, "carol", role="user")
    db, mine, theirs = services("postgres"), sandbox.new_app_name(), sandbox.new_app_name()
    for user, app in ((alice, mine), (bob, theirs)):
        assert user.ssh("apps:create", app).returncode == 0
        sandbox.run("git:from-image", app, echo_image)  # an admin deploys for them
    created = alice.ssh("postgres:create", db)
    assert created.returncode == 0, created.stderr
    linked = alice.ssh("postgres:link", db, mine)
    assert linked.returncode == 0, linked.stderr
    assert data(sandbox, "postgres:info", db)["owner"] == "alice"
    sandbox.run("postgres:backup", db)

    service_ip = json.loads(_docker("inspect", f"ponton.postgres.{db}"))[0]["NetworkSettings"]["Networks"][
        f"ponton.postgres.{db}"]["IPAddress"]
    probe = ("import socket, sys\ntry:\n    socket.create_connection((sys.argv[1], 5432), timeout=3).close()\n"
             "except OSError as e:\n    print(type(e).__name__); sys.exit(1)\n")

    def reaches(app: str, address: str) -> bool:
        return subprocess.run(["docker", "exec", settled(app, 1)[0], "python3", "-c", probe, address],
                              capture_output=True, timeout=60).returncode == 0

    assert reaches(mine, f"ponton-postgres-{db}") and reaches(mine, service_ip)
    assert not reaches(theirs, f"ponton-postgres-{db}") and not reaches(theirs, service_ip)

    before = (data(sandbox, "postgres:info", db), data(sandbox, "postgres:backups", db),
              data(sandbox, "config:show", mine), data(sandbox, "config:show", theirs))
    backup = before[1][0]["id"]
    attempts = [("info", db), ("backup", db), ("backups", db), ("restore", db, backup), ("restart", db),
                ("backup-schedule", db, "@daily"), ("backup-unschedule", db), ("events", db), ("link", db, theirs),
                ("unlink", db, mine), ("destroy", db, "--force")]
    for verb, *args in attempts:
        assert "access denied" in one_error_line(bob.ssh(f"postgres:{verb}", *args), 7)
    assert json.loads(bob.ssh("postgres:list", "--format", "json").stdout) == []
    assert (data(sandbox, "postgres:info", db), data(sandbox, "postgres:backups", db),
            data(sandbox, "config:show", mine), data(sandbox, "config:show", theirs)) == before
    denied = [e for e in data(sandbox, "postgres:events", db, "-n", "1000") if e["kind"] == "denied"]
    # Every one recorded, but unlink: refused for the app (bob may not use it), it is in the app's events.
    assert len(denied) == len(attempts) - 1 and all("bob" in e["message"] for e in denied)

    # A user who may use the linked app may use the service as the app does, and manage nothing of it.
    assert alice.ssh("acl:add", mine, "carol").returncode == 0
    assert json.loads(carol.ssh("postgres:list", "--format", "json").stdout)[0]["name"] == db
    assert carol.ssh("postgres:backup", db).returncode == 0
    for verb, *args in [("restore", db, backup), ("destroy", db, "--force"), ("backup-schedule", db, "@daily")]:
        assert "only the owner" in one_error_line(carol.ssh(f"postgres:{verb}", *args), 7)


def test_the_watchdog_mends_a_service_and_runs_its_backup_schedule(sandbox, services, watchdog):
    db = services("postgres")
    sandbox.run("postgres:create", db)
    container = f"ponton.postgres.{db}"
    psql = ["docker", "exec", container, "psql", "-qtA", "-U", "postgres", "-d", db, "-c"]
    subprocess.run([*psql, "CREATE TABLE kept (a int); INSERT INTO kept VALUES (42)"], check=True)

    def answers() -> bool:
        result = subprocess.run([*psql, "SELECT a FROM kept"], capture_output=True, text=True)
        return result.returncode == 0 and result.stdout.strip() == "42"

    def recorded(kind: str) -> bool:
        return any(e["kind"] == kind for e in data(sandbox, "postgres:events", db))

    _docker("rm", "-f", container)
    eventually(lambda: recorded("recreate") and answers(), 120, "the watchdog to make the container again")
    _docker("stop", container)
    eventually(lambda: recorded("start") and answers(), 60, "the watchdog to start the stopped container")
    # A postmaster that hangs (stopped by a signal) answers no health check: restarted, its data intact.
    subprocess.run(["docker", "exec", container, "sh", "-c", 'kill -STOP "$(head -1 "$PGDATA/postmaster.pid")"'],
                   check=True)
    eventually(lambda: recorded("health") and answers(), 180, "the watchdog to restart the hung service")

    sandbox.run("postgres:backup-schedule", db, "* * * * *", "--keep", "2")
    eventually(lambda: data(sandbox, "postgres:backups", db), 150, "the scheduled backup")
    backup = [e for e in data(sandbox, "postgres:events", db) if e["kind"] == "backup"][-1]
    assert backup["user"] == "watchdog"
    assert data(sandbox, "postgres:info", db)["backup_schedule"] == "* * * * *"


def test_the_watchdog_restarts_a_hung_redis_and_its_data_stays(sandbox, services, watchdog):
    cache = services("redis")
    sandbox.run("redis:create", cache)
    container = f"ponton.redis.{cache}"
    cli = ["docker", "exec", container, "timeout", "5", "redis-cli", "-h", "127.0.0.1"]  # REDISCLI_AUTH is set
    subprocess.run([*cli, "SET", "kept", "42"], check=True, capture_output=True)

    def answers() -> bool:
        result = subprocess.run([*cli, "GET", "kept"], capture_output=True, text=True, timeout=60)
        return result.returncode == 0 and result.stdout.strip() == "42"

    stop = 'for p in /proc/[0-9]*; do [ "$(cat "$p/comm")" = redis-server ] && kill -STOP "${p#/proc/}"; done; true'
    subprocess.run(["docker", "exec", container, "sh", "-c", stop], check=True)
    assert not answers()  # hung: it answers nothing, the health check neither
    eventually(lambda: answers() and "health" in [e["kind"] for e in data(sandbox, "redis:events", cache)], 180,
               "the watchdog to restart the hung redis")
    (event,) = [e for e in data(sandbox, "redis:events", cache) if e["kind"] == "health"]
    assert event["user"] == "watchdog" and "failed 3 health checks in a row" in event["message"]


@pytest.mark.engine_restart
def test_linked_services_keep_their_data_through_an_engine_restart(sandbox, services, watchdog):
    """dockerd stopped and started again, which stops every container on it: the services come back by the
    engine's restart policy (the same containers, on their volumes), the app's instances too (the watchdog
    reconciles them), still on the services' networks; its row and its counter are there."""
    app, db, cache = sandbox.new_app_name(), services("postgres"), services("redis")
    deploy_source(sandbox, app)
    host = sandbox.host(app)
    made = {"postgres": db, "redis": cache}
    for kind, name in made.items():
        sandbox.run(f"{kind}:create", name)
        sandbox.run(f"{kind}:link", name, app)
    assert sandbox.get(host, "/write?text=before-the-restart") == (200, b"ok")
    assert [sandbox.get(host, "/incr")[1] for _ in range(3)] == [b"1", b"2", b"3"]
    ids = {kind: _docker("inspect", "--format", "{{.Id}}", f"ponton.{kind}.{name}") for kind, name in made.items()}

    restart_engine()

    def reads_its_row() -> bool:
        try:
            return sandbox.get(host, "/read") == (200, b"before-the-restart")
        except OSError:  # nginx waits on an instance that is not back yet, longer than the client does
            return False

    eventually(reads_its_row, 180, "the app to read its row")
    assert sandbox.get(host) == (200, b"services app: postgres=yes redis=yes")
    assert sandbox.get(host, "/counter") == (200, b"3")
    assert sandbox.get(host, "/incr") == (200, b"4")  # Redis takes writes again
    for kind, name in made.items():
        assert _docker("inspect", "--format", "{{.Id}}", f"ponton.{kind}.{name}") == ids[kind]  # not made again
        assert data(sandbox, f"{kind}:info", name)["state"] == "running"
        # The engine started it again before it answered (restart policy): the watchdog had nothing to mend.
        assert [event["kind"] for event in data(sandbox, f"{kind}:events", name)] == ["create", "link"]
    assert [row["problems"] for kind in made for row in data(sandbox, "report")[kind]] == ["-", "-"]
    assert watchdog.process.poll() is None
