"""Deploying code: git:from-image, git:from-archive, git:set; and the command git runs for a push (git-hook),
which is hidden and never reachable over SSH. The entries of a push (ssh-command, git-http) are in remote.py."""

import contextlib
import hashlib
import re
import sys
import tarfile
import tempfile
from pathlib import Path

import click

from gitreceive import hook
from ponton.commands.apps import create_if_missing
from ponton.core import archive
from ponton.core.errors import InvalidInput
from ponton.core.undo import undone_on_failure
from ponton.output import app_argument, pass_ponton
from ponton.pipeline import deploy

BRANCH = re.compile(r"(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,100}(?<![./])")
MAX_ARCHIVE = 512 * 1024 * 1024
MAX_SOURCE, MAX_FILES = 2 << 30, 200_000  # what it may hold once expanded: bytes, entries


@contextlib.contextmanager
def _created_for_this_deploy(p, app: str):
    """Create `app` if it does not exist; if the deploy that follows fails, it does not exist again (a failed
    command changes nothing)."""
    if p.state.app_exists(app):
        yield
        return

    def undo():
        with contextlib.suppress(Exception):  # the deploy's own undo removed what it started
            deploy.remove_runtime(p, app)
        p.state.delete_app(app)

    create_if_missing(p, app)
    with undone_on_failure(undo):
        yield


@click.command("git:from-image")
@app_argument()
@click.argument("image")
@pass_ponton
def from_image(p, app, image):
    """Deploy IMAGE (a local Docker image) as a new release of APP, creating APP if needed."""
    with p.locked(app), _created_for_this_deploy(p, app):
        deploy.deploy_image(p, app, image, source=image, description=f"Deploy image {image}")


@click.command("git:from-archive")
@app_argument()
@pass_ponton
def from_archive(p, app):
    """Build and deploy a tarball of the app's source read from standard input: `ponton git:from-archive APP < app.tar`."""
    data = sys.stdin.buffer.read(MAX_ARCHIVE + 1)
    if len(data) > MAX_ARCHIVE:
        raise InvalidInput(f"archive larger than {MAX_ARCHIVE // 2**20} MiB")
    digest = hashlib.sha256(data).hexdigest()[:12]
    with p.locked(app), tempfile.TemporaryDirectory(prefix=f"ponton-{app}-") as source:
        with archive.opened(data, "the archive", max_bytes=MAX_SOURCE, max_members=MAX_FILES) as tar:
            try:
                tar.extractall(source, filter="data")  # refuses absolute paths, `..`, devices, links out
            except (tarfile.TarError, OSError) as e:
                raise InvalidInput(f"the archive is not a readable tar archive: {' '.join(str(e).split())}") from None
        with _created_for_this_deploy(p, app):
            image = f"{deploy.BUILT_IMAGE_PREFIX}{app}:archive-{digest}"
            deploy.build_and_deploy(p, app, Path(source), image, f"archive sha256:{digest}", "Deploy archive")


@click.command("git:set")
@app_argument()
@click.argument("key", type=click.Choice(["deploy-branch"]))
@click.argument("value")
@pass_ponton
def git_set(p, app, key, value):
    """Set APP's deploy-branch: pushes to it deploy, pushes to other branches are only stored."""
    if not BRANCH.fullmatch(value):
        raise InvalidInput(f"invalid branch name {value!r}")
    with p.locked(app):
        p.state.set_deploy_branch(app, value)
    click.echo(f"-----> {app} deploys pushes to {value}")


@click.command("git-hook", hidden=True)
@pass_ponton
def git_hook(p):
    """git's pre-receive hook (installed in each app's repo). The ssh-command that started git holds the lock."""
    hook.run(p, hook.app_from_env(), hook.read_updates())


COMMANDS = [from_image, from_archive, git_set, git_hook]
