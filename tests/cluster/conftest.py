"""A cluster of three Docker engines, each in a container of its own (engine-in-container), on a network this
module creates and removes: the nodes of tests/cluster. The test's ponton runs here, with the first node's
engine as its own (DOCKER_HOST): that node is the manager ponton runs on, the others join its swarm; this
machine's nginx (the sandbox's) plays the manager's.

Nodes are reached only on the test's own network (their engines listen on it, unauthenticated: nothing else
is on it). Their engines use vfs (no overlayfs inside overlayfs), so test images are tiny: busybox from Debian's
busybox-static package on an empty image.
"""

import contextlib
import ipaddress
import json
import secrets
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder.stacks import ensure_image
from ponton.core.settings import Settings
from ponton.testing import Sandbox
from runtime import registry
from tests.conftest import BASE_IMAGE, _docker

ROOT = Path(__file__).resolve().parents[2]
NODE_IMAGE = "ponton-test/node:trixie-install"
# What install.sh installs (its PACKAGES), there beforehand so that installing ponton on a node is quick; but
# docker-cli (docker.io only recommends it on trixie), which install.sh must then install itself.
NODE_PACKAGES = ("docker.io iproute2 iptables ca-certificates nginx libnginx-mod-stream openssh-server git debootstrap "
                 "debian-archive-keyring python3-venv sudo logrotate")
APP_IMAGE = "ponton-test/busybox-web"
NODES = 3
ENGINE_PORT = 2375
# The node runs its own engine: every capability but the one Docker refuses to pass on, no seccomp or AppArmor
# profile, the host's cgroups (v1 here: read-only unless bound), and IPv6 sysctls it cannot set on this kernel.
NODE_OPTIONS = ["--cap-add=ALL", "--cap-drop=SYS_RESOURCE", "--security-opt", "seccomp=unconfined",
                "--security-opt", "apparmor=unconfined", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                "-e", "DOCKER_ALLOW_IPV6_ON_IPV4_INTERFACE=1"]
START = ('mkdir -p /www && echo "hello $HELLO from $(hostname)" > /www/index.html && '
         'exec httpd -f -p "${PORT:-5000}" -h /www')


