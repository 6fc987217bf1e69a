"""The connection to the Docker engine that every layer shares: the scheduler, the builder's checks, the watchdog.
(A build streams on a client of its own, builder/dockerbuild.py says why.)"""

import functools

from ponton.core.errors import PontonError


@functools.cache
def client(timeout: float | None = 120):
    """The engine's client; `timeout=None` for a stream that may stay quiet for long (the engine's events)."""
    import docker  # imported here: it is slow to import and most commands never touch the engine

    try:
        engine = docker.from_env(timeout=timeout)
    except docker.errors.DockerException as e:
        raise PontonError(f"cannot reach the Docker engine: {e}") from None
    # Not the environment's HTTP proxies and netrc, which requests looks up again for every call (a quarter of
    # each call's CPU time, and the watchdog makes a few per app every round): the engine is not behind a proxy.
    engine.api.trust_env = False
    return engine


def image_exists(name: str) -> bool:
    import docker  # imported here: see client()

    try:
        client().images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def networks_named(name: str) -> list:
    """The engine's networks called `name`: its name filter matches parts of names too (ponton-a finds ponton-ab,
    whose removal would then be the destroy of app a's)."""
    return [network for network in client().networks.list(names=[name]) if network.name == name]
