"""git push over a real sshd with the real git client: deploys, failures, refusals, clone."""

import fcntl
import json
import subprocess
from pathlib import Path

import pytest

from ponton.testing import Load
from tests.integration.conftest import APPS


@pytest.fixture
def pushed(sandbox, pusher, echo_image):
    """The echo app (it has a Dockerfile) pushed once: (app name, commit)."""
    app = sandbox.new_app_name()
    pusher.checkout(APPS / "echo")
    result = pusher.push(app)
    assert result.returncode == 0, result.stderr
    return app, pusher.git("rev-parse", "HEAD").stdout.strip()


def test_push_creates_builds_deploys_and_streams_progress(sandbox, pusher, pushed):
    app, sha = pushed
    assert sandbox.get(sandbox.host(app))[1].startswith(b"hello from ")
    releases = json.loads(sandbox.run("releases", app, "--format", "json").stdout)
    assert [(r["version"], r["source"], r["status"]) for r in releases] == [("v1", sha, "current")]
    assert pusher.server_branch(app) == sha
    log = sandbox.run("releases:logs", app, "v1").stdout
    assert "Step" in log or "----->" in log


def test_push_output_ends_with_the_url(sandbox, pusher, echo_image):
    app = sandbox.new_app_name()
    pusher.checkout(APPS / "echo")
    result = pusher.push(app)
    assert "remote: -----> Deploying" in result.stderr
    assert f"deployed: http://{sandbox.host(app)}:{sandbox.http_port}" in result.stderr


def test_code_change_redeploys_with_cached_layers(sandbox, pusher, pushed):
    app, _ = pushed
    app_py = pusher.work / "app.py"
    app_py.write_text(app_py.read_text().replace("'hello'", "'changed'"))
    sha = pusher.commit("change greeting")
    result = pusher.push(app)
    assert result.returncode == 0, result.stderr
    assert "Using cache" in result.stderr
    assert sandbox.get(sandbox.host(app))[1].startswith(b"changed from ")
    assert pusher.server_branch(app) == sha


def test_failed_build_rejects_the_push_and_keeps_serving(sandbox, pusher, pushed):
    app, sha = pushed
    dockerfile = pusher.work / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN echo 'broken step' && false\n")
    pusher.commit("break the build")
    result = pusher.push(app)
    assert result.returncode != 0
    assert "pre-receive hook declined" in result.stderr and "error:" in result.stderr
    assert pusher.server_branch(app) == sha
    assert sandbox.get(sandbox.host(app))[1].startswith(b"hello from ")


def test_a_build_the_engine_refuses_tells_the_pusher_the_engines_reason(sandbox, pusher, pushed):
    """A Dockerfile the engine will not even start to build: the pusher reads the engine's own words."""
    app, sha = pushed
    dockerfile = pusher.work / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "FROBNICATE the build\n")
    pusher.commit("an instruction the engine does not know")
    result = pusher.push(app)
    assert result.returncode != 0 and "pre-receive hook declined" in result.stderr
    said = [line for line in result.stderr.splitlines() if line.startswith("remote: error: ")]
    assert len(said) == 1 and "the engine refused the build: " in said[0], result.stderr
    assert "unknown instruction: frobnicate" in said[0].lower(), said
    assert "without an image" not in result.stderr
    assert pusher.server_branch(app) == sha


def test_unhealthy_release_rejects_the_push_and_keeps_serving(sandbox, pusher, pushed):
    app, sha = pushed
    dockerfile = pusher.work / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + 'CMD ["sleep", "infinity"]\n')
    pusher.commit("never answers")
    result = pusher.push(app)
    assert result.returncode != 0
    assert "failed its health check" in result.stderr
    assert pusher.server_branch(app) == sha
    assert sandbox.get(sandbox.host(app))[1].startswith(b"hello from ")


