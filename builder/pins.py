"""Version pins an app declares (.python-version, runtime.txt, engines.node, the go line of go.mod,
.ruby-version), checked against the one version its stack has before anything is built.

A stack holds the runtime Debian packages for trixie, so there is one version per language: a pin either
matches it or the build stops, naming the version this server has.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ponton.core.errors import BuildError


@dataclass(frozen=True)
class PinFile:
    """Where a language declares its version: the file, how to read the pin from it, what satisfies it."""

    path: str
    where: str  # for messages, e.g. "package.json engines.node"
    read: Callable[[str], str | None]
    satisfied: Callable[[str, str], bool]  # (pin, version)


@dataclass(frozen=True)
class Pin:
    where: str
    spec: str
    satisfied: Callable[[str, str], bool]


def pins(files: tuple[PinFile, ...], source_dir: Path) -> list[Pin]:
    """The pins found in `source_dir` (a file without one, or missing, pins nothing)."""
    found = []
    for file in files:
        path = source_dir / file.path
        if path.is_file() and not path.is_symlink():
            spec = file.read(path.read_text(errors="replace"))
            if spec:
                found.append(Pin(file.where, spec, file.satisfied))
    return found


def unmet(found: list[Pin], version: str) -> Pin | None:
    """The first pin that `version` does not satisfy."""
    return next((pin for pin in found if not pin.satisfied(pin.spec, version)), None)


def check(found: list[Pin], title: str, version: str, others: tuple[str, ...] = ()):
    """Raise BuildError for the first pin `version` does not satisfy (`others`: the versions of the language's
    stacks on other Debian releases, for the message)."""
    pin = unmet(found, version)
    if pin is not None:
        raise BuildError(f"{pin.where} asks for {title} {pin.spec}, but this server's {title} stack has "
                         f"{version}; versions available: {', '.join([version, *others])} "
                         "(change the pin, or deploy a Dockerfile)")


def range_for_shell(pin: Pin) -> str:
    """The pin, for a build step that installs the version it names: only the characters of a version range (no
    quote, `$` or backquote: the template puts it in double quotes)."""
    if not NPM_RANGE.fullmatch(pin.spec):
        raise BuildError(f"{pin.where}: {pin.spec!r} is not a version range (like 18.x, ^18.19 or >=16 <19)")
    return pin.spec


NPM_RANGE = re.compile(r"[\w.*^~<>=| -]{1,64}")


# Readers: the pin as written in each file, or None.

def first_line(text: str) -> str | None:
    """.python-version and .ruby-version (pyenv, rbenv): the first line that is not a comment; a `python-` or
    `ruby-` prefix as in runtime.txt is dropped."""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            return re.sub(r"^(python|ruby)-", "", line)
    return None


def engines_node(text: str) -> str | None:
    try:
        manifest = json.loads(text)
    except ValueError as e:
        raise BuildError(f"package.json is not valid JSON: {e}") from None
    engines = manifest.get("engines") if isinstance(manifest, dict) else None
    spec = engines.get("node") if isinstance(engines, dict) else None
    return spec.strip() if isinstance(spec, str) and spec.strip() else None


def go_directive(text: str) -> str | None:
    match = re.search(r"^go\s+(\S+)", text, re.MULTILINE)
    return match.group(1) if match else None


# Matchers: (pin, version) -> whether the version satisfies the pin.

def same_release(pin: str, version: str) -> bool:
    """Python, Ruby: the pin names a release line or an exact version ("3.13" or "3.13.5" for 3.13.5)."""
    wanted = pin.split(".")
    have = version.split(".")
    return len(wanted) <= len(have) and all(w in ("x", "X", "*") or w == h for w, h in zip(wanted, have))


def at_least(pin: str, version: str) -> bool:
    """Go: the go line of go.mod is the minimum toolchain (builds set GOTOOLCHAIN=local: none is downloaded)."""
    return _padded(_numbers(pin)) <= _padded(_numbers(version))


def npm_range(spec: str, version: str) -> bool:
    """npm's semver ranges as engines.node uses them: `20`, `20.x`, `^20.1`, `~20.19.0`, `>=18 <21`,
    `18 - 20`, `18 || 20`, `*`."""
    have = _padded(_numbers(version))
    for alternative in spec.split("||"):
        alternative = re.sub(r"(\S+)\s+-\s+(\S+)", r">=\1 <=\2", alternative.strip())
        comparators = re.findall(r"(<=|>=|<|>|=|\^|~)?\s*v?([\dxX*][\w.*-]*)", alternative) or [("", "*")]
        if all(_compare(op, _numbers(text), have) for op, text in comparators):
            return True
    return False


def _compare(op: str, parts: list[int], have: tuple[int, int, int]) -> bool:
    low, above = _padded(parts), _next(parts)  # `above`: the first version past a partial one ("20" -> 21.0.0)
    exact = len(parts) == 3
    if op == ">=":
        return have >= low
    if op == "<":
        return have < low
    if op == ">":
        return have > low if exact else above is not None and have >= above
    if op == "<=":
        return have <= low if exact else above is None or have < above
    if op == "~":  # patch changes only (minor ones too when only the major is given)
        above = _next(parts[:2])
    elif op == "^":  # changes that keep the first non-zero part
        significant = next((i for i, n in enumerate(parts) if n), len(parts) - 1)
        above = _next(parts[:significant + 1])
    elif exact:
        return have == low
    return low <= have and (above is None or have < above)


def _next(parts: list[int]) -> tuple[int, int, int] | None:
    return _padded(parts[:-1] + [parts[-1] + 1]) if parts else None


def _numbers(text: str) -> list[int]:
    """The leading numeric parts of a version, stopping at a wildcard: "1.24.x" -> [1, 24]."""
    parts = []
    for part in text.split("-")[0].split(".")[:3]:
        if not part.isdigit():
            break
        parts.append(int(part))
    return parts


def _padded(parts: list[int]) -> tuple[int, int, int]:
    return tuple((parts + [0, 0, 0])[:3])
