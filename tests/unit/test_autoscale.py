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


def test_dokku_app_json_rules():
    policy = from_app_json("web", {"min_quantity": 1, "max_quantity": 3, "cooldown_seconds": 30,
                                   "triggers": [{"name": "load", "type": "rps", "metadata": {"value": "25"}},
                                                {"type": "cpu", "metadata": {"value": 70}}]})
    assert policy == Policy(minimum=1, maximum=3, rps=25, cpu=70, cooldown=30)
    assert from_app_json("web", {"max_quantity": 2, "cooldown_period_seconds": 5,
                                 "triggers": [{"type": "latency-p90", "metadata": {"value": 300}}]}).cooldown == 5


@pytest.mark.parametrize("rules, message", [
    ([], "must be an object"),
    ({"max_quantity": 2, "triggers": {}}, "must be a list"),
    ({"max_quantity": 2, "triggers": [{"type": "memory"}]}, "type must be one of"),
    ({"max_quantity": 2, "triggers": [{"type": "rps", "metadata": {"value": "lots"}}]}, "must be a number"),
    ({"max_quantity": 2, "triggers": [{"type": "rps", "metadata": {"value": "nan"}}]}, "finite"),
    ({"max_quantity": True, "triggers": [{"type": "rps", "metadata": {"value": 1}}]}, "must be a number"),
    ({"triggers": [{"type": "rps", "metadata": {"value": 1}}]}, "max_quantity must be a number"),
])
def test_bad_app_json_rules_are_refused_in_one_line(rules, message):
    with pytest.raises(InvalidInput, match=message):
        from_app_json("web", rules)
