"""Pure builders: the container ponton runs for one instance of one process type, as docker SDK arguments."""

import secrets
import shlex

WEB = "web"
CONTAINER_PORT = 5000  # $PORT inside every container, as on Heroku and Dokku
LOOPBACK = "127.0.0.1"  # where web containers publish their ports: nginx on this server reaches them, no one else
LABEL_APP = "ponton.app"
LABEL_PROCESS = "ponton.process"
LABEL_RELEASE = "ponton.release"
LABEL_INSTANCE = "ponton.instance"
LABEL_OWNER = "ponton.owner"  # the state dir of the ponton that runs it: its watchdog removes only its own orphans
# Every container, whoever deployed it: no privilege gained through setuid binaries, and of Docker's default
# capabilities only those a server needs to start as root and switch to its own user (NET_RAW, MKNOD, SYS_CHROOT,
# AUDIT_WRITE, SETFCAP, SETPCAP and FSETID are gone). No mounts at all: never the engine's socket, never a host path.
CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID"]
ISOLATION = {"security_opt": ["no-new-privileges"], "cap_drop": ["ALL"], "cap_add": CAPABILITIES}
LOG_CONFIG = {"type": "json-file", "config": {"max-size": "10m", "max-file": "3"}}  # `ponton logs` reads json-file


def network_name(app: str) -> str:
    """The app's own bridge network on one server."""
    return f"ponton-{app}"


def overlay_name(app: str) -> str:
    """The app's own overlay network on a cluster. Named apart from any app's bridge (no app name starts with a
    dash): both exist while cluster:init moves the app, and the engine would take the bridge for it. Swarm wants
    a DNS label: no dot, a letter or digit last (an app name may end with a dash)."""
    return f"ponton--{app}-cluster"


def container_spec(app: str, process: str, number: int, release, owner: str, host_port: int | None = None,
                   resources: dict | None = None, extra_ports: dict[str, int] | None = None) -> dict:
    """Arguments for `containers.create`: labelled, on the app's own network, web published on loopback only
    (on `host_port`, and each of `extra_ports`, like {"7000/udp": 20123}, for ports:add), isolated, with
    `resources` (limits and reservations, as Docker arguments)."""
    command = release.processes.get(process) or None
    published = {f"{CONTAINER_PORT}/tcp": host_port, **(extra_ports or {})}
    return {
        "image": release.image,
        "name": f"{app}.{process}.{number}.{secrets.token_hex(3)}",
        "command": shell_command(command) if command else None,
        "environment": {**release.config, "PORT": str(CONTAINER_PORT)},
        "labels": {
            LABEL_APP: app,
            LABEL_PROCESS: process,
            LABEL_RELEASE: str(release.version),
            LABEL_INSTANCE: str(number),
            LABEL_OWNER: owner,
        },
        "ports": {key: (LOOPBACK, port) for key, port in published.items()} if process == WEB else {},
        "network": network_name(app),
        "restart_policy": {"Name": "unless-stopped"},
        # An init as PID 1 (the engine's docker-init, tini) passes SIGTERM on: the kernel gives a PID 1 no default
        # signal action, so an app that installs no handler would ignore the stop and wait for SIGKILL.
        "init": True,
        "log_config": LOG_CONFIG,
        **ISOLATION,
        **(resources or {}),
    }


def shell_command(command: str) -> list[str]:
    """A Procfile command, run by /bin/sh (for $PORT and the like). A simple command is exec'd, so that it is the
    container's PID 1 and gets the SIGTERM that stops it: sh (dash) neither execs it nor passes the signal on, so
    a stop would wait stop_timeout and SIGKILL. Lists, pipelines and loops stay as they are."""
    return ["/bin/sh", "-c", f"exec {command}" if _is_simple(command) else command]


def _is_simple(command: str) -> bool:
    # `>&` and `<&` (2>&1) are redirections, not the `&` that runs a command in the background.
    lexer = shlex.shlex(command.replace(">&", ">").replace("<&", "<"), posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:  # unbalanced quotes: leave it to sh
        return False
    return (bool(words) and words[0] not in SHELL_KEYWORDS and "=" not in words[0]
            and not any(word and set(word) <= set(";&|()") for word in words))


SHELL_KEYWORDS = {"!", "{", "case", "for", "if", "until", "while", "exec", "time", "[[", "function", "select"}


def one_off_spec(app: str, release, command: str, owner: str, resources: dict | None = None) -> dict:
    """A container that runs `command` once in the release's image and environment (release phase, scripts)."""
    args = container_spec(app, "run", 0, release, owner, resources=resources)
    return {**args, "command": ["/bin/sh", "-c", command], "ports": {}, "restart_policy": {"Name": "no"}}
