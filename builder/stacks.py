"""Stack images: one per language, ponton/stack-LANGUAGE:trixie, built FROM the base image (setting base_image)
with the language's runtime from Debian's packages, so that app builds need no image registry. A language may
have a stack on another Debian release too (Python 3.11 on bookworm, languages.Language.other_releases), built
from ponton's base image of that release on the first push that pins its version.

Each stack is labelled with the version of its runtime (asked of the runtime itself once the stack is built),
so that an app build checks version pins with one image inspect, before building anything.
"""

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Callable

from builder import dockerbuild, templating
from builder.languages import Language
from ponton.core.dockerclient import client, image_exists
from ponton.core.errors import BuildError

SUITE = "trixie"  # the Debian release of the stacks, and of the base image's default
IMAGE = "ponton/stack-{language}:{suite}"
OWN_BASE = "ponton/base:"  # ponton's debootstrap base images, one tag per Debian release
VERSION_LABEL = "ponton.stack.version"
BASE_SCRIPT = Path(__file__).parent / "base-image.sh"


def image(language: Language, suite: str = SUITE) -> str:
    return IMAGE.format(language=language.name, suite=suite)


def base(settings, suite: str = SUITE) -> str:
    """The image `suite`'s stacks build FROM: the setting base_image for the default release, ponton's own base
    image of that release for another."""
    if suite == SUITE:
        return settings.base_image
    if not settings.base_image.startswith(OWN_BASE):
        raise BuildError(f"a stack on Debian {suite} needs ponton's own base images, and the setting base_image "
                         f"is {settings.base_image}")
    return OWN_BASE + suite


def ensure(settings, language: Language, log: Callable[[str], None], suite: str = SUITE) -> str:
    """The version of `language`'s stack (on Debian `suite`), building the stack first if this server has none."""
    import docker  # imported here: slow, and only a push that builds needs it

    try:
        labels = client().images.get(image(language, suite)).labels or {}
    except docker.errors.ImageNotFound:
        log(f"-----> No {language.title} stack {image(language, suite)} on this server yet: building it once")
        return build(settings, language, log, suite)
    return labels.get(VERSION_LABEL) or build(settings, language, log, suite)


def build(settings, language: Language, log: Callable[[str], None], suite: str = SUITE) -> str:
    """(Re)build `language`'s stack from the base image, then label it with its runtime's version."""
    started = time.monotonic()
    base_image = base(settings, suite)
    ensure_base(base_image, suite, log)
    stack = image(language, suite)
    log(f"-----> Building the {language.title} stack {stack} from {base_image}")
    files = {"Dockerfile": templating.stack_dockerfile(language.name, base_image).encode(),
             "ca-certificates.crt": ca_bundle(settings)}
    with dockerbuild.context(files) as context:
        dockerbuild.build(settings, context, stack, log)
    version = _ask_version(language, stack)
    labelled = f"FROM {stack}\nLABEL {VERSION_LABEL}={version}\n"
    with dockerbuild.context({"Dockerfile": labelled.encode()}) as context:
        dockerbuild.build(settings, context, stack, lambda line: None)
    log(f"-----> {language.title} stack ready: {language.title} {version} "
        f"({time.monotonic() - started:.1f} s)")
    return version


def ensure_image(settings, image_name: str, directory: Path, log: Callable[[str], None]) -> bool:
    """Build `image_name` unless the engine has it (True if it built it): a backing service's image, built once
    like a stack, FROM the base image, from the Dockerfile.j2 in `directory` with the directory's other files
    and the host's CA bundle in its context."""
    if image_exists(image_name):
        return False
    base_image = base(settings)
    ensure_base(base_image, SUITE, log)
    log(f"-----> No {image_name} on this server yet: building it once from {base_image}")
    files = {path.name: path.read_bytes() for path in sorted(directory.iterdir())
             if path.is_file() and path.suffix != ".j2"}
    files["Dockerfile"] = templating.image_dockerfile(directory, base_image).encode()
    files["ca-certificates.crt"] = ca_bundle(settings)
    with dockerbuild.context(files) as context:
        dockerbuild.build(settings, context, image_name, log)
    return True


def ensure_base(base_image: str, suite: str, log: Callable[[str], None]):
    """Build ponton's own base image of Debian `suite` (debootstrap, builder/base-image.sh) when it is missing.
    Another base (e.g. debian:trixie, where a registry is reachable) is pulled by the engine when a stack build
    needs it."""
    if image_exists(base_image) or not base_image.startswith("ponton/"):
        return
    process = subprocess.Popen(["bash", str(BASE_SCRIPT), base_image], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env={**os.environ, "PONTON_DEBIAN_SUITE": suite})
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip())
        log(lines[-1] if lines[-1].startswith("----->") else dockerbuild.INDENT + lines[-1])
    if process.wait() != 0:
        raise BuildError(f"building the base image {base_image} failed: {lines[-1] if lines else ''}")


def ca_bundle(settings) -> bytes:
    """The host's CA bundle, which every templated build trusts (TLS-intercepting proxies)."""
    try:
        return Path(settings.ca_bundle).read_bytes()
    except OSError as e:
        raise BuildError(f"cannot read the CA bundle {settings.ca_bundle} (setting ca_bundle): {e.strerror}") from None


def _ask_version(language: Language, stack: str) -> str:
    output = client().containers.run(stack, ["/bin/sh", "-c", f"{language.version_command} 2>&1"],
                                     remove=True, entrypoint=[]).decode(errors="replace")
    match = re.search(r"\d+\.\d+(\.\d+)?", output)
    if not match:
        raise BuildError(f"cannot tell the version of the {language.title} stack: `{language.version_command}` "
                         f"printed {output.strip()!r}")
    return match.group(0)
