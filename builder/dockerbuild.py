"""The thin layer that builds images on the Docker engine: the build context, the live output, the limits.

Every build (an app's, a stack's) runs under the build_memory limit, the build_cpus quota, the
build_pids_limit and the build_timeout: a runaway build is killed by the kernel or cancelled, never left to
take the server down. Cancelling means closing the build's connection, which makes the engine stop the running
step and remove its container. At most max_concurrent_builds build at a time, across every ponton process.

The classic builder takes no pids limit per build (its build options have none), so each build's step
containers are put under the cgroup of a holder container that has one: the kernel counts a cgroup's
descendants against its pids.max. That needs the engine's cgroupfs driver on cgroup v1 (a cgroup v2 parent
with a process of its own cannot have children; a systemd driver's parents are slices); elsewhere a build has
no process limit of its own (docs/builder.md).
"""

import contextlib
import fcntl
import io
import os
import re
import secrets
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ponton.core import dockerclient
from ponton.core.errors import BuildError

INDENT = " " * 7  # build output under the "-----> " step lines, as Heroku prints it
STEP = re.compile(r"Step (\d+/\d+) : (.*)")
FAILED_COMMAND = re.compile(r"The command '.*' returned a non-zero code: (\d+)")
OUT_OF_MEMORY = 137  # SIGKILL: what the kernel sends a build step over its memory limit
# What a shell, make or a runtime prints when fork or clone fails with EAGAIN: the process limit
CANNOT_FORK = re.compile(r"cannot fork|can't fork|fork: retry|Resource temporarily unavailable|"
                         r"failed to create new OS thread|pthread_create", re.I)
CPU_PERIOD = 100_000  # microseconds: the CFS period that build_cpus is a quota of
SLOT_POLL = 0.2  # seconds between tries for a free build slot


@dataclass
class Progress:
    """What the build output said so far: the step running, the steps the cache answered, the step's output."""

    step: str = ""
    instruction: str = ""
    cached: list[str] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    built: bool = False

    def line(self, text: str):
        step = STEP.match(text)
        if step:
            self.step, self.instruction, self.output = step.group(1), step.group(2), []
        elif text.strip() == "---> Using cache":
            self.cached.append(self.instruction)
        elif text.startswith("Successfully built "):
            self.built = True
        elif not text.startswith((" ---> ", "Removing intermediate container ")):
            self.output.append(text)

    def where(self) -> str:
        return f"step {self.step} ({self.instruction})" if self.step else "before the first step"


def context(files: dict[str, bytes], source_dir: Path | None = None, prefix: str = "") -> io.BufferedRandom:
    """A build context (a tar in a temporary file): `files` at its root, and the source tree under `prefix`
    without what the source's .dockerignore excludes."""
    # imported here: docker is slow to import, and the deploy pipeline loads the builder for commands that
    # build nothing (config:set, ps:scale)
    from docker.utils.build import exclude_paths

    archive = tempfile.TemporaryFile()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0  # mtime 0: the cache looks at content only
            tar.addfile(info, io.BytesIO(data))
        if source_dir is not None:
            for path in sorted(exclude_paths(str(source_dir), _dockerignore(source_dir))):
                tar.add(source_dir / path, arcname=prefix + path, recursive=False, filter=_as_git_records)
    archive.seek(0)
    return archive


