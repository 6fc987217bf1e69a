"""What the state's domain methods return: frozen records, the same whichever store keeps them."""

from dataclasses import dataclass


@dataclass(frozen=True)
class App:
    name: str
    created: float
    owner: str | None  # who created it; None: an admin on the server itself
    stopped: bool
    deploy_branch: str | None  # the branch whose pushes deploy; None means `main` or `master`
    standby_version: int | None  # blue-green: the release kept ready to switch back to, until standby_until
    standby_until: float | None
    canary_version: int | None  # the release rolling out as a canary, promoted at canary_until
    canary_until: float | None


@dataclass(frozen=True)
class Release:
    version: int
    image: str
    source: str  # what was deployed: an image name or a git sha
    config: dict[str, str]
    processes: dict[str, str]  # process type -> command ("" runs the image's own command)
    healthchecks: dict  # app.json "healthchecks", by process type
    description: str
    created: float
    status: str  # deploying, succeeded, failed
    build_log: str = ""

    @property
    def label(self) -> str:
        return f"v{self.version}"


@dataclass(frozen=True)
class SshKey:
    fingerprint: str
    name: str  # the user it lets in
    key: str  # the public key, as authorized_keys takes it
    created: float


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created: float


@dataclass(frozen=True)
class Event:
    time: float
    user: str
    kind: str
    message: str


@dataclass(frozen=True)
class InstanceStatus:
    """What the watchdog found wrong with an instance (web.1: crash-looping), shown by ps:report."""
    instance: str
    status: str
    detail: str
    updated: float


@dataclass(frozen=True)
class LetsEncrypt:
    """An app's Let's Encrypt issuance: the outcome of the last one, and when to try again after failures."""
    app: str
    status: str
    last_error: str
    failures: int
    retry_after: float
    updated: float


@dataclass(frozen=True)
class Port:
    """A port mapping of an app: nginx listens on host_port (protocol tcp or udp) and forwards to container_port."""
    app: str
    scheme: str
    host_port: int
    protocol: str
    container_port: int


@dataclass(frozen=True)
class Service:
    """A backing service (plugins/services): its kind (postgres, redis), name and owner, like an app's."""

    kind: str
    name: str
    owner: str | None
    password: str
    created: float
    backup_schedule: str | None  # cron; None: no scheduled backups
    backup_from: float | None  # the schedule counts from here (when it was set, or the last scheduled backup)
    backup_keep: int  # backups kept
    backup_error: str  # how the last backup failed ("": it did not)


@dataclass(frozen=True)
class ServiceLink:
    """A service linked to an app, through the config variable it set."""

    kind: str
    name: str
    variable: str


@dataclass(frozen=True)
class Autoscale:
    """An app's process under ps:autoscale: its policy, and the last decision the watchdog took on it."""

    app: str
    process: str
    minimum: int
    maximum: int
    rps: float | None
    cpu: float | None
    latency_p90: float | None
    cooldown: float
    last_change: float | None  # when the watchdog last changed the count
    desired: int | None  # what the last decision wanted (None: none taken yet)
    reason: str
    decided: float | None
    interval: float | None  # seconds between decisions (None: the server's autoscale_interval)


@dataclass(frozen=True)
class Token:
    """A secret of the web face (an API token, a one-time login link, a browser session), kept by its hash alone."""

    kind: str  # api, login, session
    user: str | None  # None: the server itself (an admin)
    name: str  # an API token's name, its user's own ("" for the others)
    created: float
    expires: float


def from_record(cls, record: dict, **given):
    """A `cls` of the fields of a stored record that it has, and those `given` (computed ones, like an app's name)."""
    return cls(**{field: record[field] for field in cls.__dataclass_fields__ if field not in given}, **given)
