"""Read the files an image carries in its working directory (Procfile, app.json), as Dokku does."""

import io
import posixpath
import tarfile

from ponton.core.dockerclient import client


def read_files(image: str, names: list[str]) -> dict[str, str]:
    """The text of each of `names` found in the image's working directory."""
    import docker  # imported here: slow, and the deploy pipeline loads this module for commands that read no image

    workdir = client().images.get(image).attrs["Config"].get("WorkingDir") or "/"
    container = client().containers.create(image, command=["true"], entrypoint=[])
    found = {}
    try:
        for name in names:
            try:
                stream, _ = container.get_archive(posixpath.join(workdir, name))
            except docker.errors.NotFound:
                continue
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                member = tar.next()
                if member is not None and member.isfile():
                    found[name] = tar.extractfile(member).read().decode(errors="replace")
    finally:
        container.remove(force=True)
    return found
