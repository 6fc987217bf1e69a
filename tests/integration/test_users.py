"""Several users on one server, over real SSH with their own keys: roles, per-app access, quotas.

alice owns an app; bob (role user) may neither see nor touch it until alice grants him access, and may never run
a server-wide command. Every denial is one clear line, changes nothing, and is in the app's events."""

import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import threading

import pytest

from ponton.core.lock import app_lock
from ponton.core.state import State
from ponton.testing import CertificateAuthority
from tests.integration.conftest import APPS, Pusher, containers, eventually


def snapshot(sandbox, app: str) -> dict:
    """What an admin sees of `app`: everything a denied command could have changed."""
    def data(*args):
        return json.loads(sandbox.run(*args, "--format", "json").stdout)

    return {
        "apps": data("apps:list"),
        "info": data("apps:info", app),
        "config": data("config:show", app),
        "releases": [(r["version"], r["status"]) for r in data("releases", app)],
        "formation": [(r["instance"], r["release"]) for r in data("ps:report", app)],
        "containers": sorted(containers(app)),
        "domains": data("domains:report", app),
        "acl": data("acl:list", app),
    }


def denied(result: subprocess.CompletedProcess) -> str:
    """The one-line error of a refused command (asserting it was refused, and why)."""
    assert result.returncode != 0, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "access denied" in lines[0], result.stderr
    return lines[0]


def denials(sandbox, app: str) -> list[dict]:
    events = json.loads(sandbox.run("events", app, "-n", "1000", "--format", "json").stdout)
    return [e for e in events if e["kind"] == "denied"]


@pytest.fixture
def team(sandbox, tmp_path, echo_image):
    """alice (role user) owns a deployed app with a secret in its config; bob (role user) has a key too."""
    sandbox.start_sshd()
    sandbox.run("ssh-keys:add", "root-admin", input=sandbox.new_key("root-admin").with_suffix(".pub").read_text())
    alice = Pusher(sandbox, tmp_path, "alice", role="user")
    bob = Pusher(sandbox, tmp_path, "bob", role="user")
    app = sandbox.new_app_name()
    assert alice.ssh("apps:create", app).returncode == 0
    sandbox.run("git:from-image", app, echo_image)  # an admin deploys on alice's app
    result = alice.ssh("config:set", app, "SECRET=alice-only")
    assert result.returncode == 0, result.stderr
    return alice, bob, app


