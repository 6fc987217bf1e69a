"""redis:*: Redis that apps link to (REDIS_URL), named as Dokku's redis plugin names them (docs/services.md). A kind
of backing service (plugins/services) on Debian's Redis; a backup is its RDB snapshot, gzipped, and a restore
starts Redis again on it."""

import tempfile
from pathlib import Path

from plugins.services import Kind, backups, container, hooks
from plugins.services.commands import build
from ponton.core.errors import PontonError


def _environment(name: str, password: str, memory: int | None) -> dict:
    # Data gets 3/4 of the memory limit: Redis needs the rest for itself (buffers, the fork of a snapshot).
    return {"REDIS_PASSWORD": password, "REDISCLI_AUTH": password,
            "REDIS_MAXMEMORY": str(memory * 3 // 4) if memory else "0"}


def _restore(settings, running, name: str, path: Path):
    """The image's entrypoint loads /data/restore.rdb instead of the data on the next start: the backup is put
    there once redis-check-rdb found it whole (else Redis would not start on it), then Redis restarts."""
    with tempfile.NamedTemporaryFile() as rdb:
        backups.unpacked(KIND, path, rdb)
        container.put(running, "/data", "incoming.rdb", Path(rdb.name))
    code, output = container.run(running, ["sh", "-c", "redis-check-rdb /data/incoming.rdb && "
                                           "mv /data/incoming.rdb /data/restore.rdb"])
    if code != 0:
        container.run(running, ["rm", "-f", "/data/incoming.rdb"])
        lines = output.splitlines()
        # redis-check-rdb prints what it found wrong after this line, then what it read.
        found = [after for line, after in zip(lines, lines[1:]) if "RDB ERROR DETECTED" in line]
        raise PontonError(f"backup {path.name} is not a whole RDB file, the data is as it was: "
                          f"{found[0] if found else f'redis-check-rdb exited with code {code}'}")
    running.restart(timeout=settings.stop_timeout)
    container.wait_healthy(KIND, name, running)


KIND = Kind(
    name="redis", title="Redis", variable="REDIS_URL", scheme="redis", user="", port=6379, data_dir="/data",
    image_dir=Path(__file__).parent / "image", memory="256m", environment=_environment,
    health=("sh", "-c", "timeout 5 redis-cli -h 127.0.0.1 ping | grep -q PONG"),  # over TCP, as the apps connect
    # Into a file, not stdout: redis-cli cuts the transfer's end marker off a file only.
    backup=lambda name: ["sh", "-c", 'f=$(mktemp) && redis-cli --rdb "$f" >&2 && cat "$f"; s=$?; rm -f "$f"; exit $s'],
    suffix=".rdb.gz", compress=True, restore=_restore,
)


plugin = hooks.ServicePlugin(KIND, build)
