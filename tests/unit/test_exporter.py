"""exporter: the autoscaled processes on the metrics endpoint, read from the exposition a scrape renders (the
engine's figures are integration-tested)."""

import dataclasses

from prometheus_client import CollectorRegistry, generate_latest

from ponton.core.context import Ponton
from ponton.core.settings import Settings
from ponton.features import exporter
from ponton.features.autoscale import Policy


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
