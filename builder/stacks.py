"""Stack images: one per language, ponton/stack-LANGUAGE:trixie, built FROM the base image (setting base_image)
with the language's runtime from Debian's packages, so that app builds need no image registry.

Each stack is labelled with the version of its runtime (asked of the runtime itself once the stack is built),
so that an app build checks version pins with one image inspect, before building anything.
"""

import re
import subprocess
import time
from pathlib import Path
from typing import Callable

from builder import engine, render
from builder.languages import Language
from ponton.errors import BuildError

IMAGE = "ponton/stack-{language}:trixie"
VERSION_LABEL = "ponton.stack.version"
BASE_SCRIPT = Path(__file__).parent / "base-image.sh"


def image(language: Language) -> str:
    return IMAGE.format(language=language.name)


def ensure(settings, language: Language, log: Callable[[str], None]) -> str:
    """The version of `language`'s stack, building the stack first if this server has none yet."""
    from runtime.engine import client

    import docker

    try:
        labels = client().images.get(image(language)).labels or {}
    except docker.errors.ImageNotFound:
        log(f"-----> No {language.title} stack on this server yet: building it once (`ponton stack:build`)")
        return build(settings, language, log)
    return labels.get(VERSION_LABEL) or build(settings, language, log)


def build(settings, language: Language, log: Callable[[str], None]) -> str:
    """(Re)build `language`'s stack from the base image, then label it with its runtime's version."""
    started = time.monotonic()
    ensure_base(settings, log)
    log(f"-----> Building the {language.title} stack {image(language)} from {settings.base_image}")
    files = {"Dockerfile": render.stack_dockerfile(language.name, settings.base_image).encode(),
             "ca-certificates.crt": ca_bundle(settings)}
    with engine.context(files) as context:
        engine.build(settings, context, image(language), log)
    version = _ask_version(language)
    labelled = f"FROM {image(language)}\nLABEL {VERSION_LABEL}={version}\n"
    with engine.context({"Dockerfile": labelled.encode()}) as context:
        engine.build(settings, context, image(language), lambda line: None)
    log(f"-----> {language.title} stack ready: {language.title} {version} "
        f"({time.monotonic() - started:.1f} s)")
    return version


def ensure_base(settings, log: Callable[[str], None]):
    """Build ponton's own base image (debootstrap, builder/base-image.sh) when it is missing. Another base
    (e.g. debian:trixie, where a registry is reachable) is pulled by the engine when a stack build needs it."""
    from runtime.engine import image_exists

    if image_exists(settings.base_image) or not settings.base_image.startswith("ponton/"):
        return
    process = subprocess.Popen(["bash", str(BASE_SCRIPT), settings.base_image], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip())
        log(lines[-1] if lines[-1].startswith("----->") else engine.INDENT + lines[-1])
    if process.wait() != 0:
        raise BuildError(f"building the base image {settings.base_image} failed: {lines[-1] if lines else ''}")


def ca_bundle(settings) -> bytes:
    """The host's CA bundle, which every templated build trusts (TLS-intercepting proxies)."""
    try:
        return Path(settings.ca_bundle).read_bytes()
    except OSError as e:
        raise BuildError(f"cannot read the CA bundle {settings.ca_bundle} (setting ca_bundle): {e.strerror}") from None


def _ask_version(language: Language) -> str:
    from runtime.engine import client

    output = client().containers.run(image(language), ["/bin/sh", "-c", f"{language.version_command} 2>&1"],
                                     remove=True, entrypoint=[]).decode(errors="replace")
    match = re.search(r"\d+\.\d+(\.\d+)?", output)
    if not match:
        raise BuildError(f"cannot tell the version of the {language.title} stack: `{language.version_command}` "
                         f"printed {output.strip()!r}")
    return match.group(0)
