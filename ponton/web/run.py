"""Running ponton commands for web requests: each in its own process (ponton/web/child.py), as the user the
request authenticated, its output streamed back line by line and its exit code turned into an HTTP status.

So the web face has no rule of its own: what a request may do, how its input is checked and what a change does
are the command's, exactly as over SSH. A process per request also keeps one request's crash, memory or
runaway output away from the server and every other request. How many run at once is bounded, per user and in
all, so that a tenant cannot fork the server to death.
"""

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from ponton.core.errors import AccessDenied, BuildError, DeployError, InvalidInput, NotFound, ProxyError
from ponton.core.hookspecs import CARRIER_ENV, CARRIER_HEADER

# The exit codes of ponton's errors (click's usage errors exit 2, as InvalidInput) as HTTP statuses; anything
# else is the server's fault.
STATUS = {InvalidInput.exit_code: 400, NotFound.exit_code: 404, AccessDenied.exit_code: 403,
          DeployError.exit_code: 422, BuildError.exit_code: 422, ProxyError.exit_code: 502}
MAX_LINE = 1 << 20  # a longer line of output is cut (an app's log line, a build's)
COMMIT_AFTER = 5.0  # seconds: a stream answers 200 at its first line, its end, or after this long


class Busy(Exception):
    """Too many commands run for this user (or in all): the request is refused with 429."""


@dataclass
class Outcome:
    """A finished command: its exit code, what it printed, and its error (the CLI's one `error: ` line)."""

    code: int
    stdout: list[str] = field(default_factory=list)
    error: str | None = None
    details: list[str] = field(default_factory=list)

    @property
    def status(self) -> int:
        return 200 if self.code == 0 else STATUS.get(self.code, 500)

    def body(self) -> dict:
        """The JSON error body: {"error": ...} (and the details a failed health check adds)."""
        body = {"error": self.error or f"the command failed with exit code {self.code}"}
        if self.details:
            body["details"] = "\n".join(self.details)
        return body


class Runner:
    def __init__(self, env: dict[str, str], per_user: int = 8, total: int = 32):
        self.env = {k: v for k, v in env.items() if k != "PONTON_USER"}
        self.per_user, self.total = per_user, total
        self.running: dict[str | None, int] = {}
        self.detached: set[asyncio.Task] = set()  # changes whose client went away, running to their end

    def take(self, user: str | None):
        if self.running.get(user, 0) >= self.per_user or sum(self.running.values()) >= self.total:
            raise Busy("too many commands running at once: try again when they have finished")
        self.running[user] = self.running.get(user, 0) + 1

    def free(self, user: str | None):
        self.running[user] -= 1

    def keep(self, awaitable):
        """Run `awaitable` on its own to its end (the request it belonged to is gone)."""
        task = asyncio.ensure_future(awaitable)
        self.detached.add(task)
        task.add_done_callback(self.detached.discard)

    def command(self, user: str | None, argv: list[str], changes: bool = False,
                carrier: dict[str, str] | None = None) -> "Command":
        """A command to run; `carrier`: carried(request) of the request it runs for, if it may change routing."""
        return Command(self, user, argv, changes, carrier or {})

    async def run(self, user: str | None, argv: list[str]) -> Outcome:
        """Run the command to its end."""
        command = Command(self, user, argv)
        async for _ in command.lines():
            pass
        return command.outcome