def test_failed_postdeploy_rejects_the_push_and_keeps_the_previous_release(sandbox, pusher, pushed):
    app, sha = pushed
    sandbox.run("ps:scale", app, "web=2")
    (pusher.work / "app.json").write_text(json.dumps({"scripts": {"dokku": {"postdeploy": "echo notifying; exit 3"}}}))
    dockerfile = pusher.work / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "COPY app.json /app/app.json\n")
    app_py = pusher.work / "app.py"
    app_py.write_text(app_py.read_text().replace("'hello'", "'changed'"))
    pusher.commit("a release whose postdeploy fails")
    with Load(sandbox.http_port, sandbox.host(app)) as load:
        result = pusher.push(app)
    assert result.returncode != 0
    assert "postdeploy command failed with exit code 3" in result.stderr and "remote:        notifying" in result.stderr
    assert "deployed:" not in result.stderr and "Traceback" not in result.stderr
    assert pusher.server_branch(app) == sha
    assert load.result.failures == [] and load.result.ok > 20  # the undo is a rollout too
    assert sandbox.get(sandbox.host(app))[1].startswith(b"hello from ")
    releases = json.loads(sandbox.run("releases", app, "--format", "json").stdout)
    assert [(r["version"], r["status"]) for r in releases] == [("v2", "failed"), ("v1", "current")]
    report = json.loads(sandbox.run("ps:report", app, "--format", "json").stdout)
    assert sorted((r["instance"], r["release"], r["state"]) for r in report) == [
        ("web.1", "v1", "running"), ("web.2", "v1", "running")]


def test_other_branches_are_stored_not_deployed(sandbox, pusher, pushed):
    app, sha = pushed
    (pusher.work / "extra.txt").write_text("x")
    feature = pusher.commit("feature")
    result = pusher.push(app, "main:feature")
    assert result.returncode == 0 and "only pushes to main or master deploy" in result.stderr
    assert pusher.server_branch(app, "feature") == feature
    assert len(json.loads(sandbox.run("releases", app, "--format", "json").stdout)) == 1

    sandbox.run("git:set", app, "deploy-branch", "feature")
    result = pusher.push(app, "main:feature")  # unchanged: nothing to deploy
    assert pusher.server_branch(app) == sha


