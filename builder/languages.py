"""The languages ponton builds, as one table: the marker files that detect each (first match wins, in the order
of SPEC.md), the command that tells its stack's version, and the files that pin a version."""

from dataclasses import dataclass
from pathlib import Path

from builder import pins
from ponton.errors import BuildError


@dataclass(frozen=True)
class Language:
    name: str  # its template is builder/templates/NAME.Dockerfile.j2, its stack ponton/stack-NAME
    title: str
    markers: tuple[str, ...]
    version_command: str = ""  # run in the stack; the first dotted number it prints is the stack's version
    pin_files: tuple[pins.PinFile, ...] = ()

    @property
    def has_stack(self) -> bool:
        return bool(self.version_command)


LANGUAGES = (
    Language("dockerfile", "Dockerfile", ("Dockerfile",)),
    Language("python", "Python", ("requirements.txt", "pyproject.toml"), "python3 --version", (
        pins.PinFile(".python-version", ".python-version", pins.first_line, pins.same_release),
        pins.PinFile("runtime.txt", "runtime.txt", pins.first_line, pins.same_release),
    )),
    Language("node", "Node.js", ("package.json",), "node --version", (
        pins.PinFile("package.json", "package.json engines.node", pins.engines_node, pins.npm_range),
    )),
    Language("go", "Go", ("go.mod",), "go version", (
        pins.PinFile("go.mod", "the go line of go.mod", pins.go_directive, pins.at_least),
    )),
    Language("ruby", "Ruby", ("Gemfile",), "ruby --version", (
        pins.PinFile(".ruby-version", ".ruby-version", pins.first_line, pins.same_release),
    )),
    Language("php", "PHP", ("composer.json", "index.php"), "php --version"),
    Language("static", "static site", ("index.html", "public/index.html"), "nginx -v"),
)


def by_name(name: str) -> Language:
    return next(language for language in LANGUAGES if language.name == name)


def detect(source_dir: Path) -> tuple[Language, str]:
    """The first language (in table order) one of whose marker files `source_dir` has, and that marker."""
    for language in LANGUAGES:
        for marker in language.markers:
            if (source_dir / marker).is_file():
                return language, marker
    markers = ", ".join(marker for language in LANGUAGES for marker in language.markers)
    raise BuildError(f"cannot tell how to build this app: none of {markers} found (see docs/builder.md)")


def stack_languages() -> list[str]:
    return [language.name for language in LANGUAGES if language.has_stack]
