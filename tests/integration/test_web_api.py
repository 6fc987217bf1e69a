"""The JSON API against a real `ponton web` behind the sandbox's nginx, with real containers: what a token may do,
what another tenant's token gets (never the app's data), and JSON errors for bad input, never a 500."""

import json
import os
import time
from pathlib import Path

import pytest

from ponton.testing import Sandbox
from tests.integration.web import Api, add_user, expire_tokens, token


@pytest.fixture
def web(sandbox):
    add_user(sandbox, "alice")
    add_user(sandbox, "bob")
    sandbox.start_web()
    return sandbox


@pytest.fixture
def alice(web):
    return Api(web, token(web, "alices", "alice"))


@pytest.fixture
def bob(web):
    return Api(web, token(web, "bobs", "bob"))


@pytest.fixture
def alices_app(web, alice, echo_image):
    """An app alice created through the API, deployed (an admin deploys the image: git:from-image is theirs)."""
    app = web.new_app_name()
    assert alice.ok("POST", "/apps", {"name": app}) == [f"-----> Created {app}: http://{web.host(app)}:{web.http_port}"]
    web.run("git:from-image", app, echo_image)
    return app


def test_create_config_scale_rollback_with_a_token(web, alice, alices_app):
    app, host = alices_app, web.host(alices_app)
    assert alice.read("/apps") == [app]
    info = alice.read(f"/apps/{app}")
    assert (info["owner"], info["release"], info["state"]) == ("alice", "v1", "running")

    lines = alice.ok("POST", f"/apps/{app}/config", {"values": {"GREETING": "bonjour à tous", "EMPTY": ""}})
    assert "-----> Starting web.1 (v2)" in lines and lines[-1].startswith(f"=====> {app} v2 deployed")
    assert web.get(host)[1].startswith("bonjour à tous from ".encode())
    assert alice.read(f"/apps/{app}/config") == {"EMPTY": "", "GREETING": "bonjour à tous"}
    alice.ok("DELETE", f"/apps/{app}/config/EMPTY?restart=false")
    assert alice.read(f"/apps/{app}/config") == {"GREETING": "bonjour à tous"}

    alice.ok("POST", f"/apps/{app}/ps/scale", {"web": 2})
    assert sorted(i["instance"] for i in alice.read(f"/apps/{app}/ps")) == ["web.1", "web.2"]

    assert [r["status"] for r in alice.read(f"/apps/{app}/releases")] == ["current", "succeeded"]
    alice.ok("POST", f"/apps/{app}/rollback", {"version": "v1"})
    assert web.get(host)[1].startswith(b"hello from ")
    assert alice.read(f"/apps/{app}")["release"] == "v3"

    alice.ok("POST", f"/apps/{app}/domains", {"domain": "shop.example.org"})
    assert "shop.example.org" in alice.read(f"/apps/{app}/domains")
    alice.ok("DELETE", f"/apps/{app}/domains/shop.example.org")

    events = alice.read(f"/apps/{app}/events", params={"limit": "100"})
    assert {("alice", "config"), ("alice", "scale"), ("alice", "domains")} <= {(e["user"], e["kind"]) for e in events}
    metrics = alice.read(f"/apps/{app}/metrics", params={"window": "30"})
    assert sorted(i["instance"] for i in metrics["instances"]) == ["web.1", "web.2"]
    logs = alice.get(f"/apps/{app}/logs", params={"lines": "50"})
    assert logs.status_code == 200 and logs.headers["content-type"].startswith("text/plain")
    assert all(line.split(" ", 1)[0].startswith("web.") for line in logs.text.splitlines())


def test_a_change_that_fails_says_why_at_the_end_of_its_stream(web, alice, alices_app, silent_image):
    web.run("git:from-image", alices_app, silent_image, check=False)  # a release that never gets healthy
    status, lines, end = alice.change("POST", f"/apps/{alices_app}/rollback", {"version": "v2"})
    assert status == 200 and end["status"] == 422 and "health" in end["error"] and lines
    assert web.get(web.host(alices_app))[1].startswith(b"hello from ")


