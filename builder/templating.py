"""Render the Dockerfile templates (builder/templates): pure, the files of a build context as text.

An app template may look at the source it builds through two functions, so that the template, not Python code,
decides what a file changes: `has(path)` (a lockfile, public/index.php) and `mentions(path, text)` (gunicorn in
requirements.txt). Files named LANGUAGE.NAME.j2 next to a language's Dockerfile template are rendered into the
build context as NAME (static's nginx.conf). In the context the generated files sit at the root and the app's
source under SOURCE (the templates copy it from there).
"""

import functools
import json
from pathlib import Path

TEMPLATES = Path(__file__).parent / "templates"
SOURCE = "app/"


def app_files(language: str, source_dir: Path, stack: str, base: str, pin: str = "") -> dict[str, str]:
    """The generated files of an app's build context: its Dockerfile and the template's companions. `pin`: a
    version range the stack does not satisfy, for a template that installs that version itself (Node.js)."""
    env = _environment()
    names = [n for n in env.list_templates() if n.startswith(f"{language}.") and n.endswith(".j2")]
    source = _Source(source_dir)
    values = {"stack": stack, "base": base, "pin": pin, "has": source.has, "mentions": source.mentions}
    return {name[len(language) + 1:-len(".j2")]: env.get_template(name).render(values) for name in names}


def stack_dockerfile(language: str, base: str) -> str:
    return _environment().get_template(f"stacks/{language}.Dockerfile.j2").render(base=base)


def image_dockerfile(directory: Path, base: str) -> str:
    """The Dockerfile.j2 of `directory` (a backing service's image, plugins/*/image) rendered FROM `base`; it may
    include the templates here, as the stacks do (_trust.Dockerfile.j2)."""
    import jinja2  # imported here: see _environment

    env = _environment().overlay(loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(directory), _environment().loader]))
    return env.get_template("Dockerfile.j2").render(base=base)


class _Source:
    def __init__(self, root: Path):
        self.root = root

    def _file(self, path: str) -> Path | None:
        """A regular file of the source (never a symlink: it could point at any file on the server)."""
        file = self.root / path
        return file if file.is_file() and not file.is_symlink() else None

    def has(self, path: str) -> bool:
        return self._file(path) is not None

    def mentions(self, path: str, text: str) -> bool:
        """Whether the file exists and contains `text`, ignoring case (package names are case-insensitive)."""
        file = self._file(path)
        return file is not None and text.lower() in file.read_text(errors="replace").lower()


def _exec_form(command: str) -> str:
    """CMD in exec form running `command` through sh (for $PORT), exec'd so that it receives SIGTERM itself."""
    return json.dumps(["/bin/sh", "-c", f"exec {command}"])


@functools.cache
def _environment():
    import jinja2  # imported here: only builds pay for it

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
    )
    env.filters["exec_form"] = _exec_form
    return env