def test_bob_can_do_nothing_with_alices_app_until_she_grants_access(sandbox, team):
    alice, bob, app = team
    assert json.loads(alice.ssh("apps:info", app, "--format", "json").stdout)["owner"] == "alice"
    before = snapshot(sandbox, app)
    bob.checkout(APPS / "echo")

    listing = bob.ssh("apps:list", "--format", "json")
    assert listing.returncode == 0 and app not in json.loads(listing.stdout)
    attempts = {
        "apps:info": bob.ssh("apps:info", app),
        "config:show": bob.ssh("config:show", app),
        "config:get": bob.ssh("config:get", app, "SECRET"),
        "config:set": bob.ssh("config:set", app, "SECRET=bob-was-here"),
        "config:unset": bob.ssh("config:unset", app, "SECRET"),
        "ps:scale": bob.ssh("ps:scale", app, "web=3"),
        "ps:report": bob.ssh("ps:report", app),
        "ps:stop": bob.ssh("ps:stop", app),
        "ps:restart": bob.ssh("ps:restart", app),
        "releases": bob.ssh("releases", app),
        "rollback": bob.ssh("rollback", app),
        "logs": bob.ssh("logs", app),
        "events": bob.ssh("events", app),
        "metrics": bob.ssh("metrics", app),
        "resource:report": bob.ssh("resource:report", app),
        "domains:report": bob.ssh("domains:report", app),
        "acl:list": bob.ssh("acl:list", app),
        "domains:add": bob.ssh("domains:add", app, "bob.example.org"),
        "acl:add": bob.ssh("acl:add", app, "bob"),
        "apps:rename": bob.ssh("apps:rename", app, "bobs"),
        "apps:destroy": bob.ssh("apps:destroy", app, "--force"),
        "git-receive-pack": bob.push(app),
    }
    for command, result in attempts.items():
        line = denied(result) if command != "git-receive-pack" else result.stderr
        assert "access denied" in line and app in line, (command, line)
    assert "SECRET" not in "".join(r.stdout + r.stderr for r in attempts.values())
    assert "alice-only" not in "".join(r.stdout + r.stderr for r in attempts.values())
    assert bob.server_branch(app) == ""  # not even a clone or ls-remote
    assert snapshot(sandbox, app) == before
    recorded = denials(sandbox, app)
    assert {e["user"] for e in recorded} == {"bob"}
    for command in attempts:
        assert any(command in e["message"] for e in recorded), (command, recorded)

    granted = alice.ssh("acl:add", app, "bob")
    assert granted.returncode == 0, granted.stderr
    assert app in json.loads(bob.ssh("apps:list", "--format", "json").stdout)
    assert json.loads(bob.ssh("apps:info", app, "--format", "json").stdout)["name"] == app
    assert bob.ssh("config:get", app, "SECRET").stdout == "alice-only\n"
    assert bob.ssh("config:set", app, "GREETING=bob").returncode == 0
    assert sandbox.get(sandbox.host(app))[1].startswith(b"bob from ")
    assert bob.ssh("ps:scale", app, "web=2").returncode == 0
    assert len(containers(app)) == 2
    assert len(json.loads(bob.ssh("metrics", app, "--format", "json").stdout)["instances"]) == 2
    pushed = bob.push(app)
    assert pushed.returncode == 0, pushed.stderr
    sha = bob.git("rev-parse", "HEAD").stdout.strip()
    assert bob.server_branch(app) == sha
    # The image's name cannot be guessed from the commit: other tenants' Dockerfiles cannot build FROM it.
    [image] = {c["Config"]["Image"] for c in json.loads(subprocess.run(
        ["docker", "inspect", *containers(app)], capture_output=True, text=True, check=True).stdout)}
    assert re.fullmatch(rf"ponton/app-{app}:{sha[:12]}-[0-9a-f]{{16}}", image), image
    # The app stays alice's: renaming, destroying and granting it are hers (and admins') alone.
    denied(bob.ssh("apps:destroy", app, "--force"))
    denied(bob.ssh("acl:add", app, "carol"))
    assert app in json.loads(sandbox.run("apps:list", "--format", "json").stdout)

    assert alice.ssh("acl:remove", app, "bob").returncode == 0
    denied(bob.ssh("config:show", app))
    assert alice.ssh("apps:destroy", app, "--force").returncode == 0
    assert containers(app) == []


class Stderr:
    """Collects a running process's stderr; `wait_for` returns once a line holding `text` came (bounded)."""

    def __init__(self, process: subprocess.Popen):
        self.process, self.lines, self.changed = process, [], threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.process.stderr:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def wait_for(self, text: str, timeout: float = 60):
        with self.changed:
            assert self.changed.wait_for(lambda: any(text in line for line in self.lines), timeout), self.lines

    def finish(self, timeout: float = 600) -> tuple[int, list[str]]:
        code = self.process.wait(timeout=timeout)
        self.thread.join(timeout=10)
        self.process.stderr.close()
        return code, self.lines


