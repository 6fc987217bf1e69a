"""Everything of an app outside the database, known in one place: apps:destroy removes all of it, apps:rename moves
all of it, and apps:create removes whatever is left under its name. So a name used again (after a destroy, or a
rename away from it, by another user) inherits nothing of the app that had it.

On disk: its git repository, its certificate and key, its nginx access log and the copies logrotate made. On the
engine and in the proxy: its containers, network and routing (deploy.remove_runtime), and the images built for it
(ponton/app-APP:*, which the Dockerfile check lets only APP build on). Its rows in the database (config, releases,
domains, ports, Let's Encrypt, events, access) go with the app's row and follow its id through a rename. Its lock
file stays: it holds nothing, and removing it while another process waits on it would let two processes hold it.
"""

import shutil
from pathlib import Path

from gitreceive import repo
from ponton.features import accesslog, certs
from ponton.pipeline import deploy
from ponton.pipeline.deploy import BUILT_IMAGE_PREFIX


def files(settings, app: str) -> list[Path]:
    """The app's files and directories that exist. The last part of each path is the app's name, alone or followed
    by a suffix that starts with a dot (which app names cannot hold): APP.git, APP, APP.access.log.1."""
    found = [repo.path(settings.state_dir, app), certs.directory(settings.state_dir, app)]
    return [path for path in found if path.exists()] + accesslog.files(settings, app)


def image_repository(app: str) -> str:
    return f"{BUILT_IMAGE_PREFIX}{app}"


def remove(p, app: str, images: set[str] = frozenset()):
    """Remove everything of `app` outside the database, and `images` (its releases' built images, wherever named)."""
    deploy.remove_runtime(p, app)
    # Not one another app's releases name: an app renamed by an older ponton kept its images' old names.
    others = p.state.release_images() - set(images)
    p.scheduler.remove_images(set(images) | (set(p.scheduler.image_tags(image_repository(app))) - others))
    for path in files(p.settings, app):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def rename(p, old: str, new: str):
    """Move everything of `old` outside the database to `new`, after removing what was left under `new`. The
    caller renamed the app's row (so `new` is its name now) and removed its runtime."""
    remove(p, new)
    for path in files(p.settings, old):
        path.rename(path.with_name(new + path.name[len(old):]))
    # Its images get the new name too: the old one may be given to another app, which may build on its own images.
    before, after = f"{image_repository(old)}:", f"{image_repository(new)}:"
    named = {r.image for r in p.state.releases(new) if r.image.startswith(before)}
    renamed = {name: after + name[len(before):]
               for name in named | set(p.scheduler.image_tags(image_repository(old)))}
    p.scheduler.retag_images(renamed)
    p.state.rename_images(new, renamed)
