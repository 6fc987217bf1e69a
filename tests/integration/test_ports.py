"""ports:add/remove/report: TCP, UDP, gRPC (cleartext and TLS), HTTP and HTTPS on extra host ports, websockets
through the proxy, and connections that outlive another app's redeploy. All traffic goes to 127.0.0.1."""

import base64
import hashlib
import json
import os
import socket
import threading
import time

import grpc
import pytest

from ponton.features import portmaps
from ponton.testing import CertificateAuthority, Sandbox, free_port
from runtime import hostports

from .conftest import APPS, _docker

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@pytest.fixture(scope="session")
def protocols_image(echo_image) -> str:
    """tests/apps/protocols: HTTP and websockets on $PORT, echo on 7000/tcp and 7000/udp, gRPC on 50051."""
    _docker("build", "-q", "-t", "ponton-test/protocols", "--build-arg", f"BASE={echo_image}",
            str(APPS / "protocols"))
    return "ponton-test/protocols"


@pytest.fixture
def app(sandbox, protocols_image) -> str:
    name = sandbox.new_app_name()
    sandbox.run("git:from-image", name, protocols_image)
    return name


def tcp_echo(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        return _recv_exactly(s, len(data))


def udp_ask(port: int, data: bytes, tries: int = 5) -> bytes:
    """One datagram to 127.0.0.1:port and its answer (UDP may drop one: a few tries, each waiting 2s)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        for _ in range(tries):
            s.sendto(data, ("127.0.0.1", port))
            try:
                return s.recvfrom(65536)[0]
            except TimeoutError:
                continue
    raise AssertionError(f"no UDP answer from port {port} after {tries} tries")


def _recv_exactly(s: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = s.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def ws_open(port: int, host: str) -> socket.socket:
    """A websocket to /ws of `host` through nginx on 127.0.0.1:port (RFC 6455 handshake, checked)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: " + host.encode() + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed during the handshake: {response!r}")
        response += chunk
    assert response.startswith(b"HTTP/1.1 101 "), response
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
    headers = dict(line.split(b": ", 1) for line in response.split(b"\r\n")[1:] if b": " in line)
    assert {k.lower(): v for k, v in headers.items()}[b"sec-websocket-accept"] == accept, response
    return s


def ws_echo(s: socket.socket, text: str) -> str:
    payload, mask = text.encode(), os.urandom(4)
    assert len(payload) < 126
    s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    header = _recv_exactly(s, 2)
    assert header[0] == 0x81 and header[1] < 126, header
    return _recv_exactly(s, header[1]).decode()


def report(sandbox, app) -> list[str]:
    return [m["mapping"] for m in json.loads(sandbox.run("ports:report", app, "--format", "json").stdout)]


def test_tcp_and_udp_echo_on_their_host_ports(sandbox, app):
    tcp_port, udp_port = free_port(), free_port()
    out = sandbox.run("ports:add", app, f"tcp:{tcp_port}:7000", f"udp:{udp_port}:7000").stdout
    assert "publish container port 7000/tcp, 7000/udp" in out  # the instance was replaced to publish them
    assert report(sandbox, app) == sorted([f"tcp:{tcp_port}:7000", f"udp:{udp_port}:7000"],
                                          key=lambda m: int(m.split(":")[1]))

    assert tcp_echo(tcp_port, b"hello over tcp\n") == b"hello over tcp\n"
    assert udp_ask(udp_port, b"ping").endswith(b": ping")
    assert sandbox.get(sandbox.host(app))[0] == 200  # the domain is still served over HTTP

    # The containers publish every port on loopback only.
    name = _docker("ps", "--filter", f"label=ponton.app={app}", "--format", "{{.Names}}").split()[0]
    bindings = json.loads(_docker("inspect", "--format", "{{json .HostConfig.PortBindings}}", name))
    assert set(bindings) == {"5000/tcp", "7000/tcp", "7000/udp"}
    assert {b["HostIp"] for values in bindings.values() for b in values} == {"127.0.0.1"}

    # Two instances: UDP datagrams from different clients reach both (nginx balances sessions).
    sandbox.run("ps:scale", app, "web=2")
    answers = {udp_ask(udp_port, b"x").split(b":")[0] for _ in range(12)}
    assert len(answers) == 2, answers
    assert tcp_echo(tcp_port, b"still here") == b"still here"

    sandbox.run("ports:remove", app, f"tcp:{tcp_port}:7000")
    with pytest.raises(ConnectionRefusedError):
        tcp_echo(tcp_port, b"gone")
    assert report(sandbox, app) == [f"udp:{udp_port}:7000"]
    assert udp_ask(udp_port, b"again").endswith(b": again")

    sandbox.run("apps:destroy", app, "--force")  # its ports go with it
    assert not (sandbox.conf_dir / "stream" / f"{app}.conf").exists()
    assert portmaps.bindable(udp_port, "udp")


