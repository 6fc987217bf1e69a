"""The files an app ships to describe itself: Procfile (process types) and app.json (Dokku's format)."""

import json
import math
import re

from ponton.core import validate
from ponton.core.errors import InvalidInput
from ponton.features import autoscale

PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
HEALTHCHECK_KEYS = {"type", "name", "description", "path", "content", "attempts", "timeout", "wait",
                    "initialDelay", "uptime", "scheme", "port", "warn", "onFailure"}
# Each number's cap (seconds, or tries); whatever they add up to, a deploy's checks end within health_timeout.
HEALTHCHECK_NUMBERS = {"attempts": 1000, "timeout": 3600, "wait": 3600, "initialDelay": 3600, "uptime": 3600}
HEALTHCHECK_PATH = re.compile(r"/[!-~]*")  # what an HTTP request line can carry as is


def parse_procfile(text: str) -> dict[str, str]:
    """Process type -> command. Lines that are blank, comments or not `type: command` are skipped, as Heroku does."""
    processes = {}
    for line in text.splitlines():
        match = PROCFILE_LINE.match(line.strip())
        if match and not line.lstrip().startswith("#"):
            processes[match[1].lower()] = match[2].strip()
    return processes


def parse_app_json(text: str) -> dict:
    """The parts of app.json ponton uses: {"healthchecks": {type: [check]}, "formation": {type: count},
    "autoscaling": {type: autoscale.Policy} (formation.TYPE.autoscaling, Dokku's keys),
    "scripts": {"predeploy": command, "postdeploy": command}} (scripts from `scripts.dokku`), and "warnings":
    what it has that ponton leaves aside (a KEDA trigger it cannot use), one line each, for the pusher."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"app.json is not valid JSON: {e}") from None
    except (ValueError, RecursionError):  # a number of more than 4300 digits; arrays nested too deep
        raise InvalidInput("app.json is not usable JSON: a number too long or nesting too deep") from None
    if not isinstance(data, dict):
        raise InvalidInput("app.json must be a JSON object")
    healthchecks = data.get("healthchecks") or {}
    if not isinstance(healthchecks, dict):
        raise InvalidInput("app.json healthchecks must map process types to lists of checks")
    for process, checks in healthchecks.items():
        if not isinstance(checks, list) or not all(isinstance(c, dict) for c in checks):
            raise InvalidInput(f"app.json healthchecks.{process} must be a list of objects")
        for check in checks:
            _check_healthcheck(process, check)
    formation, autoscaling, warnings = {}, {}, []
    if not isinstance(data.get("formation") or {}, dict):
        raise InvalidInput("app.json formation must map process types to {\"quantity\": N}")
    for process, entry in (data.get("formation") or {}).items():
        quantity = entry.get("quantity", 1) if isinstance(entry, dict) else None
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise InvalidInput(f"app.json formation.{process}.quantity must be a whole number")
        formation.update(validate.scale_pairs((f"{process}={quantity}",)))
        if "autoscaling" in entry:
            policy, notes = autoscale.from_app_json(process, entry["autoscaling"], quantity)
            warnings += notes
            if policy is not None:
                autoscaling[process] = policy
    scripts = ((data.get("scripts") or {}).get("dokku") or {}) if isinstance(data.get("scripts"), dict) else {}
    if not isinstance(scripts, dict) or not all(isinstance(v, str) for v in scripts.values()):
        raise InvalidInput("app.json scripts.dokku must map predeploy/postdeploy to commands")
    return {
        "healthchecks": healthchecks,
        "formation": formation,
        "autoscaling": autoscaling,
        "scripts": {k: v for k, v in scripts.items() if k in ("predeploy", "postdeploy")},
        "warnings": warnings,
    }


def _check_healthcheck(process: str, check: dict):
    """Refuse what the health checker could not use (a deploy would fail with a traceback instead of a reason)."""
    where = f"app.json healthchecks.{process}"
    unknown = set(check) - HEALTHCHECK_KEYS
    if unknown:
        raise InvalidInput(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    for key in sorted(HEALTHCHECK_NUMBERS.keys() & set(check)):
        value, cap = check[key], HEALTHCHECK_NUMBERS[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not 0 <= value <= cap:
            raise InvalidInput(f"{where}: {key} must be a number from 0 to {cap}, got {validate.shown(value)}")
    if "path" in check and not (isinstance(check["path"], str) and HEALTHCHECK_PATH.fullmatch(check["path"])):
        raise InvalidInput(f"{where}: path must start with / and hold no spaces, got {check['path']!r}")
    for key in ("type", "content"):
        if key in check and not isinstance(check[key], str):
            raise InvalidInput(f"{where}: {key} must be text, got {check[key]!r}")


def no_app_json() -> dict:
    return {"healthchecks": {}, "formation": {}, "autoscaling": {}, "scripts": {}, "warnings": []}
