"""The autoscaler's decision, case by case: a pure function of the policy, the count and the recent samples."""

import pytest

from ponton.core.errors import InvalidInput
from ponton.features.autoscale import Policy, Sample, checked, decide, from_app_json

NOW = 10_000.0
RPS = Policy(minimum=1, maximum=4, rps=20, cooldown=60)


def steady(instances: int, rps: float | None = None, cpu: float | None = None, latency: float | None = None,
           seconds: float = 120, every: float = 5) -> list[Sample]:
    """The same load, sampled every `every` seconds over the last `seconds`."""
    return [Sample(NOW - age, instances, rps, cpu, latency) for age in range(0, int(seconds), int(every))]


def broken(instances: int, cpu: float | None = None) -> list[Sample]:
    """Samples of a process whose access log could not be read."""
    return [Sample(NOW - age, instances, cpu=cpu, failed=(NO_LOG,)) for age in range(0, 120, 5)]


NO_LOG = "the access log /var/log/ponton/nginx/shop.access.log: No such file or directory"
BOTH = Policy(minimum=1, maximum=6, rps=20, cpu=50, cooldown=60)


@pytest.mark.parametrize("policy, current, samples, last_change, allowed, desired", [
    # a sustained breach: up at once, to what the load needs
    (RPS, 1, steady(1, rps=70), None, None, 4),
    (RPS, 1, steady(1, rps=45), None, None, 3),
    (RPS, 2, steady(2, rps=50), NOW - 1, None, 3),  # up even right after a change: no cooldown on the way up
    # never above max, nor past the quota
    (RPS, 1, steady(1, rps=1000), None, None, 4),
    (Policy(1, 2, rps=20), 1, steady(1, rps=1000), None, None, 2),
    (RPS, 1, steady(1, rps=1000), None, 2, 2),
    # one spike among calm samples does not add instances (the median of the interval)
    (RPS, 1, steady(1, rps=5, seconds=15)[:2] + [Sample(NOW - 12, 1, 500)], None, None, 1),
    # noise around the target: within 10%, nothing changes (no flapping)
    (RPS, 2, steady(2, rps=41), None, None, 2),
    (RPS, 2, steady(2, rps=37), NOW - 3600, None, 2),
    # down: one at a time, after the cooldown, only if the whole cooldown was calm
    (RPS, 4, steady(4, rps=4), NOW - 3600, None, 3),
    (RPS, 4, steady(4, rps=4), NOW - 30, None, 4),
    (RPS, 3, steady(3, rps=4, seconds=30) + [Sample(NOW - 50, 3, 90)], NOW - 3600, None, 3),
    (RPS, 1, steady(1, rps=0), NOW - 3600, None, 1),  # never below min
    # no samples: the count stays
    (RPS, 3, [], None, None, 3),
    (RPS, 3, steady(3, rps=4, seconds=300)[10:], NOW - 3600, None, 3),  # only stale samples
    (RPS, 3, steady(3, cpu=90), None, None, 3),  # samples, but none of the policy's trigger
    # a source that failed (no access log, CPU not measured) is no data, not no load: never down on it
    (RPS, 3, broken(3), NOW - 3600, None, 3),
    (BOTH, 4, broken(4, cpu=20), NOW - 3600, None, 4),  # the CPU alone says 1, but requests were not seen
    (BOTH, 2, broken(2, cpu=240), None, None, 5),  # up on what was measured
    # out of bounds (the policy changed): back within them at once
    (RPS, 0, [], None, None, 1),
    (RPS, 6, steady(6, rps=1000), None, None, 4),
    (RPS, 4, steady(4, rps=1000), None, 3, 3),
    # the quota wins over the minimum: never an instance past it, not even to reach the minimum
    (Policy(5, 6, rps=20), 1, [], None, 3, 3),
    (Policy(5, 6, rps=20), 3, [], None, 3, 3),
    (Policy(5, 6, rps=20), 3, [], None, 1, 3),  # nor fewer than run now for it
    # a ps:scale the load agrees with is kept: 63 requests/s is 21 per instance at 3, though most samples of the
    # interval were taken while 4 ran
    (Policy(1, 6, rps=20), 3, [Sample(NOW - 10, 4, 63), Sample(NOW - 5, 4, 63), Sample(NOW, 3, 63)], NOW - 3600,
     None, 3),
    (Policy(1, 6, rps=20), 5, [Sample(NOW - 10, 4, 63), Sample(NOW - 5, 4, 63), Sample(NOW, 5, 63)], NOW - 3600,
     None, 4),  # one it does not agree with is not
    # CPU (percent of a core, summed over the instances) and latency p90
    (Policy(1, 5, cpu=50), 2, steady(2, cpu=190), None, None, 4),
    (Policy(1, 5, latency_p90=200), 2, steady(2, latency=500), None, None, 5),
    (Policy(1, 5, latency_p90=200), 2, steady(2, latency=50), NOW - 3600, None, 1),
    # several triggers: the one that needs the most wins
    (Policy(1, 6, rps=20, cpu=50), 1, steady(1, rps=30, cpu=240), None, None, 5),
    (Policy(1, 6, rps=20, cpu=50), 1, steady(1, rps=30, cpu=None), None, None, 2),
])
def test_decision_table(policy, current, samples, last_change, allowed, desired):
    decision = decide(policy, current, samples, NOW, last_change, allowed)
    assert decision.desired == desired, decision.reason


