"""Which images an app's own Dockerfile builds on, and whether it may: never another app's.

The engine resolves `FROM NAME` and `COPY --from=NAME` against every image on the server, by name or by a prefix
of its ID, so a tenant could otherwise build on another app's image (or one of its intermediate build layers) and
read the code in it. Before a Dockerfile app is built, each image it names must be one that is not an app's:
never a `ponton/app-` name but the app's own, never an image ID; and an image on the server must be tagged,
with no `ponton/app-` tag but the app's own, or pulled by digest from a registry. Images not on the server are
pulled from their registry as usual. `ADD` of a URL is refused too: the engine fetches it itself, on the host's
network, where it reaches services that listen on 127.0.0.1.

The check reads the Dockerfile as the engine's parser does (moby/buildkit frontend/dockerfile/parser, as the
classic builder of Docker 20.10 uses it), not as Python would: lines end at "\\n" only (Python's splitlines also
breaks at \\x0b, \\x0c, \\x1c-\\x1e, \\x85, \\u2028, \\u2029), "whitespace" is Go's unicode.IsSpace, keywords are
matched in any case. Where newer engines' parsers read a file differently (heredocs, a lone carriage return, the
`check` directive before `escape`), the file is refused rather than read one way while built the other.
"""

import json
import os
import re
import shlex
from pathlib import Path
from typing import NamedTuple

from ponton.core import dockerclient
from ponton.core.errors import BuildError

