"""The watchdog's autoscaler on a real state (SQLite in a temporary directory): what it applies keeps a manual
ps:scale that the load agrees with, and never goes past max or the owner's quota; its samples count requests for
the instances they reached on any node, and tell no data (no access log, CPU not measured, the scheduler away)
from no load. The rollout itself (deploy.converge) is replaced by a record of the formations it was asked to
bring about: it needs the engine, as the real scheduler does (a stand-in lists instances and their CPU)."""

import dataclasses
import datetime
import json

import pytest

from ponton.core.context import Ponton
from ponton.core.settings import Settings
from ponton.features.autoscale import Policy, Sample
from ponton.pipeline import autoscaler as autoscaler_module
from ponton.pipeline.autoscaler import Autoscaler
from tests.unit.test_scheduler import FakeInstance

NOW = 50_000.0
INTERVAL = 15.0


@pytest.fixture
def p(tmp_path):
    ponton = Ponton(Settings(state_dir=tmp_path / "state", default_quota="instances=4", autoscale_interval=INTERVAL))
    ponton.state.add_ssh_key("admin", "fp0", "k0")  # the first user is the admin, who has no quota
    ponton.state.add_ssh_key("alice", "fp1", "k1")
    for app in ("shop", "blog"):  # alice's two apps, web=1 each
        ponton.state.create_app(app, owner="alice")
        release = ponton.state.add_release(app, "img", "sha", {}, {"web": ""}, {}, "Deploy sha")
        ponton.state.set_release_status(app, release.version, "succeeded")
    yield ponton
    ponton.state.close()


@pytest.fixture
def converged(monkeypatch) -> list[dict[str, int]]:
    """The formation of each rollout the autoscaler started."""
    done = []
    monkeypatch.setattr(autoscaler_module.deploy, "converge", lambda p, app: done.append(p.state.formation(app)))
    return done


def autoscale(p, policy: Policy, app: str = "shop"):
    p.state.set_autoscale(app, "web", dataclasses.asdict(policy))
    [record] = p.state.autoscale_policies(app)
    return record


def decide(p, samples: list[Sample], now: float = NOW, app: str = "shop"):
    """One decision of the watchdog's autoscaler on the process's policy as the state has it now."""
    [record] = p.state.autoscale_policies(app)
    Autoscaler(p.settings, lambda line: None)._decide(p, record, samples, now, INTERVAL)


def interval(instances: list[int], rps: float, end: float = NOW) -> list[Sample]:
    """A sample every 5 s of the interval ending at `end`, the oldest first, each with its count of instances."""
    return [Sample(end - 5 * age, count, rps) for age, count in zip(range(len(instances) - 1, -1, -1), instances)]


def test_a_manual_scale_the_load_agrees_with_is_kept(p, converged):
    p.state.set_quotas("alice", {"instances": "unlimited"})
    autoscale(p, Policy(minimum=1, maximum=6, rps=20, cooldown=60))
    p.state.set_formation("shop", {"web": 4})
    p.state.record_autoscale_decision("shop", "web", 4, "up", NOW - 3600, changed=True)
    p.state.set_formation("shop", {"web": 3})  # ps:scale shop web=3, five seconds ago
    # The same 63 requests/s throughout: 21 per instance at 3, within 10% of the target. Most of the interval's
    # samples were taken while 4 ran: the count is judged by the load at the count now, not at theirs.
    decide(p, interval([4, 4, 3], rps=63))
    assert p.state.formation("shop")["web"] == 3 and converged == []
    [record] = p.state.autoscale_policies("shop")
    assert (record.desired, record.last_change) == (3, NOW - 3600), record.reason
    # ... until a decision wants another count: the load grows past what 3 can take
    decide(p, interval([3, 3, 3], rps=100, end=NOW + 15), now=NOW + 15)
    assert converged == [{"web": 5}]


def test_the_quota_is_never_exceeded_even_when_the_load_asks_for_more(p, converged):
    # alice may run 4 instances in all; blog runs 1, so shop's web may have 3
    autoscale(p, Policy(minimum=1, maximum=6, rps=20, cooldown=60))
    for step in range(3):
        now = NOW + step * INTERVAL
        decide(p, interval([p.state.formation("shop")["web"]] * 3, rps=500, end=now), now=now)
    assert converged == [{"web": 3}]
    assert p.state.formation("shop")["web"] + p.state.formation("blog")["web"] == 4
    [record] = p.state.autoscale_policies("shop")
    assert "capped at 3" in record.reason