def test_another_tenants_token_gets_403_or_404_on_everything_of_the_app(web, alice, bob, alices_app):
    app = alices_app
    alice.ok("POST", f"/apps/{app}/config", {"values": {"SECRET": "alices-secret"}, "restart": False})
    calls = [("GET", f"/apps/{app}", None), ("DELETE", f"/apps/{app}", None), ("GET", f"/apps/{app}/config", None),
             ("POST", f"/apps/{app}/config", {"values": {"X": "1"}}), ("DELETE", f"/apps/{app}/config/SECRET", None),
             ("GET", f"/apps/{app}/ps", None), ("POST", f"/apps/{app}/ps/scale", {"web": 3}),
             ("POST", f"/apps/{app}/ps/restart", None), ("POST", f"/apps/{app}/ps/stop", None),
             ("GET", f"/apps/{app}/releases", None), ("POST", f"/apps/{app}/rollback", None),
             ("GET", f"/apps/{app}/domains", None), ("POST", f"/apps/{app}/domains", {"domain": "evil.example.org"}),
             ("DELETE", f"/apps/{app}/domains/{web.host(app)}", None), ("GET", f"/apps/{app}/logs", None),
             ("GET", f"/apps/{app}/metrics", None), ("GET", f"/apps/{app}/metrics/history", None),
             ("GET", f"/apps/{app}/events", None)]
    for method, path, body in calls:
        response = bob.request(method, path, json=body)
        assert response.status_code == 403, f"{method} {path}: {response.status_code} {response.text}"
        assert list(response.json()) == ["error"] and "alices-secret" not in response.text
    assert bob.get("/apps").json() == []
    assert bob.get("/apps/nosuchapp").status_code == 404
    # Nothing changed: still one instance, serving, with alice's config.
    assert alice.get(f"/apps/{app}/config").json() == {"SECRET": "alices-secret"}
    assert [i["instance"] for i in alice.get(f"/apps/{app}/ps").json()] == ["web.1"]
    assert web.get(web.host(app))[0] == 200


def test_no_token_a_wrong_one_or_an_expired_one_is_refused(web, alice, alices_app):
    for api in [Api(web, None), Api(web, "ponton_not-a-token"), Api(web, "x" * 5000)]:
        response = api.get(f"/apps/{alices_app}/config")
        assert response.status_code == 401 and list(response.json()) == ["error"]
    assert alice.get("/me").json() == {"user": "alice", "role": "user"}
    expire_tokens(web.root / "state")
    response = alice.get(f"/apps/{alices_app}/config")
    assert response.status_code == 401 and response.json() == {"error": "invalid or expired credentials"}


def test_a_server_token_acts_as_admin(web, alices_app):
    admin = Api(web, token(web, "ops"))
    assert admin.get("/me").json() == {"user": None, "role": "admin"}
    assert alices_app in admin.get("/apps").json()
    assert admin.get(f"/apps/{alices_app}/config").status_code == 200


