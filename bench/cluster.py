"""Several servers (issue 13), on three node engines in containers (tests/cluster/conftest.py's nodes: vfs storage,
so figures are those of a slow disk):

- push to serving: a new release of an app of one Dockerfile (FROM the busybox web app, a new HELLO each time)
  at web=2, from the start of `git:from-archive` until nginx answers with the new release; on the cluster (built
  on the manager, pushed to the cluster's registry, run on nodes that pull it) and on one server (this machine's
  engine), median of PUSH_RUNS each;
- failover: a worker that runs instances is cut off the cluster's network (as a lost machine is: no FIN, no
  answer), with the watchdog running; from then until every instance runs on another node and nginx no longer
  routes to it, median of FAILOVER_RUNS (the node is connected again between runs);
- the push again with a worker labelled ingress=true: each change of routes then waits for that node's nginx
  (the sync job), which shows in when the push returns.
"""

import json
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.common import fetch, log, sandbox, seconds, wait_for, watchdog
from tests.cluster.conftest import build_app_image, build_node_image, build_registry_image, three_nodes
from tests.conftest import BASE_IMAGE, _docker

PUSH_RUNS, FAILOVER_RUNS = 3, 3
FAILOVER_TARGET = 30.0  # seconds: lost instances out of the routes and back elsewhere (issue 13)
INSTANCES = 3  # for the failover: on three nodes, a worker runs one or more
PUSH_MAX, FAILOVER_MAX = 300.0, 120.0  # seconds: longer fails the measurement


def run(report):
    app_image = build_app_image()
    with tempfile.TemporaryDirectory(prefix="ponton-bench-cluster-") as root, \
            three_nodes(build_node_image(), app_image, build_registry_image()) as cluster:
        box = cluster.sandbox(Path(root))
        try:
            _form(box, cluster)
            on_cluster = _pushes(box, cluster.image)
            failovers = _failovers(box, cluster)
            log(f"labelling {cluster.nodes[2].name} ingress=true")
            box.run("nodes:label", cluster.nodes[2].name, "ingress=true")
            with_ingress = _pushes(box, cluster.image)
        finally:
            box.close()
    with sandbox(health_timeout=30, stop_timeout=5) as one:
        on_one = _pushes(one, app_image)
    report.row("cluster: push to serving, 3 nodes", seconds([s for s, _ in on_cluster]))
    report.row("cluster: push returned, 3 nodes", seconds([r for _, r in on_cluster]))
    report.row("cluster: push returned, with an ingress worker", seconds([r for _, r in with_ingress]))
    report.row("one server: push to serving (same app)", seconds([s for s, _ in on_one]))
    report.row("cluster: failover of a cut-off worker", seconds(failovers), f"< {FAILOVER_TARGET:g} s",
               ok=statistics.median(failovers) < FAILOVER_TARGET)


def _form(box, cluster):
    """The manager's ponton makes the cluster and the two other nodes join it, as in tests/cluster."""
    log("forming a cluster of three nodes")
    box.run("cluster:init", "--advertise-addr", cluster.manager.ip)
    token, _, address = box.run("cluster:join-command").stdout.split()[0].partition("=")[2].partition("@")
    for node in cluster.nodes[1:]:
        node.docker("swarm", "join", "--advertise-addr", node.ip, "--token", token, address)
    # The base image, as install.sh builds it on a server: builds need it.
    cluster.manager.docker("load", "-q", input=subprocess.run(["docker", "save", BASE_IMAGE], capture_output=True,
                                                              check=True).stdout)
    wait_for(lambda: [n["state"] for n in _nodes(box)] == ["ready"] * 3, 60, "three ready nodes", 0.2)


def _nodes(box) -> list[dict]:
    return json.loads(box.run("nodes:list", "--format", "json").stdout)


def _pushes(box, image: str) -> list[tuple[float, float]]:
    """(push to serving, push returned) in seconds, for each of PUSH_RUNS releases of a new app at web=2."""
    app = box.new_app_name()
    box.push_dockerfile(app, f"FROM {image}\nENV HELLO=first\n")
    box.run("ps:scale", app, "web=2")
    figures = []
    for number in range(PUSH_RUNS):
        word = f"release{number}"
        log(f"pushing {word} of {app}")
        returned: list[float] = []
        started = time.monotonic()
        push = threading.Thread(target=lambda: (box.push_dockerfile(app, f"FROM {image}\nENV HELLO={word}\n"),
                                                returned.append(time.monotonic() - started)))
        push.start()
        serving = wait_for(lambda: (fetch(box.http_port, host=box.host(app)) or b"").startswith(f"hello {word}".encode()),
                           PUSH_MAX, f"{word} serving")
        push.join(PUSH_MAX)
        if not returned:
            raise RuntimeError(f"the push of {word} failed or did not return (see above)")
        figures.append((serving, returned[0]))
    box.run("apps:destroy", app, "--force")
    return figures


def _failovers(box, cluster) -> list[float]:
    app = box.new_app_name()
    box.run("git:from-image", app, cluster.image)
    box.run("ps:scale", app, f"web={INSTANCES}")
    conf = box.conf_dir / f"{app}.conf"
    names = {node.name: node for node in cluster.nodes[1:]}
    figures = []
    with watchdog(box):
        for number in range(FAILOVER_RUNS):
            rows = _report(box, app)
            on_workers = [r["node"] for r in rows if r["node"] in names]
            if not on_workers:  # all on the manager after the last runs: spread them again
                box.run("ps:restart", app)
                on_workers = [r["node"] for r in _report(box, app) if r["node"] in names]
            victim = names[max(set(on_workers), key=on_workers.count)]
            log(f"failover {number + 1}: cutting {victim.name} off, with {on_workers.count(victim.name)} instance(s)")
            _docker("network", "disconnect", "-f", cluster.network, victim.name)
            try:
                figures.append(wait_for(
                    lambda: (rows := _report(box, app)) and len(rows) == INSTANCES
                    and all(r["state"] == "running" and r["node"] != victim.name for r in rows)
                    and f"server {victim.ip}:" not in conf.read_text(), FAILOVER_MAX, "the instances elsewhere", 0.2))
            finally:
                _docker("network", "connect", "--ip", victim.ip, cluster.network, victim.name)
            wait_for(lambda: all(n["state"] == "ready" for n in _nodes(box)), 60, f"{victim.name} back", 0.2)
    box.run("apps:destroy", app, "--force")
    return figures


def _report(box, app: str) -> list[dict]:
    return json.loads(box.run("ps:report", app, "--format", "json").stdout)
