"""Checks for everything a user types. Each raises InvalidInput with one clear line."""

import re

from ponton.errors import InvalidInput

APP_NAME = re.compile(r"[a-z][a-z0-9-]{0,29}")
CONFIG_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PROCESS_TYPE = re.compile(r"[a-z][a-z0-9_-]{0,29}")
DOMAIN_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
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


def config_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    """Parse KEY=VALUE arguments; the value is everything after the first '='."""
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InvalidInput(f"expected KEY=VALUE, got {pair!r}")
        result[config_key(key)] = config_value(key, value)
    return result


def domain(name: str) -> str:
    name = name.lower()
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(DOMAIN_LABEL.fullmatch(label) for label in labels):
        raise InvalidInput(
            f"invalid domain {name!r}: use dot-separated labels of letters, digits and dashes (example.com)"
        )
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
