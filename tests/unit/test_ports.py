"""ports:add mappings: parsing, the checks, what the containers publish and what nginx is given."""

import socket
from pathlib import Path

import pytest

from plugins.nginx.vhosts import render_stream, render_vhost
from ponton.core.errors import InvalidInput
from ponton.core.settings import Settings
from ponton.core.state import Port, Release
from ponton.features import portmaps
from ponton.features.proxysettings import AppProxy, PortRoute, Tls
from runtime import spec

RELEASE = Release(version=1, image="img", source="img", config={}, processes={"web": ""}, healthchecks={},
                  description="Deploy", created=0.0, status="succeeded")
SETTINGS = Settings(http_port=8080, https_port=8443, nginx_log_dir=Path("/logs"))
TLS = Tls(Path("/certs/app/server.crt"), Path("/certs/app/server.key"), "abc")


@pytest.mark.parametrize("text, expected", [
    ("tcp:9000:7000", ("tcp", 9000, 7000, "tcp", "7000/tcp")),
    ("udp:53:5353", ("udp", 53, 5353, "udp", "5353/udp")),
    ("grpcs:443:50051", ("grpcs", 443, 50051, "tcp", "50051/tcp")),
    ("http:1:65535", ("http", 1, 65535, "tcp", "65535/tcp")),
])
def test_parse(text, expected):
    mapping = portmaps.parse(text)
    assert (mapping.scheme, mapping.host_port, mapping.container_port, mapping.protocol,
            mapping.container_key) == expected
    assert str(mapping) == text


@pytest.mark.parametrize("text, message", [
    ("tcp:9000", "expected SCHEME:HOST_PORT:CONTAINER_PORT"),
    ("tcp:9000:7000:1", "expected SCHEME:HOST_PORT:CONTAINER_PORT"),
    ("", "expected SCHEME:HOST_PORT:CONTAINER_PORT"),
    ("ws:9000:7000", "unknown scheme 'ws'"),
    ("TCP:9000:7000", "unknown scheme 'TCP'"),
    ("tcp:0:7000", "invalid host port '0'"),
    ("tcp:65536:7000", "invalid host port '65536'"),
    ("tcp:+90:7000", "invalid host port '+90'"),
    ("tcp: 90:7000", "invalid host port ' 90'"),
    ("tcp:٩٠:7000", "invalid host port"),  # other scripts' digits are not port numbers
    ("tcp:9000:", "invalid container port ''"),
    ("tcp:9000:99999999", "invalid container port '99999999'"),
    ("tcp:9000:x;", "invalid container port 'x;'"),
])
def test_parse_refuses(text, message):
    with pytest.raises(InvalidInput, match="^" + message.replace("+", r"\+")):
        portmaps.parse(text)


def test_a_host_port_twice_in_one_command_is_refused_per_protocol():
    assert len(portmaps.parse_all(("tcp:9000:7000", "udp:9000:7000"))) == 2
    with pytest.raises(InvalidInput, match="host port 9000/tcp is given twice"):
        portmaps.parse_all(("tcp:9000:7000", "grpc:9000:50051"))


