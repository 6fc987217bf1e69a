"""exporter: the autoscaled processes on the metrics endpoint, and the requests of each instance wherever it runs,
read from the exposition a scrape renders (the engine's figures are integration-tested)."""

import dataclasses
import json

from prometheus_client import CollectorRegistry, generate_latest

from ponton.core.context import Ponton
from ponton.core.settings import Settings
from ponton.features import exporter
from ponton.features.autoscale import Policy
from tests.unit.test_scheduler import FakeInstance


class NoInstances:
    """A scheduler with nothing running: the autoscaling series come from the state alone."""

    def owned_instances(self):
        return {}


def scrape(settings) -> set[str]:
    registry = CollectorRegistry()
    registry.register(exporter.Collector(settings, NoInstances()))
    return {line for line in generate_latest(registry).decode().splitlines() if line.startswith("ponton_autoscale")}


def test_each_autoscaled_process_has_its_desired_current_min_and_max(tmp_path):
    settings = Settings(state_dir=tmp_path / "state", nginx_log_dir=tmp_path / "logs")
    p = Ponton(settings)
    for app in ("shop", "blog", "plain"):
        p.state.create_app(app)
    p.state.set_autoscale("shop", "web", dataclasses.asdict(Policy(minimum=1, maximum=4, rps=20)))
    p.state.set_formation("shop", {"web": 3})
    p.state.record_autoscale_decision("shop", "web", 3, "46.5 requests/s per instance (target 20): 1 -> 3",
                                      1000.0, changed=True)
    p.state.set_autoscale("blog", "worker", dataclasses.asdict(Policy(minimum=0, maximum=2, cpu=50)))
    p.state.close()
    assert scrape(settings) == {
        'ponton_autoscale_desired{app="shop",process="web"} 3.0',
        'ponton_autoscale_current{app="shop",process="web"} 3.0',
        'ponton_autoscale_min{app="shop",process="web"} 1.0',
        'ponton_autoscale_max{app="shop",process="web"} 4.0',
        # no decision yet: no desired count, but the count now and the bounds
        'ponton_autoscale_current{app="blog",process="worker"} 0.0',
        'ponton_autoscale_min{app="blog",process="worker"} 0.0',
        'ponton_autoscale_max{app="blog",process="worker"} 2.0',
    }


class TwoNodes:
    """web.1 and web.2 of shop, each on a node of its own, both publishing port 30001 (as on a cluster)."""

    def owned_instances(self):
        return {"shop": [FakeInstance("a", "web", 1, 1, "10.0.0.1", 30001),
                         FakeInstance("b", "web", 2, 1, "10.0.0.2", 30001)]}

    def usage(self, instance, sample=False):
        return {"cpu_seconds": 1.0, "cpu_percent": None, "memory": 1, "memory_limit": None}


def test_requests_are_counted_for_the_instance_at_their_backend_address(tmp_path):
    settings = Settings(state_dir=tmp_path / "state", nginx_log_dir=tmp_path)
    Ponton(settings).state.create_app("shop")
    (tmp_path / "shop.access.log").write_text("".join(
        json.dumps({"time": "2026-01-01T00:00:00+00:00", "status": status, "request_time": 0.01, "upstream": upstream})
        + "\n" for upstream, status in [("10.0.0.1:30001", 200), ("10.0.0.2:30001", 200), ("10.0.0.2:30001", 200),
                                        ("", 301)]))  # the last one: a redirect to HTTPS, by nginx itself
    registry = CollectorRegistry()
    registry.register(exporter.Collector(settings, TwoNodes()))
    counted = {line for line in generate_latest(registry).decode().splitlines()
               if line.startswith("ponton_http_requests_total")}
    assert counted == {
        'ponton_http_requests_total{app="shop",instance="web.1",process="web",status_class="2xx"} 1.0',
        'ponton_http_requests_total{app="shop",instance="web.2",process="web",status_class="2xx"} 2.0',
        'ponton_http_requests_total{app="shop",instance="",process="",status_class="3xx"} 1.0',
    }
