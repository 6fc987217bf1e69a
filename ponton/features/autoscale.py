"""Autoscaling: how many instances a process should run, decided from recent load samples and its policy.

The decision is a pure function (`decide`), so that every case (a spike, noise, missing samples, load that
hovers at the target) is a table test. The watchdog takes the samples and applies a decision through the same
health-gated rollout as `ps:scale`.

How it decides, per trigger (requests/s, CPU and latency p90, each a target per instance):
- the load of the last `interval` seconds is the median of its samples, so one spike does not add instances;
- the wanted count is the load divided by the target per instance (latency: the current count scaled by how
  far over its target it is), the highest of all triggers, within min, max and the owner's quota (which wins
  over min: no instance is added past it);
- within 10% of a target at the count that runs now nothing changes (a load that hovers at the target does not
  flap, and a ps:scale the load agrees with stays);
- up at once, to the wanted count; down one instance at a time, only once the cooldown has passed since the last
  change and only if every sample of the cooldown wanted fewer;
- no samples (the metrics source failed, or no trigger has data): the count stays, and the reason says so; a
  source that failed during the interval (no access log, CPU not measured) also keeps the count from going down.
"""

import math
import statistics
from dataclasses import dataclass

from ponton.core import validate
from ponton.core.errors import InvalidInput

DEFAULT_COOLDOWN = 300.0
DEFAULT_INTERVAL = 15.0
MAX_INTERVAL = 3600
MAX_INSTANCES = validate.MAX_INSTANCES  # as ps:scale
TOLERANCE = 0.1
# trigger -> (Policy field, Sample field, unit)
TRIGGERS = {"rps": ("rps", "rps", "requests/s"), "cpu": ("cpu", "cpu", "% CPU"),
            "latency-p90": ("latency_p90", "latency_p90", "ms p90")}


@dataclass(frozen=True)
class Policy:
    minimum: int
    maximum: int
    rps: float | None = None  # requests/s per instance
    cpu: float | None = None  # percent of one core per instance
    latency_p90: float | None = None  # milliseconds
    cooldown: float = DEFAULT_COOLDOWN
    interval: float | None = None  # seconds between decisions (None: the server's autoscale_interval)

    def targets(self) -> dict[str, float]:
        return {name: getattr(self, field) for name, (field, _, _) in TRIGGERS.items()
                if getattr(self, field) is not None}

    def describe(self) -> str:
        targets = ", ".join(f"{value:g} {TRIGGERS[name][2]}" for name, value in self.targets().items())
        every = "" if self.interval is None else f", every {self.interval:g}s"
        return f"{self.minimum}-{self.maximum} instances, {targets} per instance, cooldown {self.cooldown:g}s{every}"


@dataclass(frozen=True)
class Sample:
    """The load of one process at `time`, as the watchdog measured it: requests/s and CPU summed over its
    `instances`, the p90 latency of their requests (None: not measured, or no request to time), and why what
    could not be measured was not (`failed`: "the access log ...: Permission denied")."""

    time: float
    instances: int
    rps: float | None = None
    cpu: float | None = None
    latency_p90: float | None = None
    failed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    desired: int
    reason: str


def checked(policy: Policy) -> Policy:
    """`policy`, or InvalidInput saying what is wrong with it."""
    if not 0 <= policy.minimum <= policy.maximum <= MAX_INSTANCES:
        raise InvalidInput(f"min and max must satisfy 0 <= min <= max <= {MAX_INSTANCES}, "
                           f"got min {policy.minimum} and max {policy.maximum}")
    if not policy.targets():
        raise InvalidInput("give at least one target: --rps, --cpu or --latency-p90")
    for name, value in policy.targets().items():
        if not 0 < value <= 1e6:
            raise InvalidInput(f"the {name} target must be above 0 (and at most 1000000), got {value:g}")
    if not 0 <= policy.cooldown <= 86400:
        raise InvalidInput(f"the cooldown must be 0 to 86400 seconds, got {policy.cooldown:g}")
    if policy.interval is not None and not 1 <= policy.interval <= MAX_INTERVAL:
        raise InvalidInput(f"the interval must be 1 to {MAX_INTERVAL} seconds, got {policy.interval:g}")
    return policy