def test_bindable_sees_a_listener():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert not portmaps.bindable(listener.getsockname()[1], "tcp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        assert not portmaps.bindable(udp.getsockname()[1], "udp")


def test_web_containers_publish_extra_ports_on_loopback():
    args = spec.container_spec("shop", "web", 1, RELEASE, "o", 20001, extra_ports={"7000/udp": 20002})
    assert args["ports"] == {"5000/tcp": ("127.0.0.1", 20001), "7000/udp": ("127.0.0.1", 20002)}
    assert spec.container_spec("shop", "worker", 1, RELEASE, "o", extra_ports={"7000/udp": 20002})["ports"] == {}


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_stream_config_for_tcp_and_udp():
    proxy = AppProxy(ports=(
        PortRoute("tcp", 9000, 7000, ("127.0.0.1:20001", "127.0.0.1:20002"), {"127.0.0.1:20002": 3}),
        PortRoute("udp", 9000, 7000, ("127.0.0.1:20003",)), PortRoute("grpc", 9001, 50051, ("127.0.0.1:20004",)),
    ))
    text = lines(render_stream("shop", proxy))
    assert text[text.index("upstream ponton_shop_tcp_9000 {") + 1:][:2] == [
        "server 127.0.0.1:20001;", "server 127.0.0.1:20002 weight=3;"]
    assert "listen 9000;" in text and "proxy_pass ponton_shop_tcp_9000;" in text
    assert "listen 9000 udp;" in text and "proxy_pass ponton_shop_udp_9000;" in text
    assert not any("9001" in line for line in text)  # grpc is HTTP/2: the vhost's
    assert render_stream("shop", AppProxy(ports=(PortRoute("http", 9001, 5000, ("127.0.0.1:20001",)),))) is None


def test_stream_port_without_instances_still_listens_and_says_why():
    text = lines(render_stream("shop", AppProxy(ports=(PortRoute("tcp", 9000, 7000),))))
    assert "listen 9000;" in text
    assert 'return "app shop has no running web instances\\n";' in text
    assert not any(line.startswith(("upstream", "proxy_pass")) for line in text)


def test_vhost_servers_for_http_https_grpc_and_grpcs_ports():
    proxy = AppProxy(tls=TLS, ports=(
        PortRoute("http", 9080, 5000, ("127.0.0.1:20001",)),
        PortRoute("https", 9443, 5000, ("127.0.0.1:20001",)),
        PortRoute("grpc", 9050, 50051, ("127.0.0.1:20005",)),
        PortRoute("grpcs", 9051, 50051, ("127.0.0.1:20005",)),
        PortRoute("tcp", 9000, 7000, ("127.0.0.1:20006",)),
    ))
    text = lines(render_vhost(SETTINGS, "shop", ["shop.ponton.test"], ["127.0.0.1:20001"], None, proxy))
    for listen in ("listen 9080;", "listen 9443 ssl http2;", "listen 9050 http2;", "listen 9051 ssl http2;"):
        assert listen in text
    assert "proxy_pass http://ponton_shop_9080;" in text and "proxy_pass http://ponton_shop_9443;" in text
    assert "grpc_pass grpc://ponton_shop_9050;" in text and "grpc_pass grpc://ponton_shop_9051;" in text
    assert text.count("ssl_certificate /certs/app/server.crt;  # version abc") == 3  # the HTTPS port's too
    assert not any("9000" in line for line in text)  # tcp is the stream file's


def test_tls_ports_are_left_out_without_a_certificate():
    proxy = AppProxy(ports=(PortRoute("https", 9443, 5000, ("127.0.0.1:20001",)), PortRoute("grpc", 9050, 50051)))
    text = lines(render_vhost(SETTINGS, "shop", ["shop.ponton.test"], ["127.0.0.1:20001"], None, proxy))
    assert not any("9443" in line for line in text)
    assert "listen 9050 http2;" in text and "return 503;" in text


class FakeInstance:
    def __init__(self, web_port, published, process="web"):
        self.process, self.port, self._published = process, web_port, published
        self.host = "127.0.0.1"

    def published(self, key):
        return self._published.get(key)


class FakeState:
    def __init__(self, rows):
        self.rows = rows

    def ports(self, name=None):
        return self.rows


class FakePonton:
    def __init__(self, rows):
        self.state = FakeState(rows)


def test_routes_follow_the_web_backends_with_their_weights():
    """Only the instances routed to (a starting one is not given), each reached at HOST:PORT for the port; no
    listing of the engine's instances again."""
    old = FakeInstance(20001, {"7000/udp": 21001, "50051/tcp": 22001})  # old release
    canary = FakeInstance(20002, {"7000/udp": 21002, "50051/tcp": 22002})
    early = FakeInstance(20004, {})  # routed, but started before the port was added: nothing to route to
    rows = [Port("shop", "udp", 7000, "udp", 7000), Port("shop", "grpc", 50051, "tcp", 50051)]
    udp, grpc = portmaps.routes(FakePonton(rows), "shop", [old, canary, early], {old: 4, canary: 1})
    assert (udp.scheme, udp.host_port, udp.backends, udp.weights) == (
        "udp", 7000, ("127.0.0.1:21001", "127.0.0.1:21002"), {"127.0.0.1:21001": 4, "127.0.0.1:21002": 1})
    assert (grpc.scheme, grpc.backends, grpc.weights) == (
        "grpc", ("127.0.0.1:22001", "127.0.0.1:22002"), {"127.0.0.1:22001": 4, "127.0.0.1:22002": 1})
    assert portmaps.routes(FakePonton([]), "shop", [old], None) == ()
