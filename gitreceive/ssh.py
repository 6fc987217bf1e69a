"""The SSH forced command: what a key holder may run. An attack surface, so it accepts only

    git-receive-pack 'APP'   (git push)      git-upload-pack 'APP'   (git clone / fetch)
    a ponton command, e.g.   apps:list       config:set APP KEY=VALUE

SSH_ORIGINAL_COMMAND is split with shlex, never given to a shell; anything else is refused with one line.
"""

import os
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from gitreceive import repo
from ponton.core import validate
from ponton.core.context import Ponton
from ponton.core.errors import InvalidInput
from ponton.features import access

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


def serve(ctx: click.Context, p: Ponton, user: str, create_if_missing: Callable[[Ponton, str], None]):
    """Run what SSH_ORIGINAL_COMMAND asks of `user`'s key, if allowed: a ponton command (through the CLI it came
    from, `ctx`'s root), or git's own receive-pack or upload-pack on the app's repository."""
    cli = ctx.find_root().command
    os.environ["PONTON_USER"] = user  # who asks: access checks and events of everything this request does
    request = parse(os.environ.get("SSH_ORIGINAL_COMMAND"), cli.is_visible)
    if not request.is_git:
        ctx.exit(cli.run(request.argv))  # the command checks access itself, as every command does
    verb = request.argv[0]
    ctx.exit(serve_git(p, verb, request.app, create_if_missing,
                       lambda path, env: subprocess.run([verb, str(path)], env=env).returncode))


def serve_git(p: Ponton, verb: str, app: str, create_if_missing: Callable[[Ponton, str], None],
              run: Callable[[Path, dict], int]) -> int:
    """Run git's `verb` (git-receive-pack, git-upload-pack) on `app`'s repository for the acting user, if they
    may; the same for a push over SSH and over HTTPS. A push holds the app's lock (its hook deploys), creates the
    app if it does not exist, and gives the hook the app in PONTON_APP. `run(repository, environment)` runs git
    (over SSH its own command; over HTTPS `git http-backend`) and returns its exit code."""
    p.recheck = lambda: access.check(p, verb, {"app": app})  # again once the lock is held
    p.recheck()
    if verb == "git-upload-pack":
        return run(repo.existing(p.settings.state_dir, app), dict(os.environ))
    with p.locked(app):
        create_if_missing(p, app)
        path = repo.ensure(p.settings.state_dir, app)
        return run(path, {**os.environ, "PONTON_APP": app})