@pytest.mark.parametrize("how", ["git:from-archive", "git push"])
def test_no_one_deploys_into_an_app_another_user_creates_while_he_waits(sandbox, tmp_path, how):
    """bob asks to deploy to an app that does not exist yet; while his request waits for the app's lock, alice
    creates the app. Access is checked again once he holds the lock: her app is not his."""
    sandbox.start_sshd()
    sandbox.run("ssh-keys:add", "root-admin", input=sandbox.new_key("root-admin").with_suffix(".pub").read_text())
    alice = Pusher(sandbox, tmp_path, "alice", role="user")
    bob = Pusher(sandbox, tmp_path, "bob", role="user")
    bob.checkout(APPS / "echo")
    app = sandbox.new_app_name()
    state_dir = sandbox.root / "state"
    with app_lock(state_dir, app):  # the test holds the app's lock: bob's request waits for it
        if how == "git push":
            command = ["git", "push", sandbox.remote(app), "main"]
            stdin = subprocess.DEVNULL
        else:
            command = [*bob.env["SSH_COMMAND"].split(), "root@127.0.0.1", "git:from-archive", app]
            with tarfile.open(tmp_path / "app.tar", mode="w") as tar:
                tar.add(APPS / "echo", arcname=".")
            stdin = open(tmp_path / "app.tar", "rb")
        his = Stderr(subprocess.Popen(command, cwd=bob.work, env=bob.env, stdin=stdin, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True))
        if stdin is not subprocess.DEVNULL:
            stdin.close()  # the child has its own
        his.wait_for(f"waiting for lock on app {app}")
        hers = Stderr(subprocess.Popen([*alice.env["SSH_COMMAND"].split(), "root@127.0.0.1", "apps:create", app],
                                       env=alice.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True))
        eventually(lambda: State(state_dir).app_exists(app), 60, f"alice's {app}")
    code, lines = his.finish()
    assert hers.finish()[0] == 0
    refused = [line for line in lines if "waiting for lock" not in line]
    if how == "git push":  # what git adds to a refused push
        refused = [line for line in refused if line.startswith("error: ")]
    assert code != 0 and len(refused) == 1, lines
    assert "access denied" in refused[0] and "user bob has no access" in refused[0], lines
    info = json.loads(sandbox.run("apps:info", app, "--format", "json").stdout)
    assert info["owner"] == "alice" and info["release"] is None, info
    assert containers(app) == []
    assert any("bob" in e["message"] for e in denials(sandbox, app))


def test_bob_never_runs_admin_commands(sandbox, team):
    alice, bob, app = team
    assert alice.ssh("acl:add", app, "bob").returncode == 0  # even on an app he may use
    keys = sandbox.run("ssh-keys:list", "--format", "json").stdout
    before = snapshot(sandbox, app)
    eve = sandbox.new_key("eve").with_suffix(".pub").read_text()
    attempts = {
        "ssh-keys:add": bob.ssh("ssh-keys:add", "eve", "--role", "admin", input=eve),
        "ssh-keys:list": bob.ssh("ssh-keys:list"),
        "ssh-keys:remove": bob.ssh("ssh-keys:remove", "alice"),
        "domains:set-global": bob.ssh("domains:set-global", "evil.example.org"),
        "resource:limit": bob.ssh("resource:limit", app, "--memory", "1g"),
        "resource:reserve": bob.ssh("resource:reserve", app, "--cpu", "2"),
        "quota:set": bob.ssh("quota:set", "bob", "apps=unlimited"),
        "git:from-image": bob.ssh("git:from-image", app, "ponton-test/echo"),
        "ports:add": bob.ssh("ports:add", app, "tcp:2222:5000"),
    }
    for command, result in attempts.items():
        assert "admins only" in denied(result), (command, result.stderr)
    assert sandbox.run("ssh-keys:list", "--format", "json").stdout == keys
    assert sandbox.host(app) in snapshot(sandbox, app)["domains"]  # the global domain is unchanged
    assert snapshot(sandbox, app) == before
    recorded = " ".join(e["message"] for e in denials(sandbox, app))
    assert all(command in recorded for command in ("resource:limit", "resource:reserve", "git:from-image", "ports:add"))


