"""What a plugin's commands may use of ponton besides its core (ponton.core.*): the one face plugins import.

Everything here is ponton's own, named for plugins and nothing more: the decorators and printing every command
uses, who may do what, quotas, the config change and its zero-downtime roll that `config:set` does, the isolation
and limits of app containers, and the builder's once-built images. A plugin that needs more asks for it here, so
that each rule keeps one implementation.
"""

from builder.stacks import SUITE, ensure_image
from ponton.commands.config import change as change_config
from ponton.features.access import checks_own_access, deny, is_admin
from ponton.features.quota import create_service
from ponton.features.resources import container_args, defaults
from ponton.output import WholeNumber, app_argument, emit, format_option, one_line, pass_ponton, table, when
from runtime.docker_local import seconds_since
from runtime.spec import ISOLATION, LABEL_APP, LOG_CONFIG

__all__ = [
    "ISOLATION", "LABEL_APP", "LOG_CONFIG", "SUITE", "WholeNumber", "app_argument", "change_config", "checks_own_access",
    "container_limits", "create_service", "deny", "emit", "ensure_image", "format_option", "is_admin", "one_line",
    "pass_ponton", "seconds_since", "table", "when",
]


def container_limits(settings, memory: str, cpu: str) -> dict:
    """Docker arguments that limit a plugin's container as app containers are: the server defaults (settings
    memory_limit, cpu_limit, the reservations, pids_limit), else `memory` (256m) and `cpu` (cores)."""
    return container_args({"limit.memory": memory, "limit.cpu": cpu, **defaults(settings)}, settings.pids_limit)