@dataclass
class Node:
    name: str  # the container's, and the node's host name
    ip: str

    @property
    def engine(self) -> str:
        return f"tcp://{self.ip}:{ENGINE_PORT}"

    def docker(self, *args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(["docker", "-H", self.engine, *args], capture_output=True, input=input, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} on {self.name}: {result.stderr.decode()}")
        return result


@dataclass
class Cluster:
    network: str
    subnet: ipaddress.IPv4Network
    node_image: str
    nodes: list[Node]
    image: str  # the test app, loaded into every node

    @property
    def manager(self) -> Node:
        return self.nodes[0]

    def load(self, image: str, nodes: list[Node] | None = None):
        """Put an image of this machine's engine into every node's (or those of `nodes`)."""
        saved = subprocess.run(["docker", "save", image], capture_output=True, check=True).stdout
        for node in self.nodes if nodes is None else nodes:
            node.docker("load", "-q", input=saved)

    @contextlib.contextmanager
    def new_server(self, *images: str):
        """One more node, in no swarm, with this checkout at /src (read-only) and `images` loaded: a server to
        install ponton on. Removed afterwards, also when the test failed."""
        number = len(self.nodes) + 1
        node = Node(f"{self.manager.name.rpartition('-')[0]}-{number}", str(self.subnet.network_address + 10 + number))
        try:
            self.start_node(node, "-v", f"{ROOT}:/src:ro")
            for image in images:
                self.load(image, [node])
            yield node
        finally:
            subprocess.run(["docker", "rm", "-f", "-v", node.name], capture_output=True)

    def start_node(self, node: Node, *options: str):
        """Start `node`'s container (`options`: more `docker run` options) and wait for its engine; remove() removes
        it."""
        _docker("run", "-d", "--name", node.name, "--hostname", node.name, "--network", self.network, "--ip", node.ip,
                "-v", "/var/lib/docker", *NODE_OPTIONS, *options, self.node_image,
                "dockerd", "--storage-driver=vfs", f"--cgroup-parent=/{node.name}",
                # --tls=false: no TLS on purpose (the test's own network), so the engine does not stall start-up to
                # warn about it.
                "-H", "unix:///var/run/docker.sock", "-H", f"tcp://{node.ip}:{ENGINE_PORT}", "--tls=false")
        _wait_engine(node)

    def sandbox(self, root: Path, **settings) -> Sandbox:
        """A ponton on the manager's engine."""
        box = Sandbox(root, health_timeout=30, stop_timeout=5, **settings)
        box.env["DOCKER_HOST"] = self.manager.engine
        return box


def _free_subnet() -> ipaddress.IPv4Network:
    used = [ipaddress.ip_network(subnet) for subnet in _docker(
        "network", "inspect", *_docker("network", "ls", "-q").split(),
        "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}").split()]
    for third in range(64, 128):
        candidate = ipaddress.ip_network(f"172.31.{third}.0/24")
        if not any(candidate.overlaps(u) for u in used):
            return candidate
    raise RuntimeError("no free 172.31.X.0/24 subnet for the cluster's network")


def build_node_image() -> str:
    """A node: Debian's Docker engine on ponton's base image (built once, kept)."""
    _docker("image", "inspect", BASE_IMAGE)
    dockerfile = (f"FROM {BASE_IMAGE}\n"
                  f"RUN apt-get update && apt-get install -y --no-install-recommends {NODE_PACKAGES} "
                  "&& rm -rf /var/lib/apt/lists/*\n")
    if subprocess.run(["docker", "image", "inspect", NODE_IMAGE], capture_output=True).returncode != 0:
        _docker("build", "-q", "-t", NODE_IMAGE, "-", input=dockerfile.encode())
    return NODE_IMAGE


def build_app_image() -> str:
    """A web app in a megabyte: busybox's httpd answering `hello $HELLO from HOSTNAME` on $PORT."""
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(["apt-get", "download", "-q", "busybox-static"], cwd=work, check=True, capture_output=True)
        deb = next(Path(work).glob("busybox-static_*.deb"))
        subprocess.run(["dpkg-deb", "-x", deb, f"{work}/root"], check=True)
        Path(work, "busybox").write_bytes(Path(work, "root/bin/busybox").read_bytes())
        Path(work, "busybox").chmod(0o755)
        Path(work, "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            f"CMD {json.dumps(['/bin/sh', '-c', START])}\n")
        _docker("build", "-q", "-t", APP_IMAGE, work)
    return APP_IMAGE


def build_registry_image() -> str:
    """The cluster registry's image, built here as install.sh builds it on every server it installs."""
    ensure_image(Settings(), registry.IMAGE, registry.DIRECTORY, print)
    return registry.IMAGE


@contextlib.contextmanager
def three_nodes(node_image: str, app_image: str, registry_image: str):
    """Three node engines on a network of their own; removed afterwards, also when what ran on them failed."""
    suffix = secrets.token_hex(3)
    subnet = _free_subnet()
    network = f"ponton-test-cluster-{suffix}"
    _docker("network", "create", "--subnet", str(subnet), network)
    nodes = [Node(f"ponton-node-{suffix}-{n}", str(subnet.network_address + 10 + n)) for n in range(1, NODES + 1)]
    built = Cluster(network, subnet, node_image, list(nodes), app_image)
    try:
        for node in nodes:
            built.start_node(node)
        built.load(app_image)
        built.load(registry_image)
        yield built
    finally:
        for node in built.nodes:
            ended = subprocess.run(["docker", "inspect", "-f", "{{.State.ExitCode}}", node.name], capture_output=True,
                                   text=True).stdout.strip()
            if ended not in ("0", "137"):  # its engine died on its own (137: a test killed it): say how
                logs = subprocess.run(["docker", "logs", "--tail", "20", node.name], capture_output=True, text=True)
                print(f"--- the engine of {node.name} is down; its last lines:\n{logs.stdout}{logs.stderr}")
            subprocess.run(["docker", "rm", "-f", "-v", node.name], capture_output=True)
        subprocess.run(["docker", "network", "rm", network], capture_output=True)


@pytest.fixture(scope="session")
def node_image() -> str:
    return build_node_image()


@pytest.fixture(scope="session")
def app_image() -> str:
    return build_app_image()


@pytest.fixture(scope="session")
def registry_image() -> str:
    return build_registry_image()


@pytest.fixture(scope="session")
def cluster(node_image, app_image, registry_image):
    with three_nodes(node_image, app_image, registry_image) as built:
        yield built


def _wait_engine(node: Node, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while node.docker("info", check=False).returncode != 0:
        if time.monotonic() > deadline:
            logs = subprocess.run(["docker", "logs", "--tail", "30", node.name], capture_output=True, text=True)
            raise AssertionError(f"the engine of {node.name} did not start:\n{logs.stdout}{logs.stderr}")
        time.sleep(0.2)
