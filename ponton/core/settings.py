"""Server settings: /etc/ponton/ponton.yml, each overridable by a PONTON_<NAME> environment variable."""

import dataclasses
import os
import shlex
from pathlib import Path

from ponton.core.errors import PontonError

CONFIG_FILE = "/etc/ponton/ponton.yml"


@dataclasses.dataclass(frozen=True)
class Settings:
    state_dir: Path = Path("/var/lib/ponton")
    domain: str = "ponton.localhost"
    http_port: int = 80
    https_port: int = 443
    ssh_port: int = 22
    # Where the nginx plugin writes one vhost file per app, and the nginx it checks (-t) and reloads (-s reload).
    nginx_conf_dir: Path = Path("/etc/nginx/ponton.d")
    nginx_command: str = "nginx"
    nginx_pid_file: Path = Path("/run/nginx.pid")
    nginx_log_dir: Path = Path("/var/log/ponton/nginx")  # one JSON access log per app
    # Builds from source (docs/builder.md). The stack images are built FROM base_image: ponton's debootstrap of
    # Debian trixie by default; where a registry is reachable, e.g. debian:trixie. Every templated build trusts
    # ca_bundle (for TLS-intercepting proxies). A build gets build_memory (a size: 512m, 2g), build_cpus cores,
    # build_pids_limit processes and build_timeout seconds, so that a runaway build cannot take the server down;
    # at most max_concurrent_builds run at once (others wait for a slot). 0 CPUs or pids: no limit.
    base_image: str = "ponton/base:trixie"
    ca_bundle: Path = Path("/etc/ssl/certs/ca-certificates.crt")
    build_memory: str = "2g"
    build_cpus: float = 1.0
    build_pids_limit: int = 4096
    build_timeout: float = 900.0
    max_concurrent_builds: int = 2
    # Where instances run (ponton/core/scheduler.py): docker-local, containers on this server's engine.
    scheduler: str = "docker-local"
    # Loopback ports for web instances, "LOW-HIGH"; fixed per container so restarts never shuffle routing.
    port_range: str = "20000-29999"
    # The file sshd reads for the ponton user's keys; ponton renders it from its state (ssh-keys:add).
    authorized_keys_file: Path = Path("/home/ponton/.ssh/authorized_keys")
    # Images of releases built from source are kept for the newest keep_releases releases (rollback needs them).
    keep_releases: int = 5
    # Seconds: a new instance must pass its health check within health_timeout; a retired one gets
    # drain_timeout for its open connections to finish, then stop_timeout between SIGTERM and SIGKILL.
    health_timeout: float = 60.0
    drain_timeout: float = 30.0
    stop_timeout: int = 10
    release_timeout: float = 600.0  # the release phase and app.json predeploy/postdeploy scripts
    # Every user's quota unless quota:set says otherwise, e.g. "apps=5 instances=10"; empty: no limit.
    default_quota: str = ""
    # Server defaults for every container, unless resource:limit / resource:reserve set an app's own: memory as
    # 256m or 1g, CPU in cores (0.5); empty: no limit. pids_limit caps the processes of one container (fork bombs).
    memory_limit: str = ""
    cpu_limit: str = ""
    memory_reservation: str = ""
    cpu_reservation: str = ""
    pids_limit: int = 1024
    # Seconds between the autoscaler's decisions (ps:autoscale); it samples the load three times as often.
    autoscale_interval: float = 15.0
    # The watchdog serves Prometheus metrics on 127.0.0.1:metrics_port (/metrics); 0 turns it off.
    metrics_port: int = 9180
    # `ponton web` (the API, dashboard and git over HTTPS) listens on 127.0.0.1:web_port, nginx serves it at
    # ponton.DOMAIN; every web_sample_interval seconds it records each app's numbers for the dashboard's plots.
    web_port: int = 9181
    web_sample_interval: float = 10.0

    @property
    def acme_dir(self) -> Path:
        """Where ACME challenges are written; the proxy serves it at /.well-known/acme-challenge/ for every app."""
        return self.state_dir / "acme-challenge"

    @property
    def nginx_argv(self) -> list[str]:
        return shlex.split(self.nginx_command)

    @property
    def ports(self) -> tuple[int, int]:
        low, _, high = self.port_range.partition("-")
        try:
            return int(low), int(high)
        except ValueError:
            raise PontonError(f"setting port_range: expected LOW-HIGH, got {self.port_range!r}") from None


def load(path: str | None = None) -> Settings:
    """Settings from the YAML file (if it exists), then from PONTON_* environment variables."""
    path = path or os.environ.get("PONTON_CONFIG", CONFIG_FILE)
    values: dict = {}
    if os.path.exists(path):
        import yaml  # imported here: most commands never read a settings file

        try:
            with open(path) as f:
                values = yaml.safe_load(f) or {}
        except OSError as e:
            raise PontonError(f"{path}: cannot read: {e.strerror}") from None
        except yaml.YAMLError as e:
            raise PontonError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
        except ValueError:  # PyYAML's int() of a number of more than 4300 digits
            raise PontonError(f"{path}: a number with too many digits") from None
        if not isinstance(values, dict):
            raise PontonError(f"{path}: expected a mapping of settings")
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    unknown = set(values) - set(fields)
    if unknown:
        raise PontonError(f"{path}: unknown settings: {', '.join(sorted(map(str, unknown)))}")
    for name in fields:
        env = os.environ.get(f"PONTON_{name.upper()}")
        if env is not None:
            values[name] = env
    return Settings(**{name: _convert(fields[name], value) for name, value in values.items()})


def _convert(field: dataclasses.Field, value):
    """A value from YAML (typed) or the environment (text) as the field's type; nothing is silently coerced."""
    kind = type(field.default)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(value, str) or (kind is float and number) or (kind is int and number and isinstance(value, int)):
        try:
            return kind(value)
        except ValueError:
            pass
    name = "path" if isinstance(field.default, Path) else kind.__name__
    raise PontonError(f"setting {field.name}: expected {name}, got {value!r}")
