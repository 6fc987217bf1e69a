"""How much of the server an app's containers may use: limits (a hard cap) and reservations (what they get when
the server is busy), for memory and CPU.

Stored per app by process type ('' holds what applies to every type), as typed: `256m`, `0.5`. A process type's
own value wins over the app's, which wins over the server default (settings memory_limit, cpu_limit,
memory_reservation, cpu_reservation). `0` means none, even if the server has a default.
"""

import re

from ponton.core import validate
from ponton.core.errors import InvalidInput, PontonError

EVERY_TYPE = ""
KEYS = ("limit.memory", "limit.cpu", "reserve.memory", "reserve.cpu")
SETTINGS = {"limit.memory": "memory_limit", "limit.cpu": "cpu_limit",
            "reserve.memory": "memory_reservation", "reserve.cpu": "cpu_reservation"}
MEMORY = re.compile(r"(.*?)([bkmg]?)", re.DOTALL)  # the number is checked by validate.bounded
UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30}
MIN_MEMORY = 6 * 2**20  # the engine refuses less
MAX_MEMORY = 2**50 - 1
MAX_CPU = 1024


def memory_bytes(text: str) -> int:
    number, unit = MEMORY.fullmatch(text.strip().lower()).groups()
    amount = validate.bounded(number, 0, MAX_MEMORY / UNITS[unit], whole=False)
    value = -1 if amount is None else int(amount * UNITS[unit])
    if value != 0 and not MIN_MEMORY <= value <= MAX_MEMORY:
        raise InvalidInput(f"invalid memory {validate.shown(text)}: use a size like 256m or 1g (at least 6m), "
                           "or 0 for none")
    return value


def cpus(text: str) -> float:
    value = validate.bounded(text.strip(), 0, MAX_CPU, whole=False)
    if value is None or (value != 0 and value < 0.01):
        raise InvalidInput(f"invalid CPU {validate.shown(text)}: use a number of cores like 0.5 or 2, or 0 for none")
    return value


def check(key: str, text: str) -> str:
    """The value to store for `key` (lower case, as typed), or InvalidInput."""
    (memory_bytes if key.endswith(".memory") else cpus)(text)
    return text.strip().lower()


def merge(stored: dict[str, dict[str, str]], process: str, changes: dict[str, str | None]) -> dict:
    """`stored` with `changes` applied to `process` (None removes a key); empty entries are dropped."""
    updated = {k: dict(v) for k, v in stored.items()}
    entry = updated.setdefault(process, {})
    for key, value in changes.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    return {k: v for k, v in updated.items() if v}


def defaults(settings) -> dict[str, str]:
    """The server defaults from the settings, checked."""
    result = {}
    for key, name in SETTINGS.items():
        value = getattr(settings, name)
        if value:
            try:
                result[key] = check(key, value)
            except InvalidInput as e:
                raise PontonError(f"setting {name}: {e}") from None
    return result


def effective(stored: dict[str, dict[str, str]], server: dict[str, str], process: str) -> dict[str, tuple[str, str]]:
    """What applies to `process`: key -> (value, where it comes from: the process type, app or server)."""
    result = {}
    for key in KEYS:
        for source, values in ((process, stored.get(process, {})), ("app", stored.get(EVERY_TYPE, {})),
                               ("server", server)):
            if key in values:
                result[key] = (values[key], source)
                break
    return result


def container_args(values: dict[str, str], pids_limit: int) -> dict:
    """Docker arguments for these values (key -> text). Memory limits include swap: a limit is a limit."""
    args = {"pids_limit": pids_limit} if pids_limit > 0 else {}
    if memory_bytes(values.get("limit.memory", "0")):
        args["mem_limit"] = args["memswap_limit"] = memory_bytes(values["limit.memory"])
    if cpus(values.get("limit.cpu", "0")):
        args["nano_cpus"] = int(cpus(values["limit.cpu"]) * 1e9)
    if memory_bytes(values.get("reserve.memory", "0")):
        args["mem_reservation"] = memory_bytes(values["reserve.memory"])
    if cpus(values.get("reserve.cpu", "0")):
        args["cpu_shares"] = max(2, int(cpus(values["reserve.cpu"]) * 1024))  # a share of 1024 is one core's worth
    return args


def for_process(p, app: str, process: str) -> dict:
    """Docker arguments for one container of `app`'s `process` type (a one-off gets what every type gets)."""
    values = effective(p.state.resources(app), defaults(p.settings), process)
    return container_args({key: value for key, (value, _) in values.items()}, p.settings.pids_limit)


def for_release(p, app: str, release) -> dict[str, dict]:
    return {process: for_process(p, app, process) for process in release.processes}
