"""Loopback host ports for web instances, chosen by ponton and fixed for the container's life.

Docker reassigns a random published port each time a container restarts (a crash, an engine restart), so
nginx could send one app's requests to the port another app's container got. A fixed port survives restarts.
"""

import random
import socket

from ponton.core.dockerclient import client


def used() -> set[int]:
    """Host ports already claimed by any container on the engine, running or not. One listing: its summary of a
    running container has its published ports; only the others (created, exited, restarting) are inspected for
    the ports they claim. (Inspecting every container made each start slower with every app on the server.)"""
    import docker  # imported here: see dockerclient.client()

    api = client().api
    taken = set()
    for summary in api.containers(all=True):
        if summary.get("State") == "running":
            taken.update(int(port["PublicPort"]) for port in summary.get("Ports") or [] if port.get("PublicPort"))
            continue
        try:
            bindings = api.inspect_container(summary["Id"])["HostConfig"].get("PortBindings") or {}
        except docker.errors.NotFound:  # removed since the listing (other deploys, other users of the engine)
            continue
        for binding in bindings.values():
            taken.update(int(b["HostPort"]) for b in binding or [] if b.get("HostPort"))
    return taken


def pick(port_range: tuple[int, int], taken: set[int]) -> int:
    """A port in `port_range` that no container claims and nothing listens on now."""
    low, high = port_range
    candidates = [p for p in range(low, high + 1) if p not in taken]
    random.shuffle(candidates)
    for port in candidates[:200]:
        if _bindable(port):
            return port
    raise OSError(f"no free loopback port in {low}-{high} (setting port_range)")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