def test_each_reason_says_why():
    assert "no load samples" in decide(RPS, 2, [], NOW).reason
    assert "cooling down" in decide(RPS, 4, steady(4, rps=4), NOW, last_change=NOW - 30).reason
    assert "35 requests/s per instance (target 20)" in decide(RPS, 2, steady(2, rps=70), NOW).reason
    assert "capped at 4" in decide(RPS, 1, steady(1, rps=1000), NOW).reason
    assert "quota" in decide(RPS, 4, steady(4, rps=1000), NOW, allowed=3).reason
    assert "capped at 2: the quota" in decide(RPS, 1, steady(1, rps=1000), NOW, allowed=2).reason
    assert "the quota allows 3" in decide(Policy(5, 6, rps=20), 1, [], NOW, allowed=3).reason
    assert decide(RPS, 3, broken(3), NOW).reason == f"no samples of rps (metrics source failed: {NO_LOG}): keeping 3"
    assert decide(BOTH, 4, broken(4, cpu=20), NOW, last_change=NOW - 3600).reason == (
        f"5 % CPU per instance (target 50), but a metrics source failed ({NO_LOG}): keeping 4")


@pytest.mark.parametrize("policy, message", [
    (Policy(3, 2, rps=1), "min <= max"),
    (Policy(0, 51, rps=1), "max <= 50"),
    (Policy(1, 2), "at least one target"),
    (Policy(1, 2, cpu=0), "above 0"),
    (Policy(1, 2, rps=-3), "above 0"),
    (Policy(1, 2, rps=3, cooldown=-1), "cooldown"),
])
def test_bad_policies_are_refused_in_one_line(policy, message):
    with pytest.raises(InvalidInput, match=message):
        checked(policy)


# KEDA's cpu scaler as a Dokku app.json has it: every metadata value a string
CPU_50 = {"name": "cpu", "type": "cpu", "metadata": {"type": "Utilization", "value": "50"}}


def test_a_dokku_app_json_works_as_is():
    rules = {"min_quantity": 1, "max_quantity": 10, "cooldown_period_seconds": 120, "polling_interval_seconds": 30,
             "triggers": [CPU_50,
                          {"type": "http", "metadata": {"scaledown_period_seconds": "150",
                                                        "request_rate_target_value": "50"}},
                          {"name": "queue", "type": "redis", "metadata": {"listName": "jobs", "listLength": "5"}}]}
    policy, warnings = from_app_json("web", rules)
    assert policy == Policy(minimum=1, maximum=10, rps=50, cpu=50, cooldown=120, interval=30)
    assert warnings == ["app.json formation.web.autoscaling: trigger 'queue' (redis) skipped: ponton scales on "
                        "rps, latency-p90, cpu, http"]


@pytest.mark.parametrize("rules, quantity, bounds", [
    ({}, 1, (1, 1)),  # Dokku's defaults: min is the process's quantity, max the higher of quantity and min
    ({}, 3, (3, 3)),
    ({"min_quantity": 1}, 2, (1, 2)),
    ({"min_quantity": 4}, 2, (4, 4)),
    ({"max_quantity": 5}, 2, (2, 5)),
    ({"min_quantity": "0", "max_quantity": "3"}, 1, (0, 3)),
])
def test_bounds_default_as_dokku_has_them(rules, quantity, bounds):
    policy, _ = from_app_json("web", {**rules, "triggers": [CPU_50]}, quantity)
    assert (policy.minimum, policy.maximum) == bounds
    assert (policy.cooldown, policy.interval) == (300, None)  # the interval: the server's autoscale_interval


