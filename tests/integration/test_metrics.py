"""Metrics per app from the engine and nginx's access log: `ponton metrics` and the watchdog's Prometheus endpoint
agree with a known number of requests sent through nginx."""

import http.client
import json
import sqlite3
import time

from prometheus_client.parser import text_string_to_metric_families

from ponton.features import history
from ponton.testing import Sandbox
from tests.integration.conftest import WatchdogProcess, eventually

OK, MISSING = 30, 7  # requests answered 200 (each after 20ms) and 404


def send_known_traffic(sandbox, app: str):
    host = sandbox.host(app)
    for _ in range(OK):
        assert sandbox.get(host, "/sleep/20")[0] == 200
    for _ in range(MISSING):
        assert sandbox.get(host, "/env/NOT_SET")[0] == 404


def snapshot(sandbox, app: str) -> dict:
    return json.loads(sandbox.run("metrics", app, "--format", "json").stdout)


def test_metrics_command_counts_the_requests_sent(sandbox, deployed):
    sandbox.run("ps:scale", deployed, "web=2")
    send_known_traffic(sandbox, deployed)
    data = eventually(lambda: (d := snapshot(sandbox, deployed))["total"]["requests"] == OK + MISSING and d, 30,
                      "the access log to hold every request")
    total = data["total"]
    assert total["responses"] == {"1xx": 0, "2xx": OK, "3xx": 0, "4xx": MISSING, "5xx": 0}
    assert total["rps"] > 0
    assert total["latency_ms"]["p50"] >= 20 and total["latency_ms"]["p99"] >= total["latency_ms"]["p50"]
    instances = data["instances"]
    assert sorted(i["instance"] for i in instances) == ["web.1", "web.2"]
    assert sum(i["requests"] for i in instances) == OK + MISSING  # each request counted for the one that answered
    for instance in instances:
        assert instance["state"] == "running" and instance["memory_bytes"] > 0 and instance["cpu_percent"] is not None
    [web] = data["processes"]
    assert web["process"] == "web" and web["requests"] == OK + MISSING
    table = sandbox.run("metrics", deployed).stdout
    assert "web.1" in table and "app (all)" in table and str(OK + MISSING) in table


def scrape(port: int) -> dict:
    """The endpoint's families by name (prometheus_client's own parser)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        assert response.status == 200
        text = response.read().decode()
    finally:
        connection.close()
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(families: dict, family: str, suffix: str = "", **labels) -> list:
    return [s for s in families[family].samples
            if s.name == family + suffix and all(s.labels.get(k) == v for k, v in labels.items())]


def test_prometheus_endpoint_of_the_watchdog(sandbox, deployed):
    dog = WatchdogProcess(sandbox)
    dog.start()
    try:
        def serving():
            try:
                return scrape(sandbox.metrics_port)
            except OSError:
                return None

        eventually(serving, 30, "the watchdog's metrics endpoint")
        send_known_traffic(sandbox, deployed)

        def counted():
            families = scrape(sandbox.metrics_port)
            total = sum(s.value for s in samples(families, "ponton_http_requests", "_total", app=deployed))
            return families if total == OK + MISSING else None

        families = eventually(counted, 30, f"{OK + MISSING} requests on the endpoint")
        sandbox.run("apps:destroy", deployed, "--force")
        eventually(lambda: not any(s.labels.get("app") == deployed
                                   for f in scrape(sandbox.metrics_port).values() for s in f.samples),
                   30, "the destroyed app's series to end")
    finally:
        dog.kill()
    by_class = {s.labels["status_class"]: s.value
                for s in samples(families, "ponton_http_requests", "_total", app=deployed)
                if s.labels["process"] == "web"}
    assert by_class == {"2xx": OK, "4xx": MISSING}
    [count] = samples(families, "ponton_http_request_duration_seconds", "_count", app=deployed, process="web")
    [total] = samples(families, "ponton_http_request_duration_seconds", "_sum", app=deployed, process="web")
    assert count.value == OK + MISSING and total.value >= OK * 0.020
    quantiles = {s.labels["quantile"]: s.value
                 for s in samples(families, "ponton_http_request_duration_seconds", app=deployed, process="web")}
    assert set(quantiles) == {"0.5", "0.9", "0.99"}
    assert quantiles["0.5"] >= 0.020 and quantiles["0.99"] >= quantiles["0.5"]
    [up] = samples(families, "ponton_instance_up", app=deployed)
    assert up.value == 1 and up.labels["instance"] == "web.1"
    [memory] = samples(families, "ponton_instance_memory_bytes", app=deployed)
    assert memory.value > 0
    [cpu] = samples(families, "ponton_instance_cpu_seconds", "_total", app=deployed)
    assert cpu.value > 0
    [restarts] = samples(families, "ponton_instance_restarts", "_total", app=deployed)
    assert restarts.value == 0


def test_the_web_service_samples_every_app_and_keeps_an_hour(tmp_path, echo_image):
    """The dashboard's plots come from samples `ponton web` takes; older ones than an hour are let go."""
    box = Sandbox(tmp_path, health_timeout=20, stop_timeout=5, web_sample_interval=1)
    try:
        app = box.new_app_name()
        box.run("git:from-image", app, echo_image)
        now = time.time()
        db = sqlite3.connect(box.root / "state" / "samples.db")
        with db:
            db.execute(history.SCHEMA)
            db.executemany("INSERT INTO samples VALUES (?, ?, 10, 5, 1, 2, 3, 4, 1)",
                           [(app, now - 2 * 3600), (app, now - 1800)])  # gone at the next sample, and kept
        db.close()
        box.start_web()

        def points():
            return json.loads(box.run("metrics:history", app, "--format", "json").stdout)["points"]

        fresh = eventually(lambda: [p for p in points() if p["time"] > now] or None, 30, "a sample of ponton web")
        assert fresh[0]["instances"] == 1 and fresh[0]["memory_bytes"] > 0
        db = sqlite3.connect(box.root / "state" / "samples.db")
        kept = sorted(row[0] for row in db.execute("SELECT time FROM samples WHERE time <= ?", (now,)))
        db.close()
        assert kept == [now - 1800]
        assert all(p["time"] > now for p in points())  # nothing from before the app was created is shown
    finally:
        box.close()