def from_app_json(process: str, rules: object, quantity: int = 1) -> tuple[Policy | None, list[str]]:
    """app.json's `formation.PROCESS.autoscaling` as Dokku reads it (its app-json and scheduler-k3s plugins), so
    that a Dokku app's app.json works as is, and the warnings for the pusher. Keys: min_quantity (default: the
    process's `quantity`), max_quantity (default: the higher of `quantity` and min_quantity),
    cooldown_period_seconds (or cooldown_seconds, the name Dokku's docs give it; default 300),
    polling_interval_seconds (default: the server's autoscale_interval) and triggers, a list of
    {"name", "type", "metadata"} whose metadata values may be strings, as Dokku requires, or numbers.

    A trigger of a KEDA scaler ponton has no samples for (cron, prometheus, redis, memory...) is skipped with a
    warning; with no trigger left, the process is not autoscaled from app.json, and the warning says so: the
    deploy goes on, as on Dokku, where autoscaling is KEDA's and the app runs without it. The policy is None then.
    """
    where = f"app.json formation.{process}.autoscaling"
    if not isinstance(rules, dict):
        raise InvalidInput(f"{where} must be an object")
    triggers = rules.get("triggers", [])
    if not isinstance(triggers, list):
        raise InvalidInput(f"{where}.triggers must be a list of {{\"type\", \"metadata\"}} objects")
    targets, set_by, warnings = {}, {}, []
    for index, trigger in enumerate(triggers):
        if not isinstance(trigger, dict) or not isinstance(trigger.get("type"), str) or not trigger["type"]:
            raise InvalidInput(f"{where}.triggers[{index}]: a trigger is an object with a \"type\"")
        kind, metadata = trigger["type"], trigger.get("metadata", {})
        # said in the pusher's terminal: quoted if it holds control characters or is long
        shown = kind if kind.isprintable() and len(kind) <= validate.SHOWN else validate.shown(kind)
        name = f"trigger {validate.shown(trigger.get('name') or f'trigger-{shown}-{index + 1}')} ({shown})"
        if not isinstance(metadata, dict):
            raise InvalidInput(f"{where}: {name}: metadata must be an object")
        if kind not in APP_JSON_TRIGGERS:
            warnings.append(f"{where}: {name} skipped: ponton scales on {', '.join(APP_JSON_TRIGGERS)}")
            continue
        field, read = APP_JSON_TRIGGERS[kind]
        try:
            value = read(metadata, f"{where}: {name}")
        except _Unsupported as e:
            warnings.append(f"{where}: {name} skipped: {e}")
            continue
        if field in targets:
            raise InvalidInput(f"{where}: {name} and {set_by[field]} both set the {field} target: keep one")
        targets[field], set_by[field] = value, name
    if not targets:
        warnings.append(f"{where}: no trigger ponton can use, so {process} is not autoscaled from app.json")
        return None, warnings
    minimum = _whole(rules.get("min_quantity", quantity), f"{where}.min_quantity")
    maximum = _whole(rules.get("max_quantity", max(quantity, minimum)), f"{where}.max_quantity")
    cooldown_key = "cooldown_seconds" if "cooldown_seconds" in rules else "cooldown_period_seconds"
    interval = rules.get("polling_interval_seconds")
    return checked(Policy(
        minimum=minimum, maximum=maximum,
        cooldown=_number(rules.get(cooldown_key, DEFAULT_COOLDOWN), f"{where}.{cooldown_key}"),
        interval=None if interval is None else _number(interval, f"{where}.polling_interval_seconds"), **targets,
    )), warnings


class _Unsupported(Exception):
    """A trigger of a type ponton reads, in a variant it has no samples for (why: the message)."""


def _target(metadata: dict, where: str) -> float:
    """ponton's own trigger types: {"value": TARGET}."""
    return _number(metadata.get("value"), f"{where} metadata.value")


def _keda_cpu(metadata: dict, where: str) -> float:
    """KEDA's cpu scaler: {"type": "Utilization", "value": PERCENT} (ponton: percent of one core, where KEDA
    counts against the pod's CPU request), or {"type": "AverageValue", "value": CORES} ("0.5" or "500m")."""
    kind, value = metadata.get("type", "Utilization"), metadata.get("value")
    if kind == "Utilization":
        return _number(value, f"{where} metadata.value")
    if kind == "AverageValue":
        millicores = isinstance(value, str) and value.endswith("m")
        cores = _number(value[:-1] if millicores else value, f"{where} metadata.value")
        return cores / 10 if millicores else cores * 100
    raise InvalidInput(f"{where}: metadata.type must be Utilization or AverageValue, got {validate.shown(kind)}")


def _keda_http(metadata: dict, where: str) -> float:
    """Dokku's http trigger (KEDA's HTTP add-on): requests/s per instance, request_rate_target_value (100 unless
    given, as Dokku has it)."""
    scale_by = metadata.get("scale_by", "request_rate")
    if scale_by == "concurrency":
        raise _Unsupported("scale_by concurrency: ponton scales http on the request rate")
    if scale_by != "request_rate":
        raise InvalidInput(f"{where}: scale_by must be request_rate or concurrency, got {validate.shown(scale_by)}")
    return _number(metadata.get("request_rate_target_value", 100), f"{where} metadata.request_rate_target_value")