def test_clone_returns_what_was_deployed(sandbox, pusher, pushed, tmp_path):
    app, sha = pushed
    clone = tmp_path / "clone"
    result = pusher.git("clone", "-q", sandbox.remote(app), str(clone), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert pusher.git("rev-parse", "HEAD", cwd=clone).stdout.strip() == sha
    assert (clone / "app.py").read_text() == (APPS / "echo" / "app.py").read_text()


def test_renamed_app_keeps_its_repository(sandbox, pusher, pushed, tmp_path):
    app, sha = pushed
    renamed = sandbox.new_app_name()
    sandbox.run("apps:rename", app, renamed)
    assert pusher.git("ls-remote", sandbox.remote(renamed), "refs/heads/main").stdout.split()[0] == sha
    assert pusher.git("ls-remote", sandbox.remote(app)).returncode != 0


def test_ponton_commands_run_over_ssh(sandbox, pusher, pushed):
    app, _ = pushed
    result = pusher.ssh("config:set", app, "'GREETING=hi there'")
    assert result.returncode == 0, result.stderr
    assert sandbox.get(sandbox.host(app), "/env/GREETING") == (200, b"hi there")
    assert pusher.ssh("apps:list").stdout.split() == [app]


@pytest.mark.parametrize("command, message", [
    (["ls", "/"], "command not allowed"),
    (["sh", "-c", "'touch /tmp/pwned'"], "command not allowed"),
    ([], "no interactive shell"),
    (["git-receive-pack", "'../../etc'"], "invalid repository"),
    (["git-receive-pack", "'/tmp/x'"], "invalid repository"),
    (["git-receive-pack", "'Bad_Name'"], "invalid repository"),
    (["git-receive-pack", "'a'", "'b'"], "exactly one repository"),
    (["git-upload-pack", "'nosuchapp'"], "app nosuchapp does not exist"),
    (["ssh-keys:add", "mallory"], "for admins only"),
    (["ssh-command", "--user", "x"], "command not allowed"),
    (["git-hook"], "command not allowed"),
    (["apps:create", "'x;rm'"], "invalid app name"),
    (["apps:list", "'unbalanced"], "cannot parse"),
])
def test_refused_over_ssh_and_nothing_changes(sandbox, pusher, command, message):
    before = sandbox.run("apps:list", "--format", "json").stdout
    result = pusher.ssh(*command)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert sandbox.run("apps:list", "--format", "json").stdout == before
    assert not (sandbox.root / "state" / "repos").exists() or not any((sandbox.root / "state" / "repos").iterdir())
    assert not Path("/tmp/pwned").exists()


def test_unknown_key_is_refused(sandbox, pusher):
    stranger = sandbox.new_key("stranger")
    env = sandbox.ssh_env(stranger)
    result = subprocess.run([*env["SSH_COMMAND"].split(), "root@127.0.0.1", "apps:list"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 255 and "Permission denied" in result.stderr


def test_ssh_keys_are_validated_and_removable(sandbox, pusher):
    public = pusher.key.with_suffix(".pub").read_text()
    duplicate = sandbox.run("ssh-keys:add", "bob", input=public, check=False)
    assert duplicate.returncode != 0 and "already added, as alice" in duplicate.stderr
    for bad in ["", "not a key", "ssh-ed25519 AAAAnotbase64", public + public]:
        result = sandbox.run("ssh-keys:add", "bob", input=bad, check=False)
        assert result.returncode != 0 and result.stderr.startswith("error: "), bad
    assert [k["name"] for k in json.loads(sandbox.run("ssh-keys:list", "--format", "json").stdout)] == ["alice"]

    sandbox.run("ssh-keys:remove", "alice")
    assert pusher.ssh("apps:list").returncode == 255


def test_rebuild_builds_the_deployed_commit_again(sandbox, pusher, pushed):
    app, sha = pushed
    result = sandbox.run("ps:rebuild", app)
    assert "Deploying" in result.stdout
    releases = json.loads(sandbox.run("releases", app, "--format", "json").stdout)
    assert [(r["version"], r["source"], r["status"]) for r in releases] == [
        ("v2", sha, "current"), ("v1", sha, "succeeded")]
    assert sandbox.get(sandbox.host(app))[1].startswith(b"hello from ")


def test_a_push_waits_for_a_build_slot_and_says_so(sandbox, pusher, echo_image):
    """Every build slot taken (here by this test holding both lock files, as two builds in other processes would):
    the push says it waits, builds nothing meanwhile, and deploys once a slot frees."""
    slots = sandbox.root / "state" / "build-slots"  # the sandbox's state_dir
    slots.mkdir(parents=True, exist_ok=True)
    held = [open(slots / f"{i}.lock", "a") for i in range(2)]  # max_concurrent_builds: 2, the default
    for f in held:
        fcntl.flock(f, fcntl.LOCK_EX)
    app = sandbox.new_app_name()
    pusher.checkout(APPS / "echo")
    with subprocess.Popen(["git", "push", sandbox.remote(app), "main"], cwd=pusher.work, env=pusher.env,
                          stderr=subprocess.PIPE, text=True) as push:
        try:
            seen = []
            for line in push.stderr:
                seen.append(line)
                if "waiting for a build slot" in line:
                    break
            assert "remote: -----> waiting for a build slot (at most 2 at a time, setting max_concurrent_builds)" \
                in "".join(seen), "".join(seen)
            assert not any("Step 1/" in line for line in seen)
            for f in held:
                f.close()  # the slots free
            rest = push.stderr.read()
            assert push.wait(600) == 0, rest
            assert "Step 1/" in rest and "deployed: http://" in rest
        finally:
            for f in held:
                f.close()
            push.kill()


def test_a_crafted_tree_is_refused_in_one_line(sandbox, pusher):
    """git's receive-pack does not fsck what it receives: a tree with a `.git` entry (made with git mktree, as
    no checkout would) reaches the export, which refuses it in one line, with nothing deployed."""
    app = sandbox.new_app_name()
    pusher.checkout(APPS / "echo")
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=pusher.work, input="x\n", text=True,
                          capture_output=True, check=True).stdout.strip()
    listing = pusher.git("ls-tree", "HEAD").stdout + f"100644 blob {blob}\t.git\n"
    tree = subprocess.run(["git", "mktree"], cwd=pusher.work, input=listing, text=True, capture_output=True,
                          check=True).stdout.strip()
    crafted = pusher.git("commit-tree", tree, "-p", "HEAD", "-m", "a .git entry").stdout.strip()
    result = pusher.git("push", sandbox.remote(app), f"{crafted}:refs/heads/main")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "error:" in line and "remote:" in line]
    assert errors and "the pushed tree has a path that is not written out: '.git'" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert pusher.server_branch(app) == ""
