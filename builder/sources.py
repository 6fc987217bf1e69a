"""Which images an app's own Dockerfile builds on, and whether it may: never another app's.

The engine resolves `FROM NAME` and `COPY --from=NAME` against every image on the server, by name or by a prefix
of its ID, so a tenant could otherwise build on another app's image (or one of its intermediate build layers) and
read the code in it. Before a Dockerfile app is built, each image it names that exists on the server must be one
that is not an app's: tagged, and with no `ponton/app-` tag but the app's own; or pulled by digest from a registry.
Images not on the server are pulled from their registry as usual.
"""

import re
import shlex

from ponton.errors import BuildError

APP_IMAGES = "ponton/app-"
# $NAME, ${NAME}, ${NAME:-default}, ${NAME:+alternative} (and without the colon): what FROM and --from expand
VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-+])([^${}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def instructions(text: str) -> list[tuple[int, str, str]]:
    """The Dockerfile's instructions, (line number, keyword in upper case, arguments), joined as the engine joins
    them: the escape character ending a line (and blanks after it) removed, the next line appended as it is
    (comment and blank lines inside an instruction skipped)."""
    lines = text.removeprefix("\ufeff").splitlines()
    escape = "\\"
    for line in lines:  # parser directives come first: `# escape=`` changes the continuation character
        directive = re.fullmatch(r"\s*#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*", line)
        if not directive:
            break
        if directive[1].lower() == "escape" and directive[2] in ("\\", "`"):
            escape = directive[2]
    continuation = re.compile(rf"([^{re.escape(escape)}]){re.escape(escape)}[ \t]*$|^{re.escape(escape)}[ \t]*$")
    result, current, start = [], None, 0
    for number, line in enumerate(lines, 1):
        if current is None:
            line = line.lstrip()
            if not line or line.startswith("#"):
                continue
            current, start = "", number
        elif not line.strip() or line.lstrip().startswith("#"):
            continue
        joined, ended = continuation.subn(r"\1", line)
        current += joined
        if not ended:
            result.append((start, *_split(current)))
            current = None
    if current:
        result.append((start, *_split(current)))
    return result


def _split(instruction: str) -> tuple[str, str]:
    keyword, *arguments = instruction.strip().split(None, 1)
    return keyword.upper(), (arguments[0].strip() if arguments else "")


def named_images(text: str) -> list[tuple[int, str]]:
    """(line, image) for every image the Dockerfile builds on or copies from; stage names and `scratch` aside.
    ARG defaults are substituted as the engine would (an unset one is empty); ponton passes no build args.
    BuildError for a name this cannot tell for sure (other variable operators, nested variables)."""
    args: dict[str, str] = {}
    stages: set[str] = set()
    found = []

    def expand(number: int, value: str) -> str:
        def one(m) -> str:
            name = m[1] or m[5]
            current = args.get(name)
            is_set = current is not None and (current != "" or m[2] != ":")
            if m[3] == "-":
                return current if is_set else m[4]
            if m[3] == "+":
                return m[4] if is_set else ""
            return current or ""

        expanded = VARIABLE.sub(one, value)
        if "$" in expanded:
            raise BuildError(f"Dockerfile line {number}: cannot tell which image {value!r} names: use plain ARG "
                             "defaults ($NAME, ${NAME}, ${NAME:-default}) in FROM")
        return expanded.strip("\"'")

    in_stage = False
    for number, keyword, arguments in instructions(text):
        if keyword == "ARG" and not in_stage:  # only those before the first FROM are seen by FROM
            try:
                words = shlex.split(arguments)
            except ValueError:
                words = arguments.split()
            for word in words:
                name, _, default = word.partition("=")
                value = expand(number, default)
                if args.get(name, value) != value:
                    raise BuildError(f"Dockerfile line {number}: ARG {name} declared twice with different values")
                args[name] = value
        elif keyword == "FROM":
            in_stage = True
            words = [w for w in arguments.split() if not w.startswith("--")]
            if words:
                image = expand(number, words[0])
                if image and image.lower() != "scratch" and image.lower() not in stages:
                    found.append((number, image))
            if len(words) >= 3 and words[1].lower() == "as":
                stages.add(words[2].lower())
        elif keyword in ("COPY", "ADD"):
            for word in arguments.split():
                if word.startswith("--from="):
                    source = word[len("--from="):].strip("\"'")
                    if "$" in source:  # which ARGs a stage sees here is the engine's business: no guessing
                        raise BuildError(f"Dockerfile line {number}: {keyword} --from={source}: name the image or "
                                         "stage without variables")
                    if source.lower() not in stages and not source.isdigit():
                        found.append((number, source))
    return found


def check(text: str, image: str, client=None):
    """BuildError if the Dockerfile `text`, building `image` (ponton/app-APP:TAG), names another app's image."""
    import docker

    client = client or docker.from_env()
    own = image.rpartition(":")[0] + ":"
    for number, name in named_images(text):
        try:
            attrs = client.images.get(name).attrs
        except docker.errors.ImageNotFound:
            continue  # not on this server: the engine pulls it from its registry
        except docker.errors.APIError:  # not a valid reference: the build says why
            continue
        tags, digests = attrs.get("RepoTags") or [], attrs.get("RepoDigests") or []
        foreign = [t for t in tags if t.startswith(APP_IMAGES) and not t.startswith(own)]
        if foreign or not (tags or digests):
            raise BuildError(f"Dockerfile line {number}: {name} is an image of another app on this server "
                             "(or one of its build layers): build on a base image or a registry's image instead")
        if any("--from" in trigger for trigger in (attrs.get("Config") or {}).get("OnBuild") or []):
            raise BuildError(f"Dockerfile line {number}: {name} has ONBUILD triggers that copy from other images")