def test_grpc_and_http_ports_through_the_proxy(sandbox, app, tmp_path):
    host = sandbox.host(app)
    ca = CertificateAuthority(tmp_path / "ca")
    grpc_port, grpcs_port, http_port, https_port = free_port(), free_port(), free_port(), free_port()
    refused = sandbox.run("ports:add", app, f"grpcs:{grpcs_port}:50051", check=False)
    assert refused.returncode == 2 and f"needs a certificate for {app}" in refused.stderr
    sandbox.certs_add(app, *ca.issue(host))
    sandbox.run("ports:add", app, f"grpc:{grpc_port}:50051", f"grpcs:{grpcs_port}:50051",
                f"http:{http_port}:5000", f"https:{https_port}:5000")

    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        assert channel.unary_unary("/echo.Echo/Say")(b"hi", timeout=10).endswith(b": hi")
    credentials = grpc.ssl_channel_credentials(root_certificates=ca.cafile.read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{grpcs_port}", credentials,
                             options=[("grpc.ssl_target_name_override", host)]) as channel:
        assert channel.unary_unary("/echo.Echo/Say")(b"secure", timeout=10).endswith(b": secure")

    status, body = sandbox.get("any-name.example", port=http_port)  # the port is the app's, whatever the Host
    assert status == 200 and body.startswith(b"protocols from ")
    status, body, _ = sandbox.get_tls(host, cafile=str(ca.cafile), port=https_port)
    assert status == 200 and body.startswith(b"protocols from ")

    # The certificate cannot go while TLS ports need it.
    result = sandbox.run("certs:remove", app, check=False)
    assert result.returncode == 2 and "need its certificate" in result.stderr


def test_websocket_echo_through_the_proxy(sandbox, app):
    ws = ws_open(sandbox.http_port, sandbox.host(app))
    with ws:
        assert [ws_echo(ws, f"message {n}") for n in range(3)] == ["message 0", "message 1", "message 2"]


DRAIN = 15


@pytest.fixture
def draining(tmp_path):
    """A sandbox whose reloads wait at most DRAIN seconds for the old nginx workers to finish."""
    box = Sandbox(tmp_path / "draining", health_timeout=20, stop_timeout=5, drain_timeout=DRAIN)
    yield box
    box.close()


def test_tcp_and_websocket_continue_across_another_apps_redeploy(draining, protocols_image, echo_image):
    box = draining
    app, other = box.new_app_name(), box.new_app_name()
    box.run("git:from-image", app, protocols_image)
    box.run("git:from-image", other, echo_image)
    tcp_port = free_port()
    box.run("ports:add", app, f"tcp:{tcp_port}:7000")

    with socket.create_connection(("127.0.0.1", tcp_port), timeout=10) as tcp, ws_open(box.http_port, box.host(app)) as ws:
        tcp.sendall(b"before")
        assert _recv_exactly(tcp, 6) == b"before"
        assert ws_echo(ws, "before") == "before"
        served_before = box.get(box.host(other))[1]

        box.run("config:set", other, "GREETING=redeployed")  # new containers, nginx reloaded for them

        assert box.get(box.host(other))[1].startswith(b"redeployed from ")
        assert served_before.startswith(b"hello from ")
        tcp.sendall(b"after")
        assert _recv_exactly(tcp, 5) == b"after"
        assert ws_echo(ws, "after") == "after"

        # The workers still serving them belong to an old config: later changes do not wait for them.
        started = time.monotonic()
        box.run("config:set", other, "GREETING=again")
        assert time.monotonic() - started < DRAIN
        tcp.sendall(b"again")
        assert _recv_exactly(tcp, 5) == b"again"
        assert ws_echo(ws, "again") == "again"


