"""Isolation between tenants, from the engine's own view (no traffic but to 127.0.0.1): networks, security
options, domains, and a memory limit the kernel enforces."""

import http.server
import io
import json
import subprocess
import sys
import tarfile
import threading

import pytest

from ponton.core.state import State
from ponton.testing import Sandbox
from runtime.spec import CAPABILITIES
from tests.integration.conftest import APPS, Pusher, containers, eventually, settled
from tests.integration.test_watchdog import report


def inspect(kind: str, *names: str) -> list[dict]:
    result = subprocess.run(["docker", kind, "inspect", *names], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_the_state_is_readable_by_its_owner_alone(sandbox, echo_image):
    """Every tenant's config is in the state: ponton writes it, and everything else, for its own user alone."""
    app = sandbox.new_app_name()
    sandbox.run("git:from-image", app, echo_image)
    sandbox.run("config:set", app, "SECRET=hunter2")
    state = sandbox.root / "state"
    exposed = [str(p) for p in [state, *state.rglob("*")] if p.lstat().st_mode & 0o077]
    assert exposed == []


def test_two_apps_share_no_network(sandbox, echo_image):
    apps = [sandbox.new_app_name() for _ in range(2)]
    for app in apps:
        sandbox.run("git:from-image", app, echo_image)
    sandbox.run("ps:scale", apps[0], "web=2")
    subnets = []
    for app in apps:
        names = containers(app)
        assert len(names) == (2 if app == apps[0] else 1)
        for container in inspect("container", *names):
            # Attached to its app's network and to no other: not the default bridge, not the host's.
            assert list(container["NetworkSettings"]["Networks"]) == [f"ponton-{app}"]
            assert container["HostConfig"]["NetworkMode"] == f"ponton-{app}"
            # Its port is published on loopback only.
            bindings = [b for port in container["NetworkSettings"]["Ports"].values() for b in port or []]
            assert bindings and {b["HostIp"] for b in bindings} == {"127.0.0.1"}
        [network] = inspect("network", f"ponton-{app}")
        members = {c["Name"] for c in network["Containers"].values()}
        assert members == set(names)  # nobody else's container is on it
        subnets += [c["Subnet"] for c in network["IPAM"]["Config"]]
    assert len(set(subnets)) == len(subnets) == 2


def test_destroying_an_app_leaves_the_network_of_an_app_whose_name_it_begins(sandbox, echo_image):
    """The engine finds networks by part of their name: ponton-APP is also the start of ponton-APP-2's."""
    app = sandbox.new_app_name()
    longer = f"{app}-2"
    for name in (app, longer):
        sandbox.run("git:from-image", name, echo_image)
    sandbox.run("ps:scale", longer, "web=0")  # its network is there, with nothing on it
    sandbox.run("apps:destroy", app, "--force")
    assert subprocess.run(["docker", "network", "inspect", f"ponton-{app}"], capture_output=True).returncode != 0
    [network] = inspect("network", f"ponton-{longer}")
    sandbox.run("ps:scale", longer, "web=1")
    assert inspect("container", *containers(longer))[0]["NetworkSettings"]["Networks"][f"ponton-{longer}"][
        "NetworkID"] == network["Id"]
    sandbox.run("apps:destroy", longer, "--force")


def test_containers_run_with_reduced_privileges_and_no_mounts(sandbox, worker_image):
    app = sandbox.new_app_name()
    sandbox.run("git:from-image", app, worker_image)
    sandbox.run("ps:scale", app, "worker=1")
    found = inspect("container", *containers(app))
    assert {c["Config"]["Labels"]["ponton.process"] for c in found} == {"web", "worker"}
    for container in found:
        host = container["HostConfig"]
        assert host["SecurityOpt"] == ["no-new-privileges"]
        assert host["CapDrop"] == ["ALL"]
        assert sorted(host["CapAdd"]) == sorted(CAPABILITIES)
        assert not {"NET_RAW", "SYS_ADMIN", "MKNOD", "SYS_CHROOT"} & set(host["CapAdd"])
        assert host["PidsLimit"] == 1024  # the pids_limit setting's default
        assert host["Privileged"] is False
        assert container["Mounts"] == [] and not host["Binds"] and not host.get("Mounts")
        assert not host["Devices"] and host["PidMode"] == "" and host["IpcMode"] in ("private", "shareable")


def test_bob_cannot_take_a_domain_alices_app_uses(sandbox, tmp_path, echo_image):
    sandbox.start_sshd()
    sandbox.run("ssh-keys:add", "root-admin", input=sandbox.new_key("root-admin").with_suffix(".pub").read_text())
    alice = Pusher(sandbox, tmp_path, "alice", role="user")
    bob = Pusher(sandbox, tmp_path, "bob", role="user")
    hers, his = sandbox.new_app_name(), sandbox.new_app_name()
    for user, app in ((alice, hers), (bob, his)):
        assert user.ssh("apps:create", app).returncode == 0
        sandbox.run("git:from-image", app, echo_image)
        assert user.ssh("config:set", app, f"GREETING={app}").returncode == 0
    assert alice.ssh("domains:add", hers, "www.alice.example").returncode == 0

    for domain in ("www.alice.example", "WWW.Alice.Example", f"{hers}.{sandbox.domain}"):
        refused = bob.ssh("domains:add", his, domain)
        assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert "already used by another app" in refused.stderr or "reserved" in refused.stderr
        assert hers not in refused.stderr.lower().replace(domain.lower(), "")  # whose it is, is not bob's business
    denied = bob.ssh("domains:remove", hers, "www.alice.example")
    assert "access denied" in denied.stderr
    assert json.loads(sandbox.run("domains:report", his, "--format", "json").stdout) == [f"{his}.{sandbox.domain}"]
    assert "www.alice.example" in json.loads(sandbox.run("domains:report", hers, "--format", "json").stdout)
    assert sandbox.get("www.alice.example")[1].startswith(f"{hers} from ".encode())


def test_no_tenant_claims_the_servers_address_or_the_global_domain(sandbox, tmp_path, echo_image):
    """Requests sent to the server by IP address, or to the bare global domain, belong to no app; the names under
    the global domain are the apps' own (another app's, or what lies under it)."""
    sandbox.start_sshd()
    sandbox.run("ssh-keys:add", "root-admin", input=sandbox.new_key("root-admin").with_suffix(".pub").read_text())
    bob = Pusher(sandbox, tmp_path, "bob", role="user")
    his, other = sandbox.new_app_name(), sandbox.new_app_name()
    assert bob.ssh("apps:create", his).returncode == 0
    sandbox.run("git:from-image", his, echo_image)
    sandbox.run("git:from-image", other, echo_image)
    before = sandbox.get("127.0.0.1"), sandbox.get(sandbox.domain)
    assert before[0][0] == before[1][0] == 404

    claims = ["127.0.0.1", "0.0.0.0", "127.1", "::1", "[::1]", sandbox.domain, sandbox.domain.upper(),
              f"{other}.{sandbox.domain}", f"www.{other}.{sandbox.domain}", f"{his}.{sandbox.domain}"]
    for domain in claims:
        refused = bob.ssh("domains:add", his, domain)
        lines = refused.stderr.strip().splitlines()
        assert refused.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (domain, refused.stderr)
        assert "IP address" in lines[0] or "reserved" in lines[0], (domain, lines)
    assert json.loads(sandbox.run("domains:report", his, "--format", "json").stdout) == [f"{his}.{sandbox.domain}"]
    assert (sandbox.get("127.0.0.1"), sandbox.get(sandbox.domain)) == before
    assert sandbox.get(f"{other}.{sandbox.domain}")[0] == 200
    assert sandbox.run("domains:add", his, "www.bob.example").returncode == 0  # a name of his own is fine

    # One an older ponton let him add still goes away.
    state = State(sandbox.root / "state")
    state.add_domain(his, "127.0.0.1")
    state.close()
    assert bob.ssh("domains:remove", his, "127.0.0.1").returncode == 0
    assert json.loads(sandbox.run("domains:report", his, "--format", "json").stdout) == [
        f"{his}.{sandbox.domain}", "www.bob.example"]


def test_instance_over_its_memory_limit_is_killed_restarted_and_reported(sandbox, deployed, watchdog):
    sandbox.run("resource:limit", deployed, "--memory", "64m")
    [container] = inspect("container", *settled(deployed, 1))
    assert container["HostConfig"]["Memory"] == 64 * 2**20
    assert container["HostConfig"]["MemorySwap"] == 64 * 2**20  # no swap past the limit
    limits = json.loads(sandbox.run("resource:report", deployed, "--format", "json").stdout)
    assert limits[0]["limit.memory"] == "64m" and limits[0]["from"]["limit.memory"] == "app"

    for attempt in (1, 2):
        [row] = report(sandbox, deployed)
        with pytest.raises(OSError):  # the kernel kills it while it allocates: no answer
            sandbox.get("anything", "/alloc/200", port=row["port"])
        eventually(lambda: (r := report(sandbox, deployed)[0])["restarts"] >= attempt and r["state"] == "running"
                   and r["health"] == "healthy", 60, f"restart number {attempt}")
        [row] = report(sandbox, deployed)
        assert row["last_exit"] == "out of memory", row
        assert row["container"] == container["Name"].lstrip("/")  # restarted in place, by the engine
    assert sandbox.get(sandbox.host(deployed))[0] == 200

    def ooms():
        events = json.loads(sandbox.run("events", deployed, "--format", "json").stdout)
        return [e["message"] for e in events if e["kind"] == "oom"]

    recorded = eventually(lambda: len(ooms()) >= 2 and ooms(), 30, "both kills in the events")
    # What ps:report falls back on once an engine forgets the OOM at the restart (newer engines do).
    assert all(f"web.1 ran out of memory (container {row['container']};" in m for m in recorded)


def test_limits_and_reservations_per_process_type_over_server_defaults(tmp_path, worker_image):
    box = Sandbox(tmp_path / "box", health_timeout=20, stop_timeout=5, memory_limit="256m", pids_limit=200)
    try:
        app = box.new_app_name()
        box.run("git:from-image", app, worker_image)
        box.run("ps:scale", app, "worker=1")
        box.run("resource:limit", app, "--cpu", "0.5")
        box.run("resource:limit", app, "--process", "worker", "--memory", "128m")
        box.run("resource:reserve", app, "--memory", "32m", "--cpu", "0.25")

        def host_config(process: str) -> dict:
            [found] = [c for c in inspect("container", *settled(app, 2))
                       if c["Config"]["Labels"]["ponton.process"] == process]
            return found["HostConfig"]

        web, worker = host_config("web"), host_config("worker")
        assert web["Memory"] == 256 * 2**20 and worker["Memory"] == 128 * 2**20  # server default, own value
        assert web["NanoCpus"] == worker["NanoCpus"] == 500_000_000
        assert web["MemoryReservation"] == worker["MemoryReservation"] == 32 * 2**20
        assert web["CpuShares"] == worker["CpuShares"] == 256
        assert web["PidsLimit"] == worker["PidsLimit"] == 200
        rows = {r["process"]: r for r in json.loads(box.run("resource:report", app, "--format", "json").stdout)}
        assert rows["web"]["limit.memory"] == "256m" and rows["web"]["from"]["limit.memory"] == "server"
        assert rows["worker"]["limit.memory"] == "128m" and rows["worker"]["from"]["limit.memory"] == "worker"

        box.run("resource:limit", app, "--process", "worker", "--clear")
        box.run("resource:limit", app, "--memory", "0")  # none, in spite of the server default
        assert host_config("web")["Memory"] == host_config("worker")["Memory"] == 0
        assert host_config("worker")["NanoCpus"] == 500_000_000
        events = json.loads(box.run("events", app, "--format", "json").stdout)
        assert sum(e["kind"] == "resources" for e in events) == 5
    finally:
        box.close()


def test_a_dockerfile_cannot_build_on_another_apps_image(sandbox, tmp_path):
    sandbox.start_sshd()
    sandbox.run("ssh-keys:add", "root-admin", input=sandbox.new_key("root-admin").with_suffix(".pub").read_text())
    alice = Pusher(sandbox, tmp_path, "alice", role="user")
    bob = Pusher(sandbox, tmp_path, "bob", role="user")
    hers, his = sandbox.new_app_name(), sandbox.new_app_name()
    alice.checkout(APPS / "echo")
    assert alice.push(hers).returncode == 0
    [image] = {c["Config"]["Image"] for c in inspect("container", *containers(hers))}
    image_id = inspect("image", image)[0]["Id"].removeprefix("sha256:")

    bob.checkout(APPS / "echo")  # his own app builds FROM the base image, as hers does
    for line in (f"FROM {image_id[:12]}", f"FROM {image}", f"FROM ponton/base:trixie\nCOPY --from={image} /app /x"):
        (bob.work / "Dockerfile").write_text(line + "\nRUN cat /app/app.py\n")
        bob.commit(line)
        refused = bob.push(his)
        assert refused.returncode != 0 and "this image is not allowed here" in refused.stderr, refused.stderr
        assert "Step 1/" not in refused.stderr  # refused before anything was built
    assert containers(his) == [] and bob.server_branch(his) == ""


def test_a_dockerfile_cannot_fetch_from_the_servers_network_nor_hide_behind_a_symlink(sandbox, pusher):
    """ADD of a URL runs in the engine, on the host's network: it could read 127.0.0.1 (here a listener standing
    for the metrics endpoint). A symlinked Dockerfile is read by the host, but resolved by the engine in the
    context: the check would read another file than the one built."""
    secret = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=secret.serve_forever, daemon=True)
    thread.start()
    try:
        app = sandbox.new_app_name()
        pusher.checkout(APPS / "echo")
        dockerfile = pusher.work / "Dockerfile"
        original = dockerfile.read_text()
        dockerfile.write_text(original + f"ADD http://127.0.0.1:{secret.server_port}/ /stolen\n")
        pusher.commit("fetch from the host")
        refused = pusher.push(app)
        assert refused.returncode != 0 and "ADD from a URL or a variable is not allowed" in refused.stderr, \
            refused.stderr
        assert "Step 1/" not in refused.stderr

        (pusher.work / "build").mkdir()
        (pusher.work / "build" / "Dockerfile").write_text(original)
        dockerfile.unlink()
        dockerfile.symlink_to("build/Dockerfile")
        pusher.commit("a symlinked Dockerfile")
        refused = pusher.push(app)
        assert refused.returncode != 0 and "Dockerfile is a symbolic link" in refused.stderr, refused.stderr
        assert "Step 1/" not in refused.stderr
        assert containers(app) == [] and pusher.server_branch(app) == ""
    finally:
        secret.shutdown()
        secret.server_close()