APP_IMAGES = "ponton/app-"
# $NAME, ${NAME}, ${NAME:-default}, ${NAME:+alternative} (and without the colon): what FROM and --from expand
VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-+])([^${}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
# Go's unicode.IsSpace: what the parser strips around lines and instructions
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
           "\u2028\u2029\u202f\u205f\u3000"
WORD_BREAK = re.compile(r"[\t\v\f\r ]+")  # the parser's reWhitespace: between a keyword and its arguments
# A parser directive: RE2's \s is [\t\n\f\r ], and $ is the end of the line
DIRECTIVE = re.compile(r"#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z", re.S)
HEREDOC = re.compile(r"\d*<<-?[^<]+")  # a heredoc word (`<<EOF`, `<<-"EOF"`), which newer parsers expand
STAGE_NAME = re.compile(r"[a-z][a-z0-9-_.]*")
IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{1,64}", re.I)  # the engine resolves it as a prefix of any image's ID
NOT_ALLOWED = "this image is not allowed here: build on a base image or a registry's image"


class Instruction(NamedTuple):
    line: int  # where it starts, 1-based
    keyword: str  # upper case: FROM, COPY, ...
    flags: tuple[str, ...]  # the leading --flags, quotes and escapes processed as the engine does
    arguments: str


def read(source_dir: Path) -> str:
    """The Dockerfile at the root of `source_dir`; BuildError if it is a symbolic link, which the host would
    resolve on its own filesystem while the engine resolves it inside the build context."""
    path = source_dir / "Dockerfile"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        if os.path.islink(path):
            raise BuildError("Dockerfile is a symbolic link: commit the Dockerfile itself") from None
        raise BuildError(f"cannot read the Dockerfile: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        if not os.path.stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise BuildError("Dockerfile is not a regular file")
        return f.read().decode("utf-8", "surrogateescape")


def _go_lstrip(text: str) -> str:
    return text.lstrip(GO_SPACE)


def _go_lower(text: str) -> str:
    """strings.ToLower for the ASCII keywords: Go maps U+0130 to "i" and the Kelvin sign to "k"; Python does not."""
    return text.translate({0x130: "i", 0x212A: "k"}).lower()


def instructions(text: str, flag_escape: str | None = None) -> list[Instruction]:
    """The Dockerfile's instructions, as the engine's parser splits and joins them: lines end at "\\n" (one
    "\\r" before it dropped), leading Go whitespace stripped from an instruction's first line, comment lines
    dropped, and a line ending with the escape character (then blanks) continued by the next (comment and blank
    lines inside an instruction skipped). `escapes`: the escape characters that flags are unescaped with
    (the 20.10 parser uses a backslash there whatever the `# escape=` directive says; newer ones the directive's)."""
    if re.search("\r(?!\n)", text):
        raise BuildError("Dockerfile has a carriage return that does not end a line: engines disagree on where "
                         "its lines end")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the text ended with a line end, not with an empty line
    lines = [line.removesuffix("\r") for line in lines]
    if lines:
        lines[0] = lines[0].removeprefix("\ufeff")
    directives = _Directives()
    result = []
    i = 0
    while i < len(lines):
        token = _go_lstrip(lines[i])
        i += 1
        directives.see(token)
        if token.startswith("#"):
            continue
        line, ended = directives.trim_continuation(token)
        if ended and not line:
            continue
        start = i
        while not ended and i < len(lines):
            token = lines[i]
            i += 1
            directives.see(token)
            if _go_lstrip(token).startswith("#") or not _go_lstrip(token):
                continue  # comment and empty lines inside an instruction are skipped
            more, ended = directives.trim_continuation(token)
            line += more
        instruction = _split(start, line, flag_escape or directives.escape)
        if instruction:
            result.append(instruction)
    return result


def readings(text: str) -> list[list[Instruction]]:
    """The instructions as each engine's parser reads them: one list, or two where the escape character of the
    flags makes a difference."""
    newer, older = instructions(text), instructions(text, flag_escape="\\")
    return [newer] if newer == older else [newer, older]


class _Directives:
    """The parser directives at the top of the file (`# escape=`` ...), as the 20.10 parser reads them."""

    def __init__(self):
        self.escape, self.done, self.seen = "\\", False, set()
        self._continuation = self._regex()

    def see(self, line: str):
        if self.done:
            return
        match = DIRECTIVE.match(line)
        name = match and match[1].lower()
        if name not in ("escape", "syntax", "check"):
            self.done = True
            return
        if name in self.seen:
            raise BuildError(f"Dockerfile: only one {name} parser directive can be used")
        if name == "escape" and "check" in self.seen:
            raise BuildError("Dockerfile: a check directive before escape: engines disagree on the escape "
                             "character")  # 20.10 stops reading directives at `check`, newer ones do not
        self.seen.add(name)
        if name == "escape":
            if match[2] not in ("\\", "`"):
                raise BuildError(f"Dockerfile: invalid escape character {match[2]!r} (\\ or `)")
            self.escape = match[2]
            self._continuation = self._regex()

    def _regex(self):
        e = re.escape(self.escape)
        return re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z", re.S)

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        """The line without its continuation character, and whether the instruction ends with it."""
        trimmed, continued = self._continuation.subn(r"\1", line)
        return trimmed, not continued


def _split(start: int, line: str, escape: str) -> Instruction | None:
    """The keyword, flags and arguments of a joined instruction line, as the parser's splitCommand splits it."""
    words = WORD_BREAK.split(line.strip(GO_SPACE), maxsplit=1)
    if not words[0]:
        return None
    keyword = _go_lower(words[0]).upper()
    if len(words) == 1:
        return Instruction(start, keyword, (), "")
    arguments, flags = _flags(words[1], escape)
    return Instruction(start, keyword, tuple(flags), arguments.strip(GO_SPACE))


def _flags(text: str, escape: str) -> tuple[str, list[str]]:
    """The leading `--name=value` words of the arguments and the rest, as extractBuilderFlags reads them: byte
    by byte, each byte taken as a character (so a multi-byte character is read as several)."""
    raw = text.encode("utf-8", "surrogateescape")
    line = raw.decode("latin-1")
    space = "\t\n\v\f\r \x85\xa0"  # unicode.IsSpace of a byte taken as a rune
    words, word, pos, quote, blank_ok = [], [], 0, None, False
    while pos < len(line):
        ch = line[pos]
        if quote is None and not word and not blank_ok:  # looking for the start of a word
            if ch in space:
                pos += 1
                continue
            if not line.startswith("--", pos):
                return raw[pos:].decode("utf-8", "surrogateescape"), words
        if quote is None and ch in space:  # the end of a word
            if "".join(word) == "--":
                return raw[pos:].decode("utf-8", "surrogateescape"), words
            words.append("".join(word))
            word, blank_ok = [], False
        elif quote is None and ch in "'\"":
            quote, blank_ok = ch, True
        elif quote is not None and ch == quote:
            quote = None
        elif ch == escape:
            if pos + 1 < len(line):
                pos += 1
                word.append(line[pos])
            else:
                quote = None
        else:
            word.append(ch)
        pos += 1
    if (word or blank_ok) and "".join(word) != "--":
        words.append("".join(word))
    return "", words


def named_images(text: str) -> list[tuple[int, str]]:
    """(line, image) for every image the Dockerfile builds on or copies from; stage names and `scratch` aside,
    in every engine's reading of it. ARG defaults are substituted as the engine would (an unset one is empty);
    ponton passes no build args. BuildError for a name this cannot tell for sure (other variable operators,
    nested variables, escapes), and for what the engine would not build as it reads here (heredocs)."""
    found = []
    for reading in readings(text):
        for image in _named_images(reading):
            if image not in found:
                found.append(image)
    return found


def _named_images(reading: list[Instruction]) -> list[tuple[int, str]]:
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
        if "$" in expanded or "\\" in expanded or "`" in expanded:
            raise BuildError(f"Dockerfile line {number}: cannot tell which image {value!r} names: use plain ARG "
                             "defaults ($NAME, ${NAME}, ${NAME:-default}) in FROM, and no escapes")
        return expanded.replace('"', "").replace("'", "")  # the engine's word processing drops every quote

    in_stage = False
    for number, keyword, flags, arguments in reading:
        _refuse_heredoc(number, keyword, arguments)
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
            words = WORD_BREAK.split(arguments) if arguments else []
            if words:
                image = expand(number, words[0])
                if image and image != "scratch" and image.lower() not in stages:
                    found.append((number, image))
            if len(words) == 3 and words[1].lower() == "as" and STAGE_NAME.fullmatch(words[2].lower()):
                stages.add(words[2].lower())
        elif keyword in ("COPY", "ADD"):
            for flag in flags:
                if flag.startswith("--from="):
                    source = flag[len("--from="):]
                    if "$" in source:  # which ARGs a stage sees here is the engine's business: no guessing
                        raise BuildError(f"Dockerfile line {number}: {keyword} --from={source}: name the image or "
                                         "stage without variables")
                    if source.lower() not in stages and not (source.isascii() and source.isdigit()):
                        found.append((number, source))
    return found


def _refuse_heredoc(number: int, keyword: str, arguments: str):
    """Newer parsers take the lines after `RUN <<EOF` as the heredoc's content, 20.10's as instructions: which
    lines are instructions would depend on the engine (and the classic builder runs no heredoc anyway)."""
    if keyword == "ONBUILD":
        keyword, _, arguments = arguments.partition(" ")
        keyword = _go_lower(keyword).upper()
    if keyword in ("RUN", "COPY", "ADD") and any(HEREDOC.fullmatch(word) for word in arguments.split()):
        raise BuildError(f"Dockerfile line {number}: heredocs (<<) are not supported by the builder")


def remote_sources(reading: list[Instruction]) -> list[tuple[int, str]]:
    """(line, source) for each ADD source that the engine would fetch itself: a URL, a git address, or a
    variable (which could hold either)."""
    found = []
    for number, keyword, _, arguments in reading:
        if keyword != "ADD":
            continue
        try:
            words = json.loads(arguments)
            if not (isinstance(words, list) and all(isinstance(w, str) for w in words)):
                raise ValueError
        except ValueError:
            words = WORD_BREAK.split(arguments)
        for word in words[:-1]:  # the last one is the destination
            plain = re.sub(r"[\"'\\`]", "", word).lower()  # what the engine's word processing leaves
            if "://" in plain or plain.startswith(("git@", "github.com/")) or "$" in plain:
                found.append((number, word))
    return found


def check(text: str, image: str, client=None):
    """BuildError if the Dockerfile `text`, building `image` (ponton/app-APP:TAG), names another app's image
    or an image ID, or ADDs from a URL. The message never says whether a refused image exists."""
    import docker  # imported here: slow, and the deploy pipeline loads the builder for commands that build nothing

    for reading in readings(text):
        for number, source in remote_sources(reading):
            raise BuildError(f"Dockerfile line {number}: ADD {source}: ADD from a URL or a variable is not "
                             "allowed (the engine would fetch it on the server's network): download it in a RUN step")
    named = named_images(text)
    own = image.rpartition(":")[0] + ":"
    for number, name in named:  # decided on the name alone, so that a refusal tells nothing about the server
        plain = re.sub(r"^(index\.)?docker\.io/", "", name)  # the same local image as without it
        if (plain.startswith(APP_IMAGES) and not plain.startswith(own)) or IMAGE_ID.fullmatch(plain):
            raise BuildError(f"Dockerfile line {number}: {name}: {NOT_ALLOWED}")
    client = client or dockerclient.client()
    for number, name in named:
        try:
            attrs = client.images.get(name).attrs
        except docker.errors.ImageNotFound:
            continue  # not on this server: the engine pulls it from its registry
        except docker.errors.APIError:  # not a valid reference: the build says why
            continue
        tags, digests = attrs.get("RepoTags") or [], attrs.get("RepoDigests") or []
        foreign = [t for t in tags if t.startswith(APP_IMAGES) and not t.startswith(own)]
        triggers = "\n".join((attrs.get("Config") or {}).get("OnBuild") or [])
        if foreign or not (tags or digests) or _unsafe_triggers(triggers):
            raise BuildError(f"Dockerfile line {number}: {name}: {NOT_ALLOWED}")


def _unsafe_triggers(triggers: str) -> bool:
    """Whether ONBUILD triggers (which run in this build) copy from another image or ADD from a URL."""
    try:
        for reading in readings(triggers):
            if remote_sources(reading) or any(f.startswith("--from") for i in reading for f in i.flags):
                return True
    except BuildError:
        return True
    return False