# app.json's trigger types -> (the Policy field they set, how their metadata gives its target)
APP_JSON_TRIGGERS = {"rps": ("rps", _target), "latency-p90": ("latency_p90", _target), "cpu": ("cpu", _keda_cpu),
                     "http": ("rps", _keda_http)}


def _whole(value: object, what: str) -> int:
    number = _number(value, what)
    if not number.is_integer():
        raise InvalidInput(f"{what} must be a whole number, got {validate.shown(str(value))}")
    return int(number)


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidInput(f"{what} must be a number, got {validate.shown(str(value))}")
    try:
        number = float(value)
    except ValueError:
        raise InvalidInput(f"{what} must be a number, got {validate.shown(str(value))}") from None
    if not math.isfinite(number):
        raise InvalidInput(f"{what} must be a finite number, got {validate.shown(str(value))}")
    return number


def decide(policy: Policy, current: int, samples: list[Sample], now: float, last_change: float | None = None,
           allowed: int | None = None, interval: float = DEFAULT_INTERVAL) -> Decision:
    """How many instances to run now. `samples` are the process's recent loads (those older than the cooldown are
    not needed), `last_change` when the count last changed (None: not since the policy was set), `allowed` the
    most the owner's quota lets this process have: no instance is ever added past it, not even to reach the
    minimum."""
    ceiling = policy.maximum if allowed is None else max(policy.minimum, min(policy.maximum, allowed))
    top = ceiling if allowed is None else min(ceiling, max(current, allowed))  # the most it may go up to
    if current < policy.minimum:
        if top <= current:
            return Decision(current, f"below the minimum of {policy.minimum}, but the quota allows {current}: "
                                     f"keeping {current}")
        target = min(policy.minimum, top)
        capped = "" if target == policy.minimum else f" (the quota allows {target})"
        return Decision(target, f"below the minimum of {policy.minimum}{capped}")
    if current > ceiling:
        limit = "maximum" if ceiling == policy.maximum else "quota's limit"
        return Decision(ceiling, f"above the {limit} of {ceiling}")
    recent = [s for s in samples if now - interval <= s.time <= now]
    if not recent:
        return Decision(current, f"no load samples in the last {interval:g}s: keeping {current}")
    # No data is not no load: a source that failed keeps the count (nothing is removed on what was not seen).
    failed = "; ".join(dict.fromkeys(why for s in recent for why in s.failed))
    wanted = _wanted(policy, recent, current)
    if wanted is None:
        failure = f" (metrics source failed: {failed})" if failed else ""
        return Decision(current, f"no samples of {', '.join(policy.targets())}{failure}: keeping {current}")
    count, why = wanted
    count = max(policy.minimum, min(top, count))
    capped = f" (capped at {top}: the {'maximum' if top == policy.maximum else 'quota'})" if wanted[0] > top else ""
    if count > current:
        return Decision(count, f"{why}: {current} -> {count}{capped}")
    if count == current:
        return Decision(current, f"{why}: {current}" + (capped or " is right"))
    if last_change is not None and now - last_change < policy.cooldown:
        left = policy.cooldown - (now - last_change)
        return Decision(current, f"{why}, but cooling down ({left:.0f}s left): keeping {current}")
    if failed:
        return Decision(current, f"{why}, but a metrics source failed ({failed}): keeping {current}")
    calm = [s for s in samples if now - policy.cooldown <= s.time <= now]
    highest = max((w[0] for s in calm if (w := _wanted(policy, [s], current)) is not None), default=count)
    if highest >= current:
        return Decision(current, f"{why}, but the load of the last {policy.cooldown:g}s needed {current}: "
                                 f"keeping {current}")
    return Decision(current - 1, f"{why}: {current} -> {current - 1} (one at a time)")


def _wanted(policy: Policy, samples: list[Sample], current: int) -> tuple[int, str] | None:
    """The count the samples' load needs (the most any trigger needs) and why; None if no trigger has data.

    The load is judged at the count that runs now, not at the samples' own: after a ps:scale, an interval's
    samples were mostly taken with the count before it, and a count the load agrees with is kept."""
    best = None
    for name, target in policy.targets().items():
        _, field, unit = TRIGGERS[name]
        values = [(getattr(s, field), s.instances) for s in samples if getattr(s, field) is not None]
        if not values:
            continue
        load = statistics.median(value for value, _ in values)
        instances = max(1, round(statistics.median(count for _, count in values)))
        if name == "latency-p90":  # not shared out like requests: more instances shorten the queue in proportion
            needed, per_instance = instances * load / target, load
        else:
            needed, per_instance = load / target, load / (current or instances)
        count = current if current and abs(needed / current - 1) <= TOLERANCE else math.ceil(needed)
        why = f"{per_instance:.4g} {unit} per instance (target {target:g})"
        if best is None or count > best[0]:
            best = (count, why)
    return best
