"""ps:report's last exit: the engine's word, or the watchdog's record of an `oom` event once the engine forgot."""

from types import SimpleNamespace

from ponton.commands.ps import last_exit, oom_containers
from ponton.core.state import Event
from runtime.docker_local import Instance


def instance(name="app.web.1.abc123", status="running", restarts=1, exit_code=0, oom_killed=False) -> Instance:
    container = SimpleNamespace(name=name, status=status, attrs={
        "RestartCount": restarts, "State": {"ExitCode": exit_code, "OOMKilled": oom_killed, "Error": ""}})
    return Instance(container=container, process="web", number=1, release=1)


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
