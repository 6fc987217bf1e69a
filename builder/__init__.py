"""The builder: an exported source tree in, a local image out. See docs/builder.md.

    detect the language (languages.LANGUAGES) → make sure its stack image exists (stacks) → check the app's
    version pins against the stack (pins: another Debian release's stack, or a template that installs the
    pinned version, may answer one the default stack does not) → render the language's Dockerfile template
    (render) → build the image on the engine under the memory limit and the timeout, streaming the output (engine)

An app with its own Dockerfile skips the stack, the pins and the template: it is built as it is.
"""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from builder import dockerbuild, languages, pins, sources, stacks, templating


@dataclass(frozen=True)
class Build:
    image: str
    language: str  # a name of languages.LANGUAGES: "python", "node", ..., "dockerfile"
    stack_version: str | None  # e.g. "3.13.5"; None for a Dockerfile app
    cached_steps: tuple[str, ...]  # the Dockerfile instructions the layer cache answered
    seconds: float


def build(settings, source_dir: Path, image: str, log: Callable[[str], None]) -> Build:
    """Build `source_dir` into `image`, logging Heroku-style step lines and the indented build output;
    BuildError (one line: what failed, and the failing step's last output) if it cannot."""
    started = time.monotonic()
    language, marker = languages.detect(source_dir)
    if not language.has_stack:
        log(f"-----> {marker} found: building it as it is")
        sources.check(sources.read(source_dir), image)  # never on another app's image, never a remote ADD
        with dockerbuild.context({}, source_dir) as context:
            progress = dockerbuild.build(settings, context, image, log)
        return _done(image, language, None, progress, started, log)
    log(f"-----> {language.title} app detected ({marker})")
    suite, version, pin = _runtime(settings, language, source_dir, log)
    stack = stacks.image(language, suite)
    files = templating.app_files(language.name, source_dir, stack, stacks.base(settings, suite), pin)
    files = {name: text.encode() for name, text in files.items()}
    files["ca-certificates.crt"] = stacks.ca_bundle(settings)
    log(f"-----> Building {image} on {stack} ({language.title} {version})")
    with dockerbuild.context(files, source_dir, prefix=templating.SOURCE) as context:
        progress = dockerbuild.build(settings, context, image, log)
    return _done(image, language, version, progress, started, log)


def _runtime(settings, language: languages.Language, source_dir: Path, log) -> tuple[str, str, str]:
    """The stack that builds the app, by its version pins: (Debian release, the stack's version, a pinned range
    that the template installs itself, or "")."""
    version = stacks.ensure(settings, language, log)
    found = pins.pins(language.pin_files, source_dir)
    unmet = pins.unmet(found, version)
    if unmet and language.pinned_from:
        log(f"-----> {unmet.where} asks for {language.title} {unmet.spec}, the stack has {version}: "
            f"installing {language.title} {unmet.spec} from {language.pinned_from}")
        return stacks.SUITE, version, pins.range_for_shell(unmet)
    others = [suite for suite, packaged in language.other_releases if unmet and unmet.satisfied(unmet.spec, packaged)]
    suite = others[0] if others else stacks.SUITE
    if suite != stacks.SUITE:
        log(f"-----> {unmet.where} asks for {language.title} {unmet.spec}: building on the Debian {suite} stack")
        version = stacks.ensure(settings, language, log, suite)
    pins.check(found, language.title, version, tuple(packaged for _, packaged in language.other_releases))
    for pin in found:
        log(f"-----> {pin.where} asks for {language.title} {pin.spec}: the stack has {version}")
    return suite, version, ""


def _done(image: str, language, version: str | None, progress, started: float, log) -> Build:
    seconds = time.monotonic() - started
    log(f"-----> Built {image} in {seconds:.1f} s ({len(progress.cached)} steps from the cache)")
    return Build(image, language.name, version, tuple(progress.cached), seconds)
