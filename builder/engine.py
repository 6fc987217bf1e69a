"""The thin layer that builds images on the Docker engine: the build context, the live output, the limits.

Every build (an app's, a stack's) runs under the build_memory limit and the build_timeout: a runaway build
is killed by the kernel or cancelled, never left to take the server down. Cancelling means closing the build's
connection, which makes the engine stop the running step and remove its container.
"""

import io
import re
import tarfile
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ponton.errors import BuildError

INDENT = " " * 7  # build output under the "-----> " step lines, as Heroku prints it
STEP = re.compile(r"Step (\d+/\d+) : (.*)")
FAILED_COMMAND = re.compile(r"The command '.*' returned a non-zero code: (\d+)")
OUT_OF_MEMORY = 137  # SIGKILL: what the kernel sends a build step over its memory limit


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
    from docker.utils.build import exclude_paths

    archive = tempfile.TemporaryFile()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0  # mtime 0: the cache looks at content only
            tar.addfile(info, io.BytesIO(data))
        if source_dir is not None:
            for path in sorted(exclude_paths(str(source_dir), _dockerignore(source_dir))):
                tar.add(source_dir / path, arcname=prefix + path, recursive=False)
    archive.seek(0)
    return archive


def _dockerignore(source_dir: Path) -> list[str]:
    path = source_dir / ".dockerignore"
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text(errors="replace").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def build(settings, context_file, image: str, log: Callable[[str], None]) -> Progress:
    """Build `image` from a context made by `context`, streaming its output through `log`; BuildError if it
    fails, runs out of memory or out of time."""
    import docker

    memory = _bytes(settings.build_memory)
    # A client of its own: its response hook hands over the build's connection, so that a timer can close it.
    client = docker.from_env(timeout=settings.build_timeout + 60)
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
        raise BuildError(_failure(error or "the engine ended the build without an image", progress,
                                  settings.build_memory))
    return progress


def _refusal(response) -> str:
    """The engine's own reason for refusing a build request (e.g. no Dockerfile in the context)."""
    try:
        return response.json()["message"]
    except (ValueError, KeyError, TypeError):
        return response.text.strip() or f"{response.status_code} {response.reason}"


def _bytes(size: str) -> int:
    from docker.errors import DockerException
    from docker.utils import parse_bytes

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


def _failure(error: str, progress: Progress, memory: str) -> str:
    """One line: where the build failed, why, and the step's last output (pip's or npm's own error)."""
    code = FAILED_COMMAND.match(error)
    if code and int(code.group(1)) == OUT_OF_MEMORY:
        reason = f"killed: out of memory (the limit is {memory}, setting build_memory)"
    elif code:
        reason = f"exit code {code.group(1)}"
    else:
        reason = error
    last = " | ".join(line.strip()[:300] for line in progress.output[-2:])
    return f"build failed at {progress.where()}: {reason}" + (f": {last}" if last and code else "")
