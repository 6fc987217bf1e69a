"""metrics: percentiles and traffic summaries (the engine and log parts are integration-tested)."""

from ponton.features import metrics
from ponton.features.accesslog import Request


def test_percentile_nearest_rank():
    values = [v / 100 for v in range(1, 101)]
    assert metrics.percentile(values, 0.5) == 0.5
    assert metrics.percentile(values, 0.99) == 0.99
    assert metrics.percentile([3.0], 0.9) == 3.0
    assert metrics.percentile([], 0.5) is None


def test_traffic_summary():
    at = "127.0.0.1:20001"
    requests = [Request(0, 200, 0.010, at), Request(0, 204, 0.020, at), Request(0, 404, 0.030, at),
                Request(0, 502, 1.0, None)]
    summary = metrics.Traffic.of(requests).summary(window=2)
    assert summary["requests"] == 4 and summary["rps"] == 2
    assert summary["responses"] == {"1xx": 0, "2xx": 2, "3xx": 0, "4xx": 1, "5xx": 1}
    assert summary["latency_ms"] == {"p50": 20.0, "p90": 1000.0, "p99": 1000.0}
    assert metrics.Traffic().summary(60)["latency_ms"] == {"p50": None, "p90": None, "p99": None}
