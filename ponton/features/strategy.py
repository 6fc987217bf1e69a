"""Per-app deploy strategy knobs (`deploy:set APP KEY VALUE`), checked and turned into a runtime Strategy."""

from ponton.core import validate
from ponton.core.errors import InvalidInput
from runtime.rollout import STRATEGIES, Strategy


def _choice(value: str) -> str:
    if value not in STRATEGIES:
        raise InvalidInput(f"unknown strategy {value!r}: use one of {', '.join(STRATEGIES)}")
    return value


def _number(low: float, high: float, kind=float):
    def parse(value: str):
        number = validate.bounded(value, low, high, whole=kind is int)
        if number is None:
            raise InvalidInput(f"expected a {'whole ' if kind is int else ''}number from {low:g} to {high:g}, "
                               f"got {validate.shown(value)}")
        return number
    return parse


def _steps(value: str) -> tuple[int, ...]:
    parse = _number(1, 99, int)
    steps = tuple(parse(part.strip()) for part in value.split(","))
    if list(steps) != sorted(set(steps)):
        raise InvalidInput(f"canary steps must rise, e.g. 10,25,50, got {value!r}")
    return steps


# knob -> (Strategy field, parser)
KNOBS = {
    "strategy": ("name", _choice),
    "batch": ("batch", _number(1, 50, int)),
    "wait-to-retire": ("wait_to_retire", _number(0, 3600)),
    "canary-weight": ("canary_weight", _number(1, 99, int)),
    "canary-duration": ("canary_duration", _number(0, 7 * 86400)),
    "canary-steps": ("canary_steps", _steps),
}


def check(key: str, value: str | None) -> str | None:
    """The value to store for knob `key` (None: the default), or InvalidInput."""
    return validate.setting(key, value, {name: parse for name, (_, parse) in KNOBS.items()}, "deploy setting")


def load(values: dict[str, str]) -> Strategy:
    return Strategy(**{KNOBS[k][0]: KNOBS[k][1](v) for k, v in values.items() if k in KNOBS})


def strategy_of(p, app: str) -> Strategy:
    return load(p.state.deploy_settings(app))