def test_quota_refuses_the_app_over_it(sandbox, tmp_path):
    sandbox.start_sshd()
    sandbox.run("ssh-keys:add", "root-admin", input=sandbox.new_key("root-admin").with_suffix(".pub").read_text())
    bob = Pusher(sandbox, tmp_path, "bob", role="user")
    sandbox.run("quota:set", "bob", "apps=2")
    first, second, third, fourth = (sandbox.new_app_name() for _ in range(4))
    assert bob.ssh("apps:create", first).returncode == 0
    assert bob.ssh("apps:create", second).returncode == 0
    refused = bob.ssh("apps:create", third)
    assert "quota" in denied(refused) and "at most 2 apps" in refused.stderr
    bob.checkout(APPS / "echo")
    pushed = bob.push(fourth)  # a first push creates an app too
    assert pushed.returncode != 0 and "quota" in pushed.stderr
    names = json.loads(sandbox.run("apps:list", "--format", "json").stdout)
    assert first in names and second in names and third not in names and fourth not in names
    report = json.loads(bob.ssh("quota:report", "--format", "json").stdout)
    assert report == [{"user": "bob", "role": "user", "apps": 2, "instances": 2, "max_apps": 2,
                       "max_instances": None}]

    sandbox.run("quota:set", "bob", "apps=3")  # an admin raises it
    assert bob.ssh("apps:create", third).returncode == 0