class Command:
    """One command being run: `lines()` yields its output as (stream, line) until it exits; then `outcome`.
    If the client goes away first, a command that reads is ended, and one that `changes` runs to its end (a
    closed browser tab must not cut a rollout short); either way it keeps its place in the bound until it exits."""

    def __init__(self, runner: Runner, user: str | None, argv: list[str], changes: bool = False,
                 carrier: dict[str, str] | None = None):
        self.runner, self.user, self.argv, self.changes = runner, user, argv, changes
        self.carrier = carrier or {}
        self.outcome: Outcome | None = None

    async def lines(self) -> AsyncIterator[tuple[str, str]]:
        # Each line as it is printed, not when a buffer fills.
        env = {**self.runner.env, **self.carrier, "PYTHONUNBUFFERED": "1"}
        if self.user is not None:
            env["PONTON_USER"] = self.user
        self.runner.take(self.user)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ponton.web.child", env=env, limit=MAX_LINE,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group: ended with everything it started
            )
        except BaseException:
            self.runner.free(self.user)
            raise
        # Bounded: a client that reads slowly slows the command down (its pipe fills), never fills our memory.
        queue: asyncio.Queue = asyncio.Queue(maxsize=1000)
        pumps = [asyncio.create_task(_pump("stdout", process.stdout, queue)),
                 asyncio.create_task(_pump("stderr", process.stderr, queue))]
        outcome, streams = Outcome(code=-1), [2]
        try:
            process.stdin.write(json.dumps(self.argv).encode() + b"\n")
            process.stdin.close()
            while streams[0]:
                stream, line = await queue.get()
                if line is None:
                    streams[0] -= 1
                elif stream == "stderr" and (outcome.error is not None or line.startswith("error: ")):
                    if outcome.error is None:  # the CLI's error line; what follows it are its details
                        outcome.error = line.removeprefix("error: ")
                    else:
                        outcome.details.append(line)
                else:
                    if stream == "stdout":
                        outcome.stdout.append(line)
                    yield stream, line
            outcome.code = await process.wait()
            self.outcome = outcome
        finally:
            # No await here: a client that went away cancels every await of its request from then on.
            if process.returncode is None and self.changes:
                self.runner.keep(self._finish(process, queue, streams[0]))
            else:
                if process.returncode is None:  # the client went away: end the command and what it started
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGTERM)
                    self.runner.keep(process.wait())
                for pump in pumps:
                    pump.cancel()
                self.runner.free(self.user)

    async def _finish(self, process, queue: asyncio.Queue, streams: int):
        try:
            while streams:  # read what it prints, so that it never blocks on a full pipe
                streams -= (await queue.get())[1] is None
            await process.wait()
        finally:
            self.runner.free(self.user)


def carried(headers) -> dict[str, str]:
    """The environment that tells a command which process of the proxy carries its request (hookspecs.CARRIER_ENV):
    a change of routing it makes then does not wait for that process to finish the request, which only ends with
    the command. (Anyone on the server could send the header straight to ponton web: at worst their own change
    then does not wait for that proxy process's other requests.)"""
    carrier = headers.get(CARRIER_HEADER, "")
    return {CARRIER_ENV: carrier} if carrier.isdigit() and len(carrier) < 10 else {}


async def _pump(name: str, reader: asyncio.StreamReader, queue: asyncio.Queue):
    """Put each line `reader` gives into `queue` as (name, line), then (name, None) at its end."""
    while True:
        try:
            line = await reader.readline()
        except ValueError:  # longer than MAX_LINE: what was read is dropped, the rest still comes
            line = b"[line cut: longer than 1 MiB]\n"
        if not line:
            break
        await queue.put((name, line.decode("utf-8", "replace").rstrip("\n")))
    await queue.put((name, None))


async def started(command: Command) -> tuple[list[tuple[str, str]], AsyncIterator[tuple[str, str]] | None]:
    """Run `command` until it prints its first line, ends, or COMMIT_AFTER passes: (the lines so far, an iterator
    of the rest, or None if it has ended). An error found before any output (bad input, access, a missing app)
    can then still be answered with its own status."""
    lines = command.lines()
    pending = asyncio.ensure_future(anext(lines))
    done, _ = await asyncio.wait({pending}, timeout=COMMIT_AFTER)
    first = []
    if done:
        try:
            first.append(pending.result())
        except StopAsyncIteration:
            return first, None

    async def rest():
        try:
            if not done:
                try:
                    yield await pending  # cancelled with this generator, which ends the command
                except StopAsyncIteration:
                    return
            async for item in lines:
                yield item
        finally:
            await lines.aclose()

    return first, rest()
