"""Deploy strategy knobs and canary weights."""

import pytest

from ponton.core.errors import InvalidInput
from ponton.features import strategy
from runtime.rollout import Strategy, canary_weights


def test_knobs_load_into_a_strategy():
    loaded = strategy.load({"strategy": "canary", "batch": "3", "wait-to-retire": "1.5", "canary-weight": "10",
                            "canary-duration": "60"})
    assert loaded == Strategy(name="canary", batch=3, wait_to_retire=1.5, canary_weight=10, canary_duration=60)
    assert strategy.load({}) == Strategy()


@pytest.mark.parametrize("key, value", [
    ("strategy", "yolo"), ("batch", "0"), ("batch", "1.5"), ("batch", "51"), ("wait-to-retire", "-1"),
    ("canary-weight", "0"), ("canary-weight", "100"), ("canary-duration", "abc"), ("colour", "blue"),
    ("canary-steps", "50,10"), ("canary-steps", "10,10"), ("canary-steps", "10,,50"), ("canary-steps", "0,50"),
    ("canary-steps", "10,100"),
])
def test_bad_knobs_are_refused(key, value):
    with pytest.raises(InvalidInput):
        strategy.check(key, value)


@pytest.mark.parametrize("old, new, share", [(1, 1, 20), (2, 2, 20), (3, 1, 10), (1, 3, 50), (2, 5, 1)])
def test_canary_weights_give_the_share_whatever_the_counts(old, new, share):
    old_ports, new_ports = list(range(100, 100 + old)), list(range(200, 200 + new))
    weights = canary_weights(old_ports, new_ports, share)
    to_new = sum(weights[p] for p in new_ports) / sum(weights.values())
    assert to_new == pytest.approx(share / 100)
    assert all(isinstance(w, int) and w >= 1 for w in weights.values())


def test_no_canary_weights_without_both_sets():
    assert canary_weights([], [1], 20) is None and canary_weights([1], [], 20) is None


def test_canary_steps_follow_the_time_left_until_promotion():
    stepped = strategy.load({"canary-steps": "10, 25,50", "canary-duration": "60"})
    assert stepped.canary_plan == (10, 25, 50)
    until = 1000.0 + 180  # started at 1000: three steps of 60 s
    shares = [stepped.canary_share(until, now) for now in (1000, 1059, 1060, 1125, 1179, 1180, 2000)]
    assert shares == [10, 10, 25, 50, 50, 50, 50]
    assert Strategy(canary_weight=30).canary_share(None, 5000) == 30  # no duration: the one share until promoted
    assert Strategy(canary_steps=(5, 40)).canary_share(None, 5000) == 5
