"""The swarm scheduler without a cluster: what it reports of a task whose engine it cannot reach (its Swarm
services and nodes are tested on a real cluster, in tests/cluster)."""

from types import SimpleNamespace

import docker

from ponton.core.settings import Settings
from runtime import swarm


def test_a_task_on_another_node_is_not_measured_rather_than_idle(monkeypatch):
    def elsewhere(container_id):
        raise docker.errors.NotFound(f"no container {container_id} on this node")

    monkeypatch.setattr(swarm, "client", lambda: SimpleNamespace(containers=SimpleNamespace(get=elsewhere)))
    service = {"ID": "s1", "Spec": {"TaskTemplate": {"Resources": {"Limits": {"MemoryBytes": 2**28}}}}}
    task = {"Status": {"State": "running", "ContainerStatus": {"ContainerID": "c0ffee"}}}
    there = swarm.Instance(service=service, task=task, exits=0, node="node-2", host="10.0.0.2", process="web",
                           number=1, release=1)
    scheduler = swarm.Swarm(Settings())
    for sample in (True, False):  # None, not 0.0: the autoscaler would read 0.0 as idle and remove instances
        assert scheduler.usage(there, sample=sample)["cpu_percent"] is None
    assert scheduler.usage(there)["memory_limit"] == 2**28