def test_the_quota_wins_over_the_minimum(p, converged):
    # a minimum the quota has no room for: as many as the quota allows, never one more (and no error)
    autoscale(p, Policy(minimum=5, maximum=6, rps=20, cooldown=60))
    decide(p, [])
    assert converged == [{"web": 3}]
    decide(p, [], now=NOW + INTERVAL)
    assert converged == [{"web": 3}]
    [record] = p.state.autoscale_policies("shop")
    assert "quota" in record.reason and record.desired == 3
    assert [e.kind for e in p.state.events("shop", 10)].count("denied") == 0


def test_max_is_never_exceeded(p, converged):
    p.state.set_quotas("alice", {"instances": "unlimited"})
    autoscale(p, Policy(minimum=1, maximum=3, rps=20, cooldown=60))
    for step in range(3):
        now = NOW + step * INTERVAL
        decide(p, interval([p.state.formation("shop")["web"]] * 3, rps=10_000, end=now), now=now)
    assert converged == [{"web": 3}]
    p.state.set_formation("shop", {"web": 5})  # ps:scale past the bounds: back within them at once
    decide(p, interval([5, 5, 5], rps=10_000, end=NOW + 60), now=NOW + 60)
    assert converged == [{"web": 3}, {"web": 3}]
    events = [e.message for e in p.state.events("shop", 10) if e.kind == "autoscale"]
    assert events[0].startswith("web=3: ") and "capped at 3" in events[0]
    assert events[1] == "web=3: above the maximum of 3"


def rounds(p, autoscaler: Autoscaler, seconds: float, rps: float = 40):
    """The watchdog's rounds over `seconds`, one per sampling period, each process sampled at `rps`."""
    autoscaler._sample = lambda p, record, now: Sample(now, p.state.formation(record.app)[record.process], rps)
    decided = []
    for step in range(int(seconds / autoscaler.every)):
        now = NOW + step * autoscaler.every
        autoscaler.round(p, now)
        decided += [(a.app, now) for a in p.state.autoscale_policies() if a.decided == now]
    return decided


def test_a_policy_is_decided_on_at_its_own_interval(p, converged):
    # app.json's polling_interval_seconds 30; the server's autoscale_interval (15) for one set without it
    autoscale(p, Policy(minimum=1, maximum=2, rps=20, interval=30), app="shop")
    autoscale(p, Policy(minimum=1, maximum=2, rps=20), app="blog")
    decided = rounds(p, Autoscaler(p.settings, lambda line: None), 65)
    assert [now - NOW for app, now in decided if app == "shop"] == [0, 30, 60]
    assert [now - NOW for app, now in decided if app == "blog"] == [0, 15, 30, 45, 60]


def test_one_process_whose_rollout_fails_does_not_hold_up_the_others(p, monkeypatch):
    def converge(p, app):
        if app == "shop":
            raise RuntimeError("the engine is away")
        done.append(p.state.formation(app))

    done, said = [], []
    monkeypatch.setattr(autoscaler_module.deploy, "converge", converge)
    autoscale(p, Policy(minimum=2, maximum=2, rps=20), app="shop")  # decided on first: created first
    autoscale(p, Policy(minimum=2, maximum=2, rps=20), app="blog")
    assert [a.app for a in p.state.autoscale_policies()] == ["shop", "blog"]
    rounds(p, Autoscaler(p.settings, said.append), 5)
    assert done == [{"web": 2}]
    assert p.state.formation("shop") == {"web": 1}  # its change undone
    assert "autoscaler: shop web: RuntimeError: the engine is away" in said


class Scheduler:
    """Lists `instances`, each using the CPU `cpu` says (None, or not in it: not measured)."""

    def __init__(self, instances: list[FakeInstance], cpu: dict[str, float | None] | None = None):
        self.current, self.cpu = instances, cpu or {}

    def instances(self, app):
        return self.current

    def usage(self, instance, sample=False):
        return {"cpu_percent": self.cpu.get(instance.id)}


@pytest.fixture
def log(p, tmp_path):
    """The shop's access log (not written yet)."""
    p.settings = dataclasses.replace(p.settings, nginx_log_dir=tmp_path / "logs")
    p.settings.nginx_log_dir.mkdir()
    return p.settings.nginx_log_dir / "shop.access.log"