def _as_git_records(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """A source file's mode as git records it, 0644 or 0755, whatever the umask of the export (ponton's is 077:
    the image's own users, nginx's in a static site, must read the app's files)."""
    if info.isdir() or (info.isfile() and info.mode & 0o100):
        info.mode = 0o755
    elif info.isfile():
        info.mode = 0o644
    return info


def _dockerignore(source_dir: Path) -> list[str]:
    path = source_dir / ".dockerignore"
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text(errors="replace").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def build(settings, context_file, image: str, log: Callable[[str], None]) -> Progress:
    """Build `image` from a context made by `context`, streaming its output through `log`, once a build slot is
    free; BuildError if it fails, runs out of memory, of processes or of time."""
    with build_slot(settings, log), process_limit(settings) as cgroup_parent:
        return _build(settings, context_file, image, log, cgroup_parent)


@contextlib.contextmanager
def build_slot(settings, log: Callable[[str], None]):
    """Hold one of max_concurrent_builds slots (a lock file each, under the state dir, so that every ponton
    process counts); a build that finds none free says it waits, then takes the first that frees."""
    count = settings.max_concurrent_builds
    if count < 1:
        raise BuildError(f"setting max_concurrent_builds: expected 1 or more, got {count}")
    slots = settings.state_dir / "build-slots"
    files = []
    try:
        slots.mkdir(parents=True, exist_ok=True)
        for i in range(count):  # read-only: flock needs no more, and another user's lock file is fine
            files.append(os.fdopen(os.open(slots / f"{i}.lock", os.O_RDONLY | os.O_CREAT, 0o644)))
    except OSError as e:
        for f in files:
            f.close()
        raise BuildError(f"cannot open the build slots in {slots}: {e.strerror}") from None
    try:
        waiting = False
        while True:
            for f in files:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                try:
                    yield
                finally:
                    fcntl.flock(f, fcntl.LOCK_UN)
                return
            if not waiting:
                log(f"-----> waiting for a build slot (at most {count} at a time, setting max_concurrent_builds)")
                waiting = True
            time.sleep(SLOT_POLL)  # flock cannot wait for the first of several locks
    finally:
        for f in files:
            f.close()


@contextlib.contextmanager
def process_limit(settings):
    """The cgroup parent that caps the build's processes at build_pids_limit (a holder container's cgroup),
    or "" where the engine cannot nest cgroups so (or the limit is 0: none)."""
    import docker  # imported here: see context()

    engine = dockerclient.client()
    try:
        info = engine.info()
    except docker.errors.DockerException as e:
        raise BuildError(f"cannot reach the engine: {e}") from None
    if settings.build_pids_limit <= 0 or info.get("CgroupDriver") != "cgroupfs" or \
            str(info.get("CgroupVersion", "1")) != "1":
        yield ""
        return
    holder = None
    try:
        holder = engine.containers.run(
            settings.base_image, ["sleep", str(int(settings.build_timeout) + 300)],  # ends by itself, too
            name=f"ponton-build-{secrets.token_hex(6)}", detach=True, auto_remove=True, network_mode="none",
            pids_limit=settings.build_pids_limit, cap_drop=["ALL"], read_only=True,
            security_opt=["no-new-privileges"], labels={"ponton.build-holder": "1"},
        )
        holder.reload()
    except docker.errors.DockerException as e:
        if holder is not None:
            with contextlib.suppress(docker.errors.DockerException):
                holder.remove(force=True)
        raise BuildError(f"cannot start the build's process limit holder from {settings.base_image} "
                         f"(setting base_image): {getattr(e, 'explanation', None) or e}") from None
    try:
        cgroup = _pids_cgroup(holder.attrs["State"]["Pid"])
        yield cgroup if cgroup and cgroup.endswith(holder.id) else f"/docker/{holder.id}"
    finally:
        with contextlib.suppress(docker.errors.DockerException):
            holder.remove(force=True)


def _pids_cgroup(pid: int) -> str | None:
    """The pids cgroup of a process as /proc shows it (the engine's own --cgroup-parent included)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 2)[2] for line in lines if line.split(":")[1:2] == ["pids"]), None)


def _build(settings, context_file, image: str, log: Callable[[str], None], cgroup_parent: str) -> Progress:
    import docker  # imported here: see context()

    memory = _bytes(settings.build_memory)
    # A client of its own: its response hook hands over the build's connection, so that a timer can close it.
    client = docker.from_env(timeout=settings.build_timeout + 60)
    # The engine takes more limits per build than docker-py passes: a session's params go into every request.
    client.api.params = _limits(settings, cgroup_parent)
    responses = []
    client.api.hooks["response"].append(lambda response, *args, **kwargs: responses.append(response))
    progress, timed_out = Progress(), threading.Event()
    try:
        chunks = client.api.build(
            fileobj=context_file, custom_context=True, tag=image, rm=True, forcerm=True, decode=True,
            container_limits={"memory": memory, "memswap": memory},  # memswap = memory: no swap either
        )
        if not responses[-1].ok:
            # Before the stream: CancellableStream ends quietly on the APIError a refused request raises.
            raise BuildError(f"the engine refused the build: {_refusal(responses[-1])}")
        stream = docker.types.CancellableStream(chunks, responses[-1])
        timer = threading.Timer(settings.build_timeout, lambda: (timed_out.set(), stream.close()))
        timer.start()
        try:
            error = _follow(stream, progress, log)
        finally:
            timer.cancel()
            if not timed_out.is_set():
                stream.close()  # a build left early (the pusher hung up) must not go on in the engine
    except docker.errors.APIError as e:
        raise BuildError(f"the engine refused the build: {e.explanation or e}") from None
    finally:
        client.close()
    if timed_out.is_set():
        raise BuildError(f"build timed out after {settings.build_timeout:g} s at {progress.where()} "
                         "(setting build_timeout)")
    if error or not progress.built:
        raise BuildError(_failure(error or "the engine ended the build without an image", progress, settings))
    return progress


def _refusal(response) -> str:
    """The engine's own reason for refusing a build request (e.g. no Dockerfile in the context)."""
    try:
        return response.json()["message"]
    except (ValueError, KeyError, TypeError):
        return response.text.strip() or f"{response.status_code} {response.reason}"


def _limits(settings, cgroup_parent: str) -> dict:
    """The build request's CPU quota and cgroup parent, as the engine's /build takes them."""
    limits = {}
    if settings.build_cpus < 0:
        raise BuildError(f"setting build_cpus: expected a number of cores (0: no limit), got {settings.build_cpus:g}")
    if settings.build_cpus:
        limits.update(cpuperiod=CPU_PERIOD, cpuquota=max(1000, round(settings.build_cpus * CPU_PERIOD)))
    if cgroup_parent:
        limits["cgroupparent"] = cgroup_parent
    return limits


def _bytes(size: str) -> int:
    from docker.errors import DockerException  # imported here: see context()
    from docker.utils import parse_bytes  # imported here: see context()

    try:
        return parse_bytes(size)
    except DockerException:
        raise BuildError(f"setting build_memory: expected a size like 512m or 2g, got {size!r}") from None


def _follow(stream, progress: Progress, log: Callable[[str], None]) -> str | None:
    """Log the build's output line by line (steps print partial lines and carriage returns); the engine's
    error message, or None when the stream ended without one."""
    pending = ""
    for chunk in stream:
        if "error" in chunk:
            return chunk["error"].strip()
        if chunk.get("status") and not chunk.get("progress"):  # pulling a FROM image: skip the progress bars
            log(INDENT + " ".join(filter(None, [chunk.get("id"), chunk["status"]])))
        pending += chunk.get("stream", "")
        *lines, pending = pending.split("\n")
        for line in lines:
            line = line.rsplit("\r", 1)[-1].rstrip()
            if line:
                progress.line(line)
                log(INDENT + line)
    return None


def _failure(error: str, progress: Progress, settings) -> str:
    """One line: where the build failed, why, and the step's last output (pip's or npm's own error)."""
    code = FAILED_COMMAND.match(error)
    if code and int(code.group(1)) == OUT_OF_MEMORY:
        reason = f"killed: out of memory (the limit is {settings.build_memory}, setting build_memory)"
    elif code and any(CANNOT_FORK.search(line) for line in progress.output):
        reason = (f"exit code {code.group(1)}: out of processes (the limit is {settings.build_pids_limit}, "
                  "setting build_pids_limit)")
    elif code:
        reason = f"exit code {code.group(1)}"
    else:
        reason = error
    last = " | ".join(line.strip()[:300] for line in progress.output[-2:])
    return f"build failed at {progress.where()}: {reason}" + (f": {last}" if last and code else "")
