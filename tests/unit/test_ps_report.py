"""ps:report: its last exit (the engine's word, or the watchdog's record of an `oom` event once the engine
forgot), and each autoscaled process beside the instances."""

import dataclasses
import json
from types import SimpleNamespace

from click.testing import CliRunner

from ponton import cli
from ponton.commands import ps
from ponton.commands.ps import last_exit, oom_containers
from ponton.core.context import Ponton
from ponton.core.settings import Settings
from ponton.core.state import Event
from ponton.features.autoscale import Policy
from runtime.docker_local import Instance


def instance(name="app.web.1.abc123", status="running", restarts=1, exit_code=0, oom_killed=False, process="web",
             number=1, port=20001) -> Instance:
    container = SimpleNamespace(id=name, name=name, status=status, attrs={
        "RestartCount": restarts, "State": {"ExitCode": exit_code, "OOMKilled": oom_killed, "Error": "",
                                            "StartedAt": "2026-01-01T00:00:00.000000000Z"},
        "NetworkSettings": {"Ports": {"5000/tcp": [{"HostPort": str(port)}]} if process == "web" else {}}})
    return Instance(container=container, process=process, number=number, release=1)


EVENTS = [
    Event(1.0, "me", "deploy", "v1 (Deploy image x)"),
    Event(2.0, "watchdog", "oom", "web.1 ran out of memory (container app.web.1.abc123; the engine restarts it)"),
]


def test_recorded_oom_containers():
    assert oom_containers(EVENTS) == {"app.web.1.abc123"}
    assert oom_containers([Event(1.0, "me", "deploy", "ran out of memory (container x; ...)")]) == set()


def test_never_stopped():
    assert last_exit(instance(restarts=0), set()) == "-"


def test_the_engine_still_knows():
    assert last_exit(instance(status="restarting", exit_code=137, oom_killed=True), set()) == "out of memory"


def test_restarted_and_the_engine_forgot_the_oom():
    ooms = oom_containers(EVENTS)
    assert last_exit(instance(), ooms) == "out of memory"
    assert last_exit(instance(name="app.web.1.other"), ooms) == "exit code 0"  # another container of that name


def test_a_later_crash_is_its_own_reason():
    assert last_exit(instance(status="restarting", exit_code=1), oom_containers(EVENTS)) == "exit code 1"


def test_each_autoscaled_process_is_reported_beside_the_instances(tmp_path, monkeypatch):
    p = Ponton(Settings(state_dir=tmp_path / "state", autoscale_interval=15))
    p.state.create_app("shop")
    p.state.set_formation("shop", {"web": 2, "clock": 1})
    p.state.set_autoscale("shop", "web", dataclasses.asdict(Policy(minimum=1, maximum=4, rps=20, cpu=70)))
    p.state.record_autoscale_decision("shop", "web", 2, "41 requests/s per instance (target 20): 1 -> 2",
                                      1_800_000_000.0, changed=True)
    p.state.set_autoscale("shop", "worker", dataclasses.asdict(Policy(minimum=0, maximum=3, cpu=50)))  # none now
    p.scheduler = SimpleNamespace(instances=lambda app: [
        instance("shop.web.1.a", restarts=0), instance("shop.web.2.b", restarts=0, number=2, port=20002),
        instance("shop.clock.1.c", restarts=0, process="clock")])
    monkeypatch.setattr(ps, "_health", lambda instance: "healthy")

    def report(*args):
        run = CliRunner().invoke(cli.cli, ["ps:report", "shop", *args], obj=p)
        assert run.exit_code == 0, run.output
        return run.output

    rows = json.loads(report("--format", "json"))
    assert [r["instance"] for r in rows] == ["web.1", "web.2", "clock.1"]
    web = rows[0]["autoscale"]
    assert web == rows[1]["autoscale"] and rows[2]["autoscale"] is None  # clock is not autoscaled
    assert (web["min"], web["max"], web["rps"], web["cpu"], web["latency_p90"]) == (1, 4, 20, 70, None)
    assert (web["current"], web["desired"], web["reason"]) == (2, 2, "41 requests/s per instance (target 20): 1 -> 2")
    text = report()
    instances, autoscaling = text.split("\n\nautoscaling:\n")
    assert instances.splitlines()[0].split() == ["instance", "release", "state", "health", "uptime", "restarts",
                                                 "last_exit", "node", "port", "container"]
    assert [line.split()[0] for line in instances.splitlines()[1:]] == ["web.1", "web.2", "clock.1"]
    header, web_line, worker_line = autoscaling.splitlines()
    assert header.split() == ["process", "bounds", "targets", "every", "current", "desired", "last", "decision"]
    assert web_line.split() == ["web", "1-4", "20", "req/s,", "70", "%", "CPU", "15s", "2", "2",
                                "41", "requests/s", "per", "instance", "(target", "20):", "1", "->", "2"]
    assert worker_line.split() == ["worker", "0-3", "50", "%", "CPU", "15s", "0", "-", "no", "decision", "yet"]


def test_an_app_without_autoscaling_reports_its_instances_alone(tmp_path):
    p = Ponton(Settings(state_dir=tmp_path / "state"))
    p.state.create_app("shop")
    p.scheduler = SimpleNamespace(instances=lambda app: [])
    assert CliRunner().invoke(cli.cli, ["ps:report", "shop"], obj=p).output == "shop has no instances\n"
    p.state.set_autoscale("shop", "web", dataclasses.asdict(Policy(minimum=0, maximum=2, rps=5)))
    output = CliRunner().invoke(cli.cli, ["ps:report", "shop"], obj=p).output
    assert output.startswith("shop has no instances\n\nautoscaling:\nprocess") and "no decision yet" in output