def test_parallel_creates_never_pass_the_quota_together(sandbox, tmp_path):
    """The quota is counted and the app inserted in one transaction: 8 creates at once with room for one."""
    sandbox.start_sshd()
    sandbox.run("ssh-keys:add", "root-admin", input=sandbox.new_key("root-admin").with_suffix(".pub").read_text())
    bob = Pusher(sandbox, tmp_path, "bob", role="user")
    sandbox.run("quota:set", "bob", "apps=1")
    names = [sandbox.new_app_name() for _ in range(8)]
    creates = [subprocess.Popen([*bob.env["SSH_COMMAND"].split(), "root@127.0.0.1", "apps:create", name],
                                env=bob.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in names]
    results = [(create.wait(timeout=120), *create.communicate()) for create in creates]
    assert sorted(code for code, _, _ in results) == [0] + [7] * 7, results
    for code, _, stderr in results:
        if code:
            assert "at most 1 apps" in denied(subprocess.CompletedProcess([], code, "", stderr))
    owned = [name for name in json.loads(sandbox.run("apps:list", "--format", "json").stdout) if name in names]
    assert len(owned) == 1
    assert json.loads(bob.ssh("quota:report", "--format", "json").stdout)[0]["apps"] == 1


def test_quota_refuses_instances_over_it(sandbox, tmp_path, echo_image):
    sandbox.start_sshd()
    sandbox.run("ssh-keys:add", "root-admin", input=sandbox.new_key("root-admin").with_suffix(".pub").read_text())
    bob = Pusher(sandbox, tmp_path, "bob", role="user")
    app = sandbox.new_app_name()
    assert bob.ssh("apps:create", app).returncode == 0
    sandbox.run("git:from-image", app, echo_image)
    sandbox.run("quota:set", "bob", "instances=2")
    assert bob.ssh("ps:scale", app, "web=2").returncode == 0
    refused = bob.ssh("ps:scale", app, "web=3")
    assert "at most 2 instances" in denied(refused)
    assert len(containers(app)) == 2
    assert json.loads(sandbox.run("ps:report", app, "--format", "json").stdout)[-1]["instance"] == "web.2"
    assert bob.ssh("ps:scale", app, "web=1").returncode == 0  # going down is always allowed
    assert any("quota" in e["message"] for e in denials(sandbox, app))


def add_certificate(sandbox, app: str, ca: CertificateAuthority):
    """certs:add with a tarball of server.crt and server.key on stdin."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, path in zip(("server.crt", "server.key"), ca.issue(sandbox.host(app))):
            tar.add(path, arcname=name)
    result = subprocess.run([sys.executable, "-m", "ponton", "certs:add", app],
                            env=sandbox.env, input=archive.getvalue(), capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr


def images(app: str) -> list[str]:
    out = subprocess.run(["docker", "images", f"ponton/app-{app}", "--format", "{{.Repository}}:{{.Tag}}"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


def leftovers(sandbox, app: str) -> list[str]:
    """What is on disk under the app's name: its repository, certificate directory, access logs."""
    state, logs = sandbox.root / "state", sandbox.root / "nginx" / "logs"
    found = [state / "repos" / f"{app}.git", state / "tls" / app, *logs.glob(f"{app}.access.log*")]
    return [str(path) for path in found if path.exists()]


def test_a_name_used_again_inherits_nothing_of_the_app_that_had_it(sandbox, tmp_path):
    """alice destroys one app and renames another; bob then creates apps of those names, and one of a name that
    a crash left files under: he gets none of her repository, certificate, access log or images."""
    sandbox.start_sshd()
    sandbox.run("ssh-keys:add", "root-admin", input=sandbox.new_key("root-admin").with_suffix(".pub").read_text())
    alice = Pusher(sandbox, tmp_path, "alice", role="user")
    bob = Pusher(sandbox, tmp_path, "bob", role="user")
    alice.checkout(APPS / "echo")
    ca = CertificateAuthority(tmp_path / "ca")
    gone, moved, renamed, crashed = (sandbox.new_app_name() for _ in range(4))
    for app in (gone, moved):
        pushed = alice.push(app)
        assert pushed.returncode == 0, pushed.stderr
        assert sandbox.get(sandbox.host(app), "/alice-was-here")[0] == 200  # a line in its access log
        add_certificate(sandbox, app, ca)
        assert images(app) and len(leftovers(sandbox, app)) == 3
    logs = sandbox.root / "nginx" / "logs"
    (logs / f"{gone}.access.log").rename(logs / f"{gone}.access.log.1")  # as logrotate does
    sha = alice.git("rev-parse", "HEAD").stdout.strip()
    assert alice.ssh("apps:destroy", gone, "--force").returncode == 0
    assert leftovers(sandbox, gone) == [] and images(gone) == []
    assert alice.ssh("apps:rename", moved, renamed).returncode == 0
    # What a crash left under a name (a rename cut short): a repository, a certificate, a log.
    state = sandbox.root / "state"
    shutil.copytree(state / "repos" / f"{renamed}.git", state / "repos" / f"{crashed}.git")
    shutil.copytree(state / "tls" / renamed, state / "tls" / crashed)
    shutil.copy(logs / f"{renamed}.access.log", logs / f"{crashed}.access.log")

    for app in (gone, moved, crashed):
        assert bob.ssh("apps:create", app).returncode == 0
        assert leftovers(sandbox, app) == [] and images(app) == [], app
        assert bob.git("ls-remote", sandbox.remote(app), cwd=tmp_path).stdout == ""
        assert bob.ssh("logs", app, "--proxy", "-n", "100").stdout == ""
        assert "has no certificate" in bob.ssh("certs:report", app).stdout
        assert json.loads(bob.ssh("metrics", app, "--format", "json").stdout)["total"]["requests"] == 0

    # The renamed app took all of it along.
    assert alice.server_branch(renamed) == sha
    assert "alice-was-here" in alice.ssh("logs", renamed, "--proxy", "-n", "100").stdout
    assert json.loads(alice.ssh("certs:report", renamed, "--format", "json").stdout)["names"] == [sandbox.host(moved)]
    [running] = {c["Config"]["Image"] for c in json.loads(subprocess.run(
        ["docker", "inspect", *containers(renamed)], capture_output=True, text=True, check=True).stdout)}
    assert running in images(renamed)  # its images carry its new name
    assert sandbox.get(sandbox.host(renamed))[0] == 301  # to HTTPS: it is served with its certificate