def logged(*upstreams: str) -> str:
    """One access log line per request, a second ago, each answered at its upstream ("": by nginx itself)."""
    stamp = datetime.datetime.fromtimestamp(NOW - 1, datetime.timezone.utc).isoformat()
    return "".join(json.dumps({"time": stamp, "status": 200, "request_time": 0.05, "upstream": upstream}) + "\n"
                   for upstream in upstreams)


def sample(p, policy: Policy, instances: list[FakeInstance], cpu: dict | None = None) -> Sample:
    """What the autoscaler measures now of shop's web under `policy` (its samples cover 5 s)."""
    p.scheduler = Scheduler(instances, cpu)
    return Autoscaler(p.settings, lambda line: None)._sample(p, autoscale(p, policy), NOW)


def reason(p) -> str:
    [record] = p.state.autoscale_policies("shop")
    return record.reason


def test_requests_count_for_the_instances_they_reached_on_any_node(p, log):
    # a cluster: web.1 and web.2 publish the same port on two nodes, and nginx sends to NODE_ADDRESS:PORT
    web = [FakeInstance("a", "web", 1, 1, "10.0.0.1", 30001), FakeInstance("b", "web", 2, 1, "10.0.0.2", 30001)]
    gone = "10.0.0.3:30001"  # an instance that no longer runs, or another app's
    log.write_text(logged("10.0.0.1:30001", "10.0.0.2:30001", "10.0.0.1:30001, 10.0.0.2:30001", gone, ""))
    taken = sample(p, Policy(1, 4, rps=20), web)
    assert (taken.instances, taken.rps, taken.latency_p90) == (2, 3 / 5, 50.0) and taken.failed == ()
    # one server: every instance is at 127.0.0.1
    log.write_text(logged("127.0.0.1:20001", "127.0.0.1:20002"))
    assert sample(p, Policy(1, 4, rps=20), [FakeInstance("c", "web", 1, 1, "127.0.0.1", 20001)]).rps == 1 / 5


def test_no_access_log_is_no_data_and_keeps_the_count(p, log, converged):
    p.state.set_formation("shop", {"web": 3})
    web = [FakeInstance(f"i{n}", "web", n, 1, "127.0.0.1", 20000 + n) for n in (1, 2, 3)]
    missing = sample(p, Policy(1, 4, rps=20, latency_p90=200, cooldown=0), web)  # never served, or rotated away
    assert (missing.rps, missing.latency_p90) == (None, None)
    assert missing.failed == (f"the access log {log}: No such file or directory",)
    decide(p, [missing])
    assert converged == [] and reason(p) == (
        f"no samples of rps, latency-p90 (metrics source failed: the access log {log}: No such file or directory): "
        "keeping 3")
    log.mkdir()  # a log that cannot be read (as root too)
    assert sample(p, Policy(1, 4, rps=20), web).failed == (f"the access log {log}: Is a directory",)
    log.rmdir()
    log.write_text("")  # a log, and no request in it: no load
    empty = sample(p, Policy(1, 4, rps=20, cooldown=0), web)
    assert (empty.rps, empty.failed) == (0.0, ())
    decide(p, [empty])
    assert converged == [{"web": 2}]


def test_an_instance_not_measured_is_not_idle(p, converged):
    p.state.set_formation("shop", {"web": 2})
    web = [FakeInstance(f"i{n}", "web", n, 1, f"10.0.0.{n}", 30001) for n in (1, 2)]
    # i2 runs on a node this server's engine cannot reach: as busy as i1, not idle
    assert sample(p, Policy(1, 4, cpu=50), web, cpu={"i1": 80.0, "i2": None}).cpu == 160.0
    unmeasured = sample(p, Policy(1, 4, cpu=50, cooldown=0), web, cpu={})
    assert unmeasured.cpu is None and unmeasured.failed == ("CPU not measured on any of its 2 running instances",)
    decide(p, [unmeasured])
    assert converged == [] and "metrics source failed: CPU not measured" in reason(p)


def test_a_scheduler_away_is_a_failed_sample_and_the_report_says_so(p, converged):
    class Away(Scheduler):
        def instances(self, app):
            raise ConnectionError("the engine\nis away")

    autoscale(p, Policy(minimum=1, maximum=4, rps=20))
    p.scheduler, said = Away([]), []
    Autoscaler(p.settings, said.append).round(p, NOW)
    assert converged == [] and said
    assert reason(p) == "no samples of rps (metrics source failed: ConnectionError: the engine is away): keeping 1"
