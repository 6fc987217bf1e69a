"""The pre-receive hook: for a push to the deploy branch, export the commit, build it and deploy it before
git moves the branch. Any failure rejects the push (git then leaves the branch where it was)."""

import os
import sys
import tempfile
from pathlib import Path

import click

from gitreceive import repo
from ponton.core.context import Ponton
from ponton.core.errors import InvalidInput
from ponton.pipeline import deploy

ZERO = "0" * 40
DEFAULT_BRANCHES = ("main", "master")


def run(p: Ponton, app: str, updates: list[tuple[str, str, str]]):
    """`updates` are the (old, new, ref) lines git gives the hook. The caller holds the app's lock."""
    branches = (p.state.deploy_branch(app),) if p.state.deploy_branch(app) else DEFAULT_BRANCHES
    for old, new, ref in updates:
        branch = ref.removeprefix("refs/heads/")
        if branch == ref or branch not in branches:
            click.echo(f"-----> Stored {ref}; only pushes to {' or '.join(branches)} deploy")
        elif new == ZERO:
            raise InvalidInput(f"refusing to delete {branch}: it is the branch {app} deploys from")
        else:
            deploy_commit(p, app, new)
            repo.point_head(p.settings.state_dir, app, ref)


def deploy_commit(p: Ponton, app: str, sha: str):
    click.echo(f"-----> Deploying {app} at {sha[:7]}")
    with tempfile.TemporaryDirectory(prefix=f"ponton-{app}-") as source:
        repo.export(repo.path(p.settings.state_dir, app), sha, Path(source))
        image = f"{deploy.BUILT_IMAGE_PREFIX}{app}:{sha[:12]}"
        deploy.build_and_deploy(p, app, Path(source), image, source=sha, description=f"Deploy {sha[:7]}")


def is_commit(source: str) -> bool:
    """Whether a release's source is a git commit (rather than an image name or an archive)."""
    return len(source) == 40 and all(c in "0123456789abcdef" for c in source)


def read_updates() -> list[tuple[str, str, str]]:
    return [tuple(line.split()) for line in sys.stdin.read().splitlines() if line.strip()]


def app_from_env() -> str:
    """The app whose push this is: ssh-command sets PONTON_APP for git-receive-pack and its hook."""
    app = os.environ.get("PONTON_APP")
    if not app:
        raise InvalidInput("git-hook runs only inside a push (ssh-command sets PONTON_APP)")
    return app
