"""Old instances still stopping when a rollout ends (an app that ignores SIGTERM, until stop_timeout's SIGKILL):
finished by a process of their own, which inherits the app's lock (core/lock.py), so that the command that
rolled out (a `git push`) returns as soon as the new release serves, and nothing else acts on the app until
they are gone."""

import concurrent.futures
import subprocess
import sys
import time

from ponton.core import lock
from ponton.core.context import Ponton
from ponton.core.scheduler import Instance, Scheduler

COMMAND = "ps:retire"


def hand_over(p: Ponton, app: str, pending: list[tuple[Instance, float]]):
    """Leave `pending` (each instance with the time it gets SIGKILL at the latest) to `ponton ps:retire`, with the
    app's lock, which the caller holds: no other command acts on the app until they are gone."""
    stops = [f"{instance.id}@{kill_at:.3f}" for instance, kill_at in pending]
    lock.spawn_heir(p.settings.state_dir, app, [sys.executable, "-m", "ponton", COMMAND, app, *stops],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    start_new_session=True)


def finish(p: Ponton, app: str, stops: dict[str, float]):
    """Stop the app's instances whose ids `stops` names (SIGKILL at the given time at the latest) and remove them,
    all at once. One that another command removed meanwhile is simply gone. The caller holds the app's lock."""
    stop_all(p.scheduler, [(i, stops[i.id]) for i in p.scheduler.instances(app) if i.id in stops])


def stop_all(scheduler: Scheduler, pending: list[tuple[Instance, float]]):
    """Stop and remove each instance (by the time given with it at the latest), all at once, and return when done."""

    def retire(stop: tuple[Instance, float]):
        instance, kill_at = stop
        scheduler.stop(instance, max(0.0, kill_at - time.time()))
        scheduler.remove(instance)

    with concurrent.futures.ThreadPoolExecutor(max(1, len(pending))) as pool:
        list(pool.map(retire, pending))
