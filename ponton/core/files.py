"""Files that others read while ponton rewrites them: nginx's configs, authorized_keys, certificates."""

import os
from pathlib import Path


def write_atomically(path: Path, data: bytes, mode: int, owner: tuple[int, int] | None = None):
    """Replace `path` with `data` all at once: a reader sees the old file or the new one, never half of either.
    The new file has `mode` (less the umask) from its first byte, so a secret is never readable by others even
    for a moment, and `owner` (uid, gid) if given, before it takes the name."""
    tmp = path.with_name(f".{path.name}.tmp")  # a dot file: no glob of nginx's or sshd's picks it up half-written
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    if owner is not None:
        os.chown(tmp, *owner)
    os.replace(tmp, path)