@pytest.mark.parametrize("method, path, body, status", [
    ("POST", "/apps", {"name": "Bad Name"}, 400),
    ("POST", "/apps", {"name": "ponton"}, 400),
    ("POST", "/apps", {"name": "x", "owner": "bob"}, 400),
    ("POST", "/apps", ["not", "an", "object"], 400),
    ("POST", "/apps/{app}/config", {"values": {"BAD KEY": "x"}}, 400),
    ("POST", "/apps/{app}/config", {"values": {"K": "nul\u0000byte"}}, 400),
    ("POST", "/apps/{app}/config", {"values": {"PORT": "1"}}, 400),
    ("POST", "/apps/{app}/config", {"values": {}}, 400),
    ("POST", "/apps/{app}/ps/scale", {"web": -1}, 400),
    ("POST", "/apps/{app}/ps/scale", {"web": 10**30}, 400),
    ("POST", "/apps/{app}/ps/scale", {"--force": 1}, 400),
    ("POST", "/apps/{app}/ps/explode", None, 404),
    ("POST", "/apps/{app}/rollback", {"version": "v999999999999"}, 400),
    ("POST", "/apps/{app}/rollback", {"version": "v99"}, 404),
    ("POST", "/apps/{app}/domains", {"domain": "127.0.0.1"}, 400),
    ("POST", "/apps/{app}/domains", {"domain": "a.ponton.test"}, 400),
    ("GET", "/apps/{app}/logs?lines=-5", None, 400),
    ("GET", "/apps/{app}/logs?lines=" + "9" * 19, None, 400),
    ("GET", "/apps/{app}/events?limit=1e9", None, 400),
    ("GET", "/apps/{app}/metrics?window=0", None, 400),
    ("GET", "/apps/..%2F..%2Fetc/config", None, 404),
    ("GET", "/nowhere", None, 404),
    ("PUT", "/apps", None, 405),
])
def test_bad_input_is_one_line_of_json_error(web, alice, method, path, body, status):
    app = web.new_app_name()
    alice.ok("POST", "/apps", {"name": app})
    response = alice.request(method, path.format(app=app), json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert isinstance(error, str) and "\n" not in error and "Traceback" not in error


def test_bodies_are_bounded_and_malformed_ones_refused(web, alice):
    response = alice.request("POST", "/apps", data=b'{"name": "' + b"a" * (2 << 20) + b'"}',
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "larger than" in response.json()["error"]  # nginx's answer
    direct = alice.session.post(f"http://127.0.0.1:{web.web_port}/api/v1/apps", data=b"x" * (2 << 20))
    assert direct.status_code == 413 and "larger than" in direct.json()["error"]  # ponton web's own
    for data in [b"{", b"[" * 100_000, b'{"name": 1e999}', b'{"name": "\xff"}']:
        response = alice.request("POST", "/apps", data=data, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, response.text
    assert not (web.root / "state" / "errors.log").exists()


def test_logs_stream_as_they_come_and_the_command_ends_with_the_client(web, alice, alices_app):
    response = alice.get(f"/apps/{alices_app}/logs", params={"follow": "true", "lines": "0"}, stream=True,
                         headers={"Accept": "text/event-stream"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    web.run("ps:restart", alices_app)  # a new instance, which says it listens
    lines = response.iter_lines()
    event = next(line for line in lines if line.startswith(b"data: "))
    assert json.loads(event[6:]).startswith("web.1 | listening on ")
    children = Path(f"/proc/{web.web.pid}/task/{web.web.pid}/children")
    assert children.read_text().split()  # the command that follows the logs
    response.close()
    deadline = time.monotonic() + 20
    while children.read_text().split() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not children.read_text().split(), "the logs command outlived its client"


def test_clients_that_go_away_give_their_place_back(web, alice, alices_app):
    """Each user's commands running at once are bounded (8): those of clients that left no longer count."""
    for _ in range(10):
        response = alice.get(f"/apps/{alices_app}/logs", params={"follow": "true", "lines": "5"}, stream=True)
        assert response.status_code == 200
        response.close()
    assert alice.get("/apps").status_code == 200


def test_the_openapi_document_describes_every_endpoint(web):
    document = Api(web, None).get("/openapi.json").json()
    paths = document["paths"]
    for path in ["/api/v1/apps", "/api/v1/apps/{app}/config", "/api/v1/apps/{app}/ps/scale",
                 "/api/v1/apps/{app}/rollback", "/api/v1/apps/{app}/domains", "/api/v1/apps/{app}/logs",
                 "/api/v1/apps/{app}/metrics", "/api/v1/apps/{app}/events"]:
        assert path in paths
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert os.environ.get("PONTON_USER") is None


def test_a_change_waits_for_no_nginx_worker_carrying_it_and_closes_its_connection(tmp_path, echo_image):
    """A change that reloads nginx must not wait for the old worker that carries the change's own request (it
    cannot finish before the change): it would wait drain_timeout. And that worker closes the connection after
    the answer, which says so, so that no client sends its next request on it."""
    box = Sandbox(tmp_path, health_timeout=20, stop_timeout=5, drain_timeout=300)
    try:
        add_user(box, "alice")
        box.start_web()
        alice = Api(box, token(box, "alices", "alice"))
        app = box.new_app_name()
        alice.ok("POST", "/apps", {"name": app})
        box.run("git:from-image", app, echo_image)
        started = time.monotonic()
        response = alice.request("POST", f"/apps/{app}/config", json={"values": {"GREETING": "salut"}}, stream=True)
        assert response.text.splitlines()[-1] == '{"ok": true}', response.text
        assert time.monotonic() - started < 150  # its reloads waited for no drain_timeout (300s)
        assert response.headers["connection"] == "close"
        assert box.get(box.host(app))[1].startswith(b"salut from ")
        assert alice.get("/apps").headers["connection"] == "keep-alive"  # a read keeps it
    finally:
        box.close()
