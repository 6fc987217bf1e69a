"""Pure builders: a Swarm service of one task, from the same container arguments docker-local uses (spec.py), so
that an instance is the same on one server and on a cluster: labels, environment, command, init, capabilities,
resources and logs. What Swarm (API 1.41) cannot give a task is said in docs/cluster.md."""

import secrets

from runtime import spec

RESTART_DELAY = 1_000_000_000  # ns between a task's exit and its next start: Swarm's default is 5 s


def service(args: dict, ports: dict[str, int], networks: tuple[str, ...], stop_timeout: float) -> dict:
    """Arguments for the engine's create_service: `args` are spec.container_spec's; `ports` maps container ports
    (5000/tcp, 7000/udp) to the cluster-wide port each is published on, in host mode on the node of the task."""
    labels = args["labels"]
    container = {
        "Image": args["image"],
        "Env": [f"{key}={value}" for key, value in args["environment"].items()],
        "Labels": labels,
        "Init": args["init"],
        "CapabilityDrop": args["cap_drop"],
        "CapabilityAdd": args["cap_add"],
        "StopGracePeriod": int(stop_timeout * 1e9),
    }
    if args["command"]:
        container["Args"] = args["command"]  # Args, like `docker service create IMAGE CMD`: the entrypoint stays
    return {
        "name": _name(args["name"]),
        "labels": labels,
        "task_template": {
            "ContainerSpec": container,
            "Resources": resources(args),
            "RestartPolicy": {"Condition": "any", "Delay": RESTART_DELAY, "MaxAttempts": 0},
            "LogDriver": {"Name": spec.LOG_CONFIG["type"], "Options": spec.LOG_CONFIG["config"]},
            "Networks": [{"Target": name} for name in (args["network"], *networks)],
        },
        "mode": {"Replicated": {"Replicas": 1}},
        # dnsrr: no virtual IP, no routing mesh (it needs IPVS); instances are reached at NODE:PORT only.
        "endpoint_spec": {"Mode": "dnsrr", "Ports": [
            {"Protocol": key.partition("/")[2] or "tcp", "TargetPort": int(key.partition("/")[0]),
             "PublishedPort": port, "PublishMode": "host"} for key, port in ports.items()]},
    }


def resources(args: dict) -> dict:
    """Docker's container limits as Swarm's: a reserved CPU share becomes a reservation the scheduler places by."""
    limits, reservations = {}, {}
    if args.get("nano_cpus"):
        limits["NanoCPUs"] = args["nano_cpus"]
    if args.get("mem_limit"):
        limits["MemoryBytes"] = args["mem_limit"]
    if args.get("pids_limit"):
        limits["Pids"] = args["pids_limit"]
    if args.get("mem_reservation"):
        reservations["MemoryBytes"] = args["mem_reservation"]
    if args.get("cpu_shares"):
        reservations["NanoCPUs"] = int(args["cpu_shares"] / 1024 * 1e9)
    return {"Limits": limits, "Reservations": reservations}


def scaled(spec_: dict, replicas: int, stop_timeout: float | None) -> dict:
    """Arguments for update_service: the same service with `replicas` tasks (and a new stop grace period)."""
    template = dict(spec_["TaskTemplate"])
    if stop_timeout is not None:
        template["ContainerSpec"] = {**template["ContainerSpec"], "StopGracePeriod": int(stop_timeout * 1e9)}
    return {"task_template": template, "name": spec_["Name"], "labels": spec_.get("Labels"),
            "mode": {"Replicated": {"Replicas": replicas}}, "endpoint_spec": spec_.get("EndpointSpec")}


def replicas(service: dict) -> int:
    return service["Spec"]["Mode"].get("Replicated", {}).get("Replicas", 0)


def memory_limit(service: dict) -> int | None:
    return service["Spec"]["TaskTemplate"].get("Resources", {}).get("Limits", {}).get("MemoryBytes") or None


def _name(container_name: str) -> str:
    """A service name from docker-local's container name (APP.PROCESS.NUMBER.RANDOM): Swarm allows no dots, and
    at most 63 characters."""
    app, process, number, _ = container_name.split(".")
    return f"{app[:32]}-{process[:16]}-{number}-{secrets.token_hex(3)}"
