"""One bare git repo per app, and the export of a pushed commit's tree with dulwich.

git's own `git-receive-pack` receives the push (as Dokku does): it puts the new objects in a quarantine
directory and runs our pre-receive hook before any ref moves. The hook builds and deploys; if it fails, git
discards the objects and the branch stays where it was, so the repo always matches the release that serves.
dulwich's ReceivePackHandler runs its pre-receive hook before the pack is applied and sends post-receive output
only after it returns, so it could neither read the pushed tree nor stream the build live.
"""

import os
import sys
import tempfile
from pathlib import Path

from ponton.core.errors import InvalidInput, NotFound

HOOK = """#!/bin/sh
# Installed by ponton: build and deploy the pushed commit before the branch moves.
exec env PYTHONUNBUFFERED=1 {python} -m ponton git-hook
"""


def path(state_dir: Path, app: str) -> Path:
    return state_dir / "repos" / f"{app}.git"


def ensure(state_dir: Path, app: str) -> Path:
    """The app's bare repo, created with its pre-receive hook on first use."""
    # imported here: the SSH forced command loads this module for every command, and only git requests need dulwich
    from dulwich.repo import Repo

    repo = path(state_dir, app)
    if not repo.exists():
        repo.parent.mkdir(parents=True, exist_ok=True)
        Repo.init_bare(str(repo), mkdir=True)
    hook = repo / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(HOOK.format(python=sys.executable))
    hook.chmod(0o755)
    return repo


def existing(state_dir: Path, app: str) -> Path:
    repo = path(state_dir, app)
    if not repo.exists():
        raise NotFound(f"app {app} has no git repository yet: push to it first")
    return repo


def point_head(state_dir: Path, app: str, ref: str):
    """Make HEAD name the deployed branch, so that `git clone` checks out what serves."""
    from dulwich.repo import Repo  # imported here: see ensure()

    Repo(str(path(state_dir, app))).refs.set_symbolic_ref(b"HEAD", ref.encode())


def export(repo_path: Path, sha: str, dest: Path):
    """Write the tree of commit `sha` into `dest`, reading objects still in git's push quarantine too."""
    from dulwich.index import InvalidPathError, build_index_from_tree  # imported here: see ensure()
    from dulwich.object_store import DiskObjectStore, OverlayObjectStore  # imported here: see ensure()
    from dulwich.repo import Repo  # imported here: see ensure()

    repo = Repo(str(repo_path))
    stores = [repo.object_store]
    quarantine = os.environ.get("GIT_QUARANTINE_PATH")
    if quarantine:
        stores.insert(0, DiskObjectStore(quarantine))
    store = OverlayObjectStore(stores)
    try:
        commit = store[sha.encode()]
    except KeyError:
        raise InvalidInput(f"commit {sha} is not in the pushed objects") from None
    with tempfile.TemporaryDirectory() as scratch:
        try:
            build_index_from_tree(str(dest), os.path.join(scratch, "index"), store, commit.tree)
        except InvalidPathError as e:  # git's receive-pack does not fsck: a crafted tree gets this far
            raise InvalidInput(f"the pushed tree has a path that is not written out: {_shown(e.path)} (a .git or "
                               "a .. component, a symlinked .gitmodules, or a path through a symlink)") from None
        except KeyError as e:
            raise InvalidInput(f"the pushed tree refers to an object that is not in the push: {e}") from None
        except (OSError, ValueError, AssertionError) as e:  # two entries of one name, a name too long, ...
            raise InvalidInput(f"cannot write out the pushed tree: {' '.join(str(e).split())}") from None


def _shown(path: bytes) -> str:
    return repr(path.decode("utf-8", "replace"))[:200]
