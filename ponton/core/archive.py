"""Tar archives a tenant sends (a certificate tarball, an app's source). Any compression tar knows is accepted,
so what the archive holds once expanded is bounded too, not only what was sent: a few hundred bytes of bzip2 can
expand to gigabytes, in memory or on the disk."""

import contextlib
import io
import tarfile
from collections.abc import Iterator

from ponton.core.errors import InvalidInput


@contextlib.contextmanager
def opened(data: bytes, what: str, max_bytes: int, max_members: int,
           not_tar: str | None = None) -> Iterator[tarfile.TarFile]:
    """The tar archive in `data`, its member list read and checked: at most `max_members` entries whose sizes add up
    to at most `max_bytes`. Reading the headers expands the stream once, without keeping it (tar seeks past each
    member's data), and stops at the first entry over a bound. `what` names the archive in refusals; `not_tar` is
    the refusal of data that is no tar at all, if the caller has a better one."""
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data))
    except tarfile.TarError:  # its message lists every compression tried, one per line
        raise InvalidInput(not_tar or f"{what} is not a readable tar archive: expected a tar file, plain or gzip, "
                           "bzip2 or xz") from None
    with tar:
        count = size = 0
        try:
            for member in tar:
                count, size = count + 1, size + member.size
                if count > max_members or size > max_bytes:
                    raise InvalidInput(f"{what} holds more than {max_members} files or {max_bytes >> 20} MiB once "
                                       "expanded")
        except (tarfile.TarError, EOFError, OSError) as e:  # a truncated or corrupt compressed stream
            raise InvalidInput(f"{what} is not a readable tar archive: {' '.join(str(e).split())}") from None
        yield tar
