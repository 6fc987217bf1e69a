"""Quotas per user: how many apps they may own, and how many instances their apps may run in all. A backing
service (plugins/services) is one container of its owner's, and counts as one instance.

An admin sets them (`quota:set USER apps=N instances=M`); a key never set falls back to the server default, the
setting `default_quota`, written the same way ("apps=5 instances=10"; empty: no limit). Admins, and apps without
an owner (created on the server itself), have no quota.
"""

from ponton.core import validate
from ponton.core.errors import InvalidInput, PontonError
from ponton.features import access

KEYS = ("apps", "instances")
UNLIMITED = "unlimited"
DEFAULT = "default"  # quota:set USER apps=default: back to the server default
MAXIMUM = 100_000


def parse(pairs, allow_default: bool = True) -> dict[str, str | None]:
    """KEY=VALUE pairs (VALUE: a number, `unlimited`, or `default` which gives None) as values to store."""
    if not pairs:
        raise InvalidInput(f"expected KEY=VALUE pairs with keys {' and '.join(KEYS)}, e.g. apps=5 instances=10")
    result = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in KEYS:
            raise InvalidInput(f"unknown quota {validate.shown(key)} in {validate.shown(pair)}: use {' or '.join(KEYS)}")
        if value == DEFAULT and allow_default:
            result[key] = None
        elif value == UNLIMITED or validate.bounded(value, 0, MAXIMUM) is not None:
            result[key] = value
        else:
            choices = f"{UNLIMITED}{' or ' + DEFAULT if allow_default else ''}"
            raise InvalidInput(f"invalid quota {validate.shown(pair)}: use a whole number from 0 to {MAXIMUM}, "
                               f"or {choices}")
    return result


def limits(p, user: str) -> dict[str, int | None]:
    """The user's quota per key; None means no limit."""
    try:
        defaults = parse(p.settings.default_quota.split(), allow_default=False) if p.settings.default_quota else {}
    except InvalidInput as e:
        raise PontonError(f"setting default_quota: {e}") from None
    chosen = {**defaults, **p.state.quotas(user)}
    return {key: None if chosen.get(key, UNLIMITED) == UNLIMITED else int(chosen[key]) for key in KEYS}


def usage(p, user: str) -> dict[str, int]:
    apps = p.state.owned_apps(user)
    instances = sum(sum(p.state.formation(app).values()) for app in apps) + len(p.state.owned_services(user))
    return {"apps": len(apps), "instances": instances}


def create_app(p, app: str, owner: str | None):
    """Create `app` for `owner` if it fits their quota: counted and inserted in one transaction, so that creates
    running at once cannot each count the same free place."""
    def create() -> str | None:
        excess = _new_app_excess(p, owner)
        if excess is None:
            p.state.create_app(app, owner=owner)
        return excess

    excess = p.state.atomically(create)
    if excess is not None:
        access.deny(p, None, excess)  # out of the transaction, so that what deny records stays


def set_formation(p, app: str, counts: dict[str, int]):
    """Give `app` the formation `counts` if it fits its owner's instances quota, checked and stored in one
    transaction (two apps of one owner scaled at once cannot each take the last free instances)."""
    def scale() -> str | None:
        excess = _instances_excess(p, app, counts)
        if excess is None:
            p.state.set_formation(app, counts)
        return excess

    excess = p.state.atomically(scale)
    if excess is not None:
        access.deny(p, app, excess)


def create_service(p, kind: str, name: str, owner: str | None, password: str, backup_keep: int):
    """Record the service `name` of `kind` for `owner` if one more instance fits their quota: counted and
    inserted in one transaction, as create_app does."""
    def create() -> str | None:
        excess = _adding_excess(p, owner, {"instances": 1})
        if excess is None:
            p.state.create_service(kind, name, owner, password, backup_keep)
        return excess

    excess = p.state.atomically(create)
    if excess is not None:
        access.deny(p, None, excess)


def check_new_app(p, owner: str | None):
    """Refuse a new app (which runs one web instance) that would take `owner` over a quota."""
    excess = _new_app_excess(p, owner)
    if excess is not None:
        access.deny(p, None, excess)


def check_instances(p, app: str, counts: dict[str, int]):
    """Refuse a formation change of `app` that would take its owner over the instances quota (never a decrease)."""
    excess = _instances_excess(p, app, counts)
    if excess is not None:
        access.deny(p, app, excess)


def _new_app_excess(p, owner: str | None) -> str | None:
    """Why a new app (which runs one web instance) would take `owner` over a quota, or None if it fits."""
    return _adding_excess(p, owner, {"apps": 1, "instances": 1})


def _adding_excess(p, owner: str | None, adding: dict[str, int]) -> str | None:
    """Why `adding` (quota key -> how many more) would take `owner` over a quota, or None if it fits."""
    if not _limited(p, owner):
        return None
    allowed, used = limits(p, owner), usage(p, owner)
    for key in KEYS:
        if allowed[key] is not None and used[key] + adding.get(key, 0) > allowed[key]:
            return f"quota: {owner} may have at most {allowed[key]} {key} and has {used[key]}"
    return None


def _instances_excess(p, app: str, counts: dict[str, int]) -> str | None:
    owner = p.state.app(app).owner
    if not _limited(p, owner):
        return None
    allowed, used = limits(p, owner)["instances"], usage(p, owner)["instances"]
    current = p.state.formation(app)
    wanted = used - sum(current.values()) + sum({**current, **counts}.values())
    if allowed is not None and wanted > allowed and wanted > used:
        return f"quota: the apps of {owner} may run at most {allowed} instances in all, this would make {wanted}"
    return None


def instances_allowed(p, app: str, process: str) -> int | None:
    """The most instances `process` of `app` may run within its owner's quota, the others staying as they are
    (None: no limit)."""
    owner = p.state.app(app).owner
    allowed = limits(p, owner)["instances"] if _limited(p, owner) else None
    if allowed is None:
        return None
    return allowed - (usage(p, owner)["instances"] - p.state.formation(app).get(process, 0))


def _limited(p, owner: str | None) -> bool:
    return owner is not None and p.state.role(owner) != access.ADMIN