def test_tcp_port_drops_no_connection_while_its_app_rolls(sandbox, app):
    """The tcp upstream swaps instance by instance with the web upstream: new connections always get an answer."""
    tcp_port = free_port()
    sandbox.run("ports:add", app, f"tcp:{tcp_port}:7000")
    sandbox.run("ps:scale", app, "web=2")
    stop, failures, ok = threading.Event(), [], [0]
    deadline = time.monotonic() + 300

    def connect_loop():
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                assert tcp_echo(tcp_port, b"ping") == b"ping"
                ok[0] += 1
            except (OSError, AssertionError) as e:
                failures.append(repr(e))

    threads = [threading.Thread(target=connect_loop) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        sandbox.run("config:set", app, "GREETING=rolled")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == [] and ok[0] > 20, (failures[:5], ok[0])


def test_ports_that_are_taken_or_malformed_are_refused(sandbox, app, deployed):
    port = free_port()
    sandbox.run("ports:add", deployed, f"tcp:{port}:5000")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    with listener:
        busy = listener.getsockname()[1]
        low = 20000  # the default port_range starts here
        cases = {
            f"tcp:{port}:7000": f"host port {port}/tcp is already used by app {deployed}",
            f"http:{port}:5000": f"host port {port}/tcp is already used by app {deployed}",
            f"tcp:{sandbox.http_port}:7000": f"host port {sandbox.http_port} is ponton's HTTP port",
            f"grpc:{sandbox.https_port}:50051": f"host port {sandbox.https_port} is ponton's HTTPS port",
            f"tcp:{busy}:7000": f"host port {busy}/tcp is in use by another program on this server",
            f"udp:{low}:7000": f"host port {low} is in 20000-29999 (setting port_range)",
            f"ftp:{port}:21": "unknown scheme 'ftp'",
            f"TCP:{port}:7000": "unknown scheme 'TCP'",
            "tcp:0:7000": "invalid host port '0'",
            "tcp:65536:7000": "invalid host port '65536'",
            "tcp:-1:7000": "invalid host port '-1'",
            "tcp:9000:http": "invalid container port 'http'",
            "tcp:9000": "expected SCHEME:HOST_PORT:CONTAINER_PORT",
        }
        for mapping, message in cases.items():
            result = sandbox.run("ports:add", app, mapping, check=False)
            assert result.returncode == 2 and message in result.stderr, (mapping, result.stderr)
        # One bad mapping among good ones: nothing is added.
        result = sandbox.run("ports:add", app, f"udp:{free_port()}:7000", f"tcp:{busy}:7000", check=False)
        assert result.returncode == 2
    assert report(sandbox, app) == []
    assert not (sandbox.conf_dir / "stream" / f"{app}.conf").exists()
    # The same number over udp is another port.
    sandbox.run("ports:add", app, f"udp:{port}:7000")
    assert udp_ask(port, b"ok").endswith(b": ok")
    result = sandbox.run("ports:remove", app, f"tcp:{port}:7000", check=False)
    assert result.returncode == 3 and f"app {app} has no port mapping tcp:{port}:7000" in result.stderr


def test_an_app_named_like_another_apps_port_deploys_too(sandbox, deployed, echo_image):
    """App A with port P and an app named A-P: their nginx names must differ, or one tenant blocks the other."""
    port = free_port()
    sandbox.run("ports:add", deployed, f"http:{port}:5000")
    other = f"{deployed}-{port}"
    result = sandbox.run("git:from-image", other, echo_image, check=False)
    assert result.returncode == 0, result.stderr
    sandbox.run("ps:scale", deployed, "web=2")  # and the first app's routing still changes
    for host in (sandbox.host(deployed), sandbox.host(other)):
        status, body = sandbox.get(host)
        assert status == 200 and body.startswith(b"hello from "), (host, status, body)
    assert sandbox.get("any-name.example", port=port)[0] == 200


def test_host_ports_claimed_by_running_and_stopped_containers_are_taken(echo_image):
    """Every container's claimed loopback port is taken for a new instance: a running one's (from the engine's
    listing) and one that is created or exited (from its inspection: it gets that port back when it starts)."""
    running, stopped = free_port(), free_port()
    names = [f"ponton-test-ports-{os.getpid()}-{kind}" for kind in ("running", "stopped")]
    try:
        _docker("run", "-d", "--name", names[0], "-p", f"127.0.0.1:{running}:5000", echo_image, "sleep", "600")
        _docker("create", "--name", names[1], "-p", f"127.0.0.1:{stopped}:5000", echo_image)
        assert {running, stopped} <= hostports.used()
    finally:
        _docker("rm", "-f", *names)
