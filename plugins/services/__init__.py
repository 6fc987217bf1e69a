"""Backing services: the databases and caches apps link to (plugins/postgres, plugins/redis), written against the
hook API and ponton.api only. This package is what every kind shares; a kind is a `Kind` (its image, the variable
a link sets, its health check, its backup and restore) and plugs the same commands (commands.py) and hooks
(hooks.py) in with it.

One service, NAME of kind KIND (docs/services.md):
- a record in the state: its owner (who created it), password, backup schedule and retention, the apps it is
  linked to (each through one variable), its events;
- a container `ponton.KIND.NAME` (container.py) from the kind's image, built once FROM the base image, with the
  isolation options and limits of app containers, the engine's restart policy and no published port, on
- its own network `ponton.KIND.NAME`, internal (nothing leaves it), which the containers of the linked apps join
  (the app_networks hook) and nothing else: there it answers as `ponton-KIND-NAME`;
- its data on the named volume `ponton.KIND.NAME`, which outlives the container;
- its backups, under STATE_DIR/services/KIND/NAME/ (backups.py).

Engine objects' names have dots, which app names never have: an app's network `ponton-APP` never meets one.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ponton import api
from ponton.core.errors import InvalidInput
from ponton.core.validate import APP_NAME

LABEL_KIND = "ponton.service.kind"
LABEL_NAME = "ponton.service.name"
LABEL_OWNER = "ponton.service.owner"  # the state dir of the ponton that runs it (several may share an engine)


@dataclass(frozen=True)
class Kind:
    name: str  # postgres, redis: the topic of its commands and part of its engine objects' names
    title: str  # Postgres
    variable: str  # what a link sets in the app's config: DATABASE_URL
    scheme: str  # of that URL
    user: str  # in that URL ("" for none)
    port: int
    data_dir: str  # where the volume is mounted in the container
    image_dir: Path  # Dockerfile.j2 and the other files of its image
    memory: str  # the container's memory limit, unless the server has a default for every container
    environment: Callable[[str, str, int | None], dict]  # (name, password, memory limit in bytes) -> variables
    health: tuple[str, ...]  # run in the container: exits 0 while the service serves, within seconds
    backup: Callable[[str], list[str]]  # name -> a command that writes a backup on its stdout
    suffix: str  # of its backup files
    compress: bool  # gzip the backup (pg_dump's custom format is compressed already)
    restore: Callable  # (settings, container, name, backup file) -> None; puts the backup's data back
    database: bool = False  # the URL names a database, the service's name

    @property
    def image(self) -> str:
        return f"ponton/service-{self.name}:{api.SUITE}"  # on the base image of the stacks' Debian release


def check_name(name: str) -> str:
    """A service's name: the rule of app names (it becomes a database name, a host name, part of engine names)."""
    if not APP_NAME.fullmatch(name):
        raise InvalidInput(f"invalid service name {name!r}: use 1-30 lowercase letters, digits and dashes, "
                           "starting with a letter")
    return name


def engine_name(kind: Kind, name: str) -> str:
    """The name of the service's container, network and volume."""
    return f"ponton.{kind.name}.{name}"


def host(kind: Kind, name: str) -> str:
    """The name the service answers to on its network."""
    return f"ponton-{kind.name}-{name}"


def lock_name(kind: Kind, name: str) -> str:
    """The name of the service's lock, among the apps' (no app name has a dot)."""
    return f"{kind.name}.{name}"


def url(kind: Kind, name: str, password: str) -> str:
    """What a link sets: the URL apps connect with (passwords are URL-safe: secrets.token_urlsafe)."""
    path = f"/{name}" if kind.database else ""
    return f"{kind.scheme}://{kind.user}:{password}@{host(kind, name)}:{kind.port}{path}"


def owns_url(value: str | None, kind: Kind, name: str) -> bool:
    """Whether a config value is a URL of this service (whatever its password): unlink removes only that."""
    return bool(value) and re.fullmatch(rf"{kind.scheme}://[^@/]*@{re.escape(host(kind, name))}:{kind.port}(/.*)?",
                                        value) is not None