@pytest.mark.parametrize("trigger, targets", [
    ({"type": "cpu", "metadata": {"type": "Utilization", "value": 70}}, {"cpu": 70}),
    ({"type": "cpu", "metadata": {"value": "70"}}, {"cpu": 70}),
    ({"type": "cpu", "metadata": {"type": "AverageValue", "value": "500m"}}, {"cpu": 50}),  # cores per instance
    ({"type": "cpu", "metadata": {"type": "AverageValue", "value": "1.5"}}, {"cpu": 150}),
    ({"type": "http", "metadata": {"request_rate_target_value": "20"}}, {"rps": 20}),
    ({"type": "http", "metadata": {"scale_by": "request_rate"}}, {"rps": 100}),  # Dokku's default target
    ({"type": "http"}, {"rps": 100}),
    ({"name": "load", "type": "rps", "metadata": {"value": "25"}}, {"rps": 25}),  # ponton's own
    ({"type": "latency-p90", "metadata": {"value": 300}}, {"latency-p90": 300}),
])
def test_trigger_targets(trigger, targets):
    policy, warnings = from_app_json("web", {"max_quantity": 3, "triggers": [trigger]})
    assert (policy.targets(), warnings) == (targets, [])


def test_cooldown_seconds_is_read_too():
    assert from_app_json("web", {"cooldown_seconds": 30, "triggers": [CPU_50]})[0].cooldown == 30


@pytest.mark.parametrize("triggers, skipped", [
    ([], []),
    ([{"name": "nightly", "type": "cron", "metadata": {"start": "0 6 * * *", "desiredReplicas": "3"}}],
     ["trigger 'nightly' (cron) skipped"]),
    ([{"type": "prometheus", "metadata": {"query": "sum(x)"}}, {"type": "memory", "metadata": {"value": "60"}}],
     ["trigger 'trigger-prometheus-1' (prometheus) skipped", "trigger 'trigger-memory-2' (memory) skipped"]),
    ([{"type": "http", "metadata": {"scale_by": "concurrency"}}],
     ["trigger 'trigger-http-1' (http) skipped: scale_by concurrency"]),
    ([{"name": "x\x1b[2J", "type": "evil\n"}], ["trigger 'x\\x1b[2J' ('evil\\n') skipped"]),  # no escapes in a terminal
])
def test_no_trigger_ponton_can_use_leaves_the_process_alone_and_says_so(triggers, skipped):
    policy, warnings = from_app_json("worker", {"min_quantity": 1, "max_quantity": 4, "triggers": triggers})
    assert policy is None and len(warnings) == len(skipped) + 1
    for part, line in zip(skipped, warnings):
        assert line.startswith(f"app.json formation.worker.autoscaling: {part}")
    assert warnings[-1] == ("app.json formation.worker.autoscaling: no trigger ponton can use, so worker is not "
                            "autoscaled from app.json")


@pytest.mark.parametrize("rules, message", [
    ([], "must be an object"),
    ({"triggers": {"http": {"metadata": {}}}}, "triggers must be a list"),
    ({"triggers": [{"metadata": {"value": 1}}]}, r"triggers\[0\]: a trigger is an object with a \"type\""),
    ({"triggers": ["cpu"]}, r"triggers\[0\]: a trigger is an object"),
    ({"triggers": [{"type": "cpu", "metadata": ["value"]}]}, "metadata must be an object"),
    ({"triggers": [{"type": "rps", "metadata": {"value": "lots"}}]}, "must be a number"),
    ({"triggers": [{"type": "rps", "metadata": {"value": "nan"}}]}, "finite"),
    ({"triggers": [{"type": "rps"}]}, "metadata.value must be a number"),
    ({"triggers": [{"type": "cpu", "metadata": {"type": "Percent", "value": "5"}}]}, "Utilization or AverageValue"),
    ({"triggers": [{"type": "http", "metadata": {"scale_by": "magic"}}]}, "scale_by must be request_rate"),
    ({"triggers": [{"type": "http"}, {"type": "rps", "metadata": {"value": 5}}]},
     "trigger 'trigger-rps-2' \\(rps\\) and trigger 'trigger-http-1' \\(http\\) both set the rps target"),
    ({"max_quantity": True, "triggers": [CPU_50]}, "max_quantity must be a number"),
    ({"min_quantity": 1.5, "triggers": [CPU_50]}, "min_quantity must be a whole number"),
    ({"max_quantity": 99, "triggers": [CPU_50]}, "max <= 50"),
    ({"min_quantity": 3, "max_quantity": 2, "triggers": [CPU_50]}, "min <= max"),
    ({"polling_interval_seconds": 0, "triggers": [CPU_50]}, "interval must be 1 to 3600 seconds"),
    ({"cooldown_seconds": "soon", "triggers": [CPU_50]}, "cooldown_seconds must be a number"),
])
def test_bad_app_json_rules_are_refused_in_one_line(rules, message):
    with pytest.raises(InvalidInput, match=message):
        from_app_json("web", rules)
