"""The SSH forced command: what a key holder may run. An attack surface, so it accepts only

    git-receive-pack 'APP'   (git push)      git-upload-pack 'APP'   (git clone / fetch)
    a ponton command, e.g.   apps:list       config:set APP KEY=VALUE

SSH_ORIGINAL_COMMAND is split with shlex, never given to a shell; anything else is refused with one line.
"""

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from ponton import validate
from ponton.errors import InvalidInput

GIT_VERBS = {"git-receive-pack", "git-upload-pack"}
USAGE = "push with `git push ponton main`, or run a ponton command: ssh ponton@HOST help"


@dataclass(frozen=True)
class Request:
    argv: list[str]
    app: str | None = None  # for git requests

    @property
    def is_git(self) -> bool:
        return self.argv[0] in GIT_VERBS


def parse(original: str | None, is_command: Callable[[str], bool]) -> Request:
    """Turn SSH_ORIGINAL_COMMAND into a Request; `is_command` says which ponton commands a key holder may ask for
    (whether they may run it on an app is checked by the command)."""
    if not original or not original.strip():
        raise InvalidInput(f"no interactive shell here: {USAGE}")
    try:
        words = shlex.split(original)
    except ValueError as e:
        raise InvalidInput(f"cannot parse the command: {e}") from None
    verb = words[0]
    if verb in GIT_VERBS:
        if len(words) != 2:
            raise InvalidInput(f"{verb} takes exactly one repository, like '{verb} APP'")
        return Request([verb, words[1]], app=repo_app(words[1]))
    if verb in ("help", "--help", "-h"):
        return Request(["--help"])
    if not is_command(verb):
        raise InvalidInput(f"command not allowed: {verb[:60]!r}; {USAGE}")
    return Request(words)


def repo_app(repo: str) -> str:
    """The app a git path names: 'APP', '/APP', 'APP.git'; never a path outside the repos."""
    name = repo.strip("/").removesuffix(".git")
    try:
        return validate.app_name(name)
    except InvalidInput:
        raise InvalidInput(f"invalid repository {repo[:60]!r}: use ponton@HOST:APP where APP is an app name") from None
