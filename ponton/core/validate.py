"""Checks for everything a user types. Each raises InvalidInput with one clear line."""

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable

from ponton.core.errors import InvalidInput

APP_NAME = re.compile(r"[a-z][a-z0-9-]{0,29}")
CONFIG_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PROCESS_TYPE = re.compile(r"[a-z][a-z0-9_-]{0,29}")
TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
# App names that are not free: the web face is served at ponton.DOMAIN, where an app of that name would be too.
RESERVED_APPS = {"ponton"}
DOMAIN_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
# A last label that is a number (decimal, or hex as 0x7f): URL parsers read such a host as an IPv4 address
# (127.1, 0x7f.1), and no top-level domain is one.
NUMBER_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
NUMBER = re.compile(r"([0-9]+)(\.[0-9]+)?")
MAX_INSTANCES = 50
RESERVED_KEYS = {"PORT"}
SHOWN = 40  # characters of a rejected value an error quotes


def shown(text) -> str:
    """`text` quoted for an error line: repr (control characters and line breaks escaped), cut short."""
    text = str(text)
    return repr(text) if len(text) <= SHOWN else f"{text[:SHOWN]!r}..."


def bounded(text: str, low: float, high: float, whole: bool = True) -> int | float | None:
    """`text` as a number from `low` to `high`, or None. Every number a user types goes through here: plain ASCII
    digits only (int() and float() would also take '٣', '1_000', ' 5 ', 'inf', 'nan'), and its length is checked
    before converting (int() refuses more than 4300 digits with a ValueError; float() turns them into inf)."""
    match = NUMBER.fullmatch(text) if isinstance(text, str) else None
    digits = match[1].lstrip("0") or "0" if match else ""  # leading zeros count towards int()'s limit too
    if match is None or (whole and match[2]) or len(digits) > len(str(int(high))):
        return None
    value = int(digits) if whole else float(digits + (match[2] or ""))
    return value if low <= value <= high else None


def number(text: str, low: float, high: float, what: str, whole: bool = True) -> int | float:
    """`text` as a number from `low` to `high`, or InvalidInput naming `what`."""
    value = bounded(text, low, high, whole)
    if value is None:
        raise InvalidInput(f"invalid {what} {shown(text)}: use a {'whole ' if whole else ''}number "
                           f"from {low:n} to {high:n}")
    return value


def app_name(name: str) -> str:
    if not APP_NAME.fullmatch(name):
        raise InvalidInput(
            f"invalid app name {name!r}: use 1-30 lowercase letters, digits and dashes, starting with a letter"
        )
    return name


def new_app_name(name: str) -> str:
    """A name for an app being created (or renamed to): a valid name that is not reserved."""
    if app_name(name) in RESERVED_APPS:
        raise InvalidInput(f"app name {name} is reserved: ponton's dashboard is served at {name}.DOMAIN")
    return name


def token_name(name: str) -> str:
    if not TOKEN_NAME.fullmatch(name):
        raise InvalidInput(f"invalid token name {shown(name)}: use 1-40 letters, digits, '.', '_' and '-', "
                           "starting with a letter or digit")
    return name


def config_key(key: str) -> str:
    if not CONFIG_KEY.fullmatch(key):
        raise InvalidInput(f"invalid config key {key!r}: use letters, digits and _, not starting with a digit")
    if key in RESERVED_KEYS:
        raise InvalidInput(f"config key {key} is set by ponton and cannot be changed")
    return key


def config_value(key: str, value: str) -> str:
    if "\0" in value:
        raise InvalidInput(f"config value of {key} contains a NUL byte, which environment variables cannot hold")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # argv bytes that are not UTF-8 arrive as lone surrogates (surrogateescape)
        raise InvalidInput(f"config value of {key} is not valid UTF-8 text") from None
    return value


def config_pairs(pairs: tuple[str, ...], encoded: bool = False) -> dict[str, str]:
    """Parse KEY=VALUE arguments; the value is everything after the first '=', base64 of UTF-8 text when
    `encoded` (Dokku's --encoded: how scripts pass newlines and quotes through a shell)."""
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InvalidInput(f"expected KEY=VALUE, got {pair!r}")
        key = config_key(key)
        result[key] = config_value(key, _base64_text(key, value) if encoded else value)
    return result


def _base64_text(key: str, value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, ValueError):
        raise InvalidInput(f"config value of {key} is not base64 of UTF-8 text (--encoded)") from None


def domain(name: str) -> str:
    """A host name nginx may route (never an IP address: requests to the server's address belong to no app)."""
    name = name.lower()
    labels = name.split(".")
    if _is_ip_address(name) or NUMBER_LABEL.fullmatch(labels[-1]):
        raise InvalidInput(f"invalid domain {name!r}: an IP address is not a domain (requests sent to the "
                           "server's address belong to no app)")
    if len(name) > 253 or len(labels) < 2 or not all(DOMAIN_LABEL.fullmatch(label) for label in labels):
        raise InvalidInput(
            f"invalid domain {name!r}: use dot-separated labels of letters, digits and dashes (example.com)"
        )
    return name


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return True


def custom_domain(name: str, global_domain: str) -> str:
    """A domain a user may add to an app: never the global domain or a name under it, which are the apps' own
    (APP.GLOBAL, and the names under those)."""
    name = domain(name)
    if is_under(name, global_domain):
        raise InvalidInput(f"{name} is reserved: {global_domain} and the names under it are ponton's "
                           f"(every app NAME is served at NAME.{global_domain})")
    return name


def is_under(name: str, parent: str) -> bool:
    """Whether `name` is `parent` or a name under it."""
    return name == parent or name.endswith(f".{parent}")


def process_type(name: str) -> str:
    if not PROCESS_TYPE.fullmatch(name):
        raise InvalidInput(f"invalid process type {shown(name)}: like web or worker (a-z, 0-9, _ and -)")
    return name


def scale_pairs(pairs: tuple[str, ...]) -> dict[str, int]:
    """Parse TYPE=N arguments of ps:scale."""
    if not pairs:
        raise InvalidInput("expected at least one TYPE=N, e.g. web=2")
    result = {}
    for pair in pairs:
        process, sep, count = pair.partition("=")
        if not sep or not PROCESS_TYPE.fullmatch(process):
            raise InvalidInput(f"expected TYPE=N with a process type like web or worker, got {shown(pair)}")
        count = bounded(count, 0, MAX_INSTANCES)
        if count is None:
            raise InvalidInput(f"invalid count in {shown(pair)}: use a whole number from 0 to {MAX_INSTANCES}")
        result[process] = count
    return result


def setting(key: str, value: str | None, parsers: dict[str, Callable[[str], object]], what: str) -> str | None:
    """The value to store for the per-app setting `key` (None: back to its default), checked by its parser in
    `parsers`, or InvalidInput naming the settings there are."""
    if key not in parsers:
        raise InvalidInput(f"unknown {what} {shown(key)}: use one of {', '.join(parsers)}")
    if value is not None:
        parsers[key](value)
    return value
