"""accesslog: the proxy's JSON lines, read backwards for a window and forwards across rotations."""

import datetime
import json
import os

import pytest

from ponton.features import accesslog

T0 = 1_800_000_000


def line(t: int, status: int = 200, duration: float = 0.012, upstream: str = "127.0.0.1:20001") -> str:
    stamp = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat()
    return json.dumps({"time": stamp, "app": "shop", "host": "shop.x", "method": "GET", "uri": "/", "status": status,
                       "bytes": 3, "request_time": duration, "upstream": upstream, "upstream_time": "0.011"}) + "\n"


def test_parse():
    request = accesslog.parse(line(T0, 404, 0.25).encode())
    assert request == accesslog.Request(time=T0, status=404, duration=0.25, backend="127.0.0.1:20001")
    assert request.status_class == "4xx"
    # nginx tried one instance, then another: the last one answered
    assert accesslog.parse(line(T0, upstream="127.0.0.1:20001, 127.0.0.1:20002").encode()).backend == "127.0.0.1:20002"
    assert accesslog.parse(line(T0, 503, upstream="").encode()).backend is None  # nginx answered itself


def test_a_request_is_keyed_by_the_backend_address_on_any_node():
    # a cluster's upstreams are NODE_ADDRESS:PUBLISHED_PORT: the same port may be published on two nodes
    assert accesslog.parse(line(T0, upstream="10.0.0.7:30001").encode()).backend == "10.0.0.7:30001"
    assert accesslog.parse(line(T0, upstream="10.0.0.7:30001, 10.0.0.8:30001").encode()).backend == "10.0.0.8:30001"
    # an internal redirect to another group (error_page): nginx separates the groups with " : "
    assert accesslog.parse(line(T0, upstream="10.0.0.7:30001 : 10.0.0.9:30002").encode()).backend == "10.0.0.9:30002"
    # no instance answered: an upstream group's name (no live upstreams), a unix socket
    assert accesslog.parse(line(T0, 502, upstream="ponton_shop").encode()).backend is None
    assert accesslog.parse(line(T0, 502, upstream="unix:/run/x.sock").encode()).backend is None
    for bad in [b"", b"{", b"not json", b'{"time": "x", "status": 200, "request_time": 0}', b"[]"]:
        assert accesslog.parse(bad) is None


def test_recent_reads_only_the_window_even_from_a_big_file(tmp_path):
    log = tmp_path / "shop.access.log"
    with open(log, "w") as f:
        for n in range(20_000):  # several blocks
            f.write(line(T0 + n // 100))
        f.write('{"cut short')
    requests = accesslog.recent(log, since=T0 + 195)
    assert len(requests) == 500 and requests[0].time == T0 + 195
    assert len(accesslog.recent(log, since=0)) == 20_000
    assert accesslog.recent(tmp_path / "missing.log", since=0) == []
    with pytest.raises(FileNotFoundError):  # for the autoscaler: no log is no data, not no requests
        accesslog.recent(tmp_path / "missing.log", since=0, missing_ok=False)


def test_follower_reads_appended_lines_across_rotation(tmp_path):
    log = tmp_path / "shop.access.log"
    follower = accesslog.Follower(log)
    assert follower.read() == []
    log.write_text(line(T0) + line(T0 + 1)[:20])
    assert len(follower.read()) == 1  # the half-written line waits
    with open(log, "a") as f:
        f.write(line(T0 + 1)[20:] + line(T0 + 2))
    assert [r.time for r in follower.read()] == [T0 + 1, T0 + 2]
    os.rename(log, tmp_path / "shop.access.log.1")  # logrotate, then nginx reopens
    log.write_text(line(T0 + 3))
    assert [r.time for r in follower.read()] == [T0 + 3]
    log.write_text("")  # truncated (copytruncate)
    assert follower.read() == []