def test_a_build_is_capped_in_processes_and_cpu(tmp_path):
    """A fork bomb in a build step stops at build_pids_limit (the engine counts the step under a holder
    container's cgroup) and fails the build with one line saying so; the step runs under the build_cpus quota."""
    box = Sandbox(tmp_path / "box", build_pids_limit=64, build_cpus=0.5)
    try:
        app = box.new_app_name()
        dockerfile = ("FROM ponton/base:trixie\n"
                      f"RUN echo {app} quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)\n"  # never from the cache
                      "RUN for i in $(seq 200); do sleep 10 & done; wait\n"
                      "RUN false\n").encode()
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(dockerfile)
            tar.addfile(info, io.BytesIO(dockerfile))
        result = subprocess.run([sys.executable, "-m", "ponton", "git:from-archive", app], env=box.env,
                                input=archive.getvalue(), capture_output=True, timeout=600)
        out, err = result.stdout.decode(), result.stderr.decode()
        assert result.returncode != 0
        assert "quota=50000" in out + err  # 0.5 of the 100000 µs period
        [error] = [line for line in err.splitlines() if line.startswith("error:")]
        assert "build failed at step 3/4" in error
        assert "out of processes (the limit is 64, setting build_pids_limit)" in error, err
        assert "Traceback" not in err
        holders = subprocess.run(["docker", "ps", "-aq", "--filter", "label=ponton.build-holder"],
                                 capture_output=True, text=True, check=True).stdout.split()
        assert holders == []  # each build's holder goes with it
    finally:
        box.close()
