"""Removing images from the engine of every node of the cluster, as the manager removes them from its own.

The manager reaches no other node's engine; Swarm does. A global job (JOB: one task on each node, which runs once
and ends) of the registry's image removes them through its node's engine socket. An image a container there still
uses (the task of an old release that Swarm is still removing) is tried again each second for up to RETRIES
seconds, then left: `docker image prune -a` on that node frees it.

One job at a time, so that pruning never piles up services: a new prune replaces the previous job, and takes over
the names of one young enough (CARRY) that it may still be at work.
"""

import contextlib
import fcntl
from pathlib import Path

from ponton.core.dockerclient import client
from runtime import docker_local, registry

JOB = "ponton-registry-prune"
LABEL = "ponton.job"  # not registry.LABEL: a job's ended tasks are none of the registry's running ones
RETRIES = 120
CARRY = 300  # seconds: RETRIES for the images in use, and time to start on every node
SCRIPT = f"""
for name in "$@"; do
    tries=0
    while :; do
        status=$(curl -sS -o /dev/null -w '%{{http_code}}' --unix-socket /run/docker.sock -X DELETE \\
                 "http://engine/images/$name")
        case "$status" in
            200|404) break ;;
            409) tries=$((tries + 1)); [ "$tries" -lt {RETRIES} ] || break; sleep 1 ;;
            *) echo "cannot remove $name: HTTP $status" >&2; break ;;
        esac
    done
done
"""
COMMAND = ["/bin/sh", "-c", SCRIPT, JOB]  # then the names: $1... of SCRIPT


def remove_everywhere(names: set[str], state_dir: Path):
    """Start the job that removes `names` (as nodes know them) on every node, and return: it runs on its own."""
    import docker  # imported here: slow to import, and most commands never touch the cluster

    if not names:
        return
    with open(state_dir / "node-prune.lock", "a") as lock:  # two apps pruning at once: one job takes both
        fcntl.flock(lock, fcntl.LOCK_EX)
        names = set(names)
        for previous in client().api.services(filters={"name": JOB}):
            if previous["Spec"]["Name"] != JOB:
                continue
            if docker_local.seconds_since(previous["CreatedAt"]) < CARRY:
                names |= set(previous["Spec"]["TaskTemplate"]["ContainerSpec"]["Command"][len(COMMAND):])
            with contextlib.suppress(docker.errors.NotFound):
                client().api.remove_service(previous["ID"])
        template = {"ContainerSpec": {"Image": registry.IMAGE, "Command": [*COMMAND, *sorted(names)],
                                      "Mounts": [{"Type": "bind", "Source": "/var/run/docker.sock",
                                                  "Target": "/run/docker.sock"}]},
                    "RestartPolicy": {"Condition": "none"}}
        client().api.create_service(template, name=JOB, labels={LABEL: JOB}, mode={"GlobalJob": {}})
