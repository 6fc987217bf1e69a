import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import APPS, _docker  # noqa: F401 (APPS: the test files import it from here)


@pytest.fixture(scope="session")
def silent_image(echo_image) -> str:
    """An image whose container runs but never answers HTTP: its deploys must fail their health check."""
    _docker("build", "-q", "-t", "ponton-test/silent", "-", input=f'FROM {echo_image}\nCMD ["sleep", "infinity"]\n'.encode())
    return "ponton-test/silent"


def containers(app: str, all: bool = True) -> list[str]:
    """Names of the containers labelled with `app`, as the engine sees them."""
    args = ["ps", "--filter", f"label=ponton.app={app}", "--format", "{{.Names}}"] + (["-a"] if all else [])
    return _docker(*args).split()


def settled(app: str, count: int, timeout: float = 30) -> list[str]:
    """The names of the app's containers once there are `count`: a deploy returns as soon as its new instances
    serve, and its old ones stop and go a moment later (docs/deploys.md)."""
    return eventually(lambda: len(names := containers(app)) == count and names, timeout, f"{count} containers of {app}")


def networks(app: str) -> list[str]:
    return _docker("network", "ls", "--filter", f"name=^ponton-{app}$", "--format", "{{.Name}}").split()


@pytest.fixture
def deployed(sandbox, echo_image):
    """A freshly deployed echo app: its name."""
    app = sandbox.new_app_name()
    sandbox.run("git:from-image", app, echo_image)
    return app


@pytest.fixture(scope="session")
def worker_image(echo_image) -> str:
    """The echo app with a Procfile declaring a web and a worker process type (the worker ticks every second)."""
    dockerfile = (
        f"FROM {echo_image}\n"
        "RUN printf 'web: python3 /app/app.py\\nworker: while true; do echo tick; sleep 1; done\\n' > /app/Procfile\n"
    )
    _docker("build", "-q", "-t", "ponton-test/worker", "-", input=dockerfile.encode())
    return "ponton-test/worker"


class Pusher:
    """A developer with a key added to the sandbox (as `role`; None: the server's rule, the first key is admin),
    and a git checkout of an app."""

    def __init__(self, sandbox, tmp_path: Path, name: str = "alice", role: str | None = None):
        self.sandbox = sandbox
        self.key = sandbox.new_key(name)
        sandbox.run("ssh-keys:add", name, *(["--role", role] if role else []),
                    input=self.key.with_suffix(".pub").read_text())
        self.env = sandbox.ssh_env(self.key)
        self.work = tmp_path / f"checkout-{name}"

    def checkout(self, app_dir: Path) -> Path:
        shutil.copytree(app_dir, self.work)
        self.git("init", "-q", "-b", "main")
        self.commit("first")
        return self.work

    def git(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-c", "user.email=dev@example.org", "-c", "user.name=dev", *args],
                              cwd=cwd or self.work, env=self.env, capture_output=True, text=True, timeout=600)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").stdout.strip()

    def push(self, app: str, refspec: str = "main") -> subprocess.CompletedProcess:
        return self.git("push", self.sandbox.remote(app), refspec)

    def ssh(self, *command: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([*self.env["SSH_COMMAND"].split(), "root@127.0.0.1", *command], env=self.env,
                              capture_output=True, text=True, input=input, timeout=600)

    def server_branch(self, app: str, branch: str = "main") -> str:
        out = self.git("ls-remote", self.sandbox.remote(app), f"refs/heads/{branch}").stdout
        return out.split()[0] if out else ""


@pytest.fixture
def pusher(sandbox, tmp_path):
    sandbox.start_sshd()
    return Pusher(sandbox, tmp_path, role="user")  # what most people who push are


class WatchdogProcess:
    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.log = sandbox.root / "watchdog.log"
        self.process = None

    def start(self, env: dict | None = None):
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ponton", "watchdog", "--interval", "2"], env={**self.sandbox.env, **(env or {})},
                stdout=log, stderr=subprocess.STDOUT,
            )

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def watchdog(sandbox):
    dog = WatchdogProcess(sandbox)
    dog.start()
    yield dog
    if dog.process.poll() is None:
        dog.kill()


def eventually(check, timeout: float = 60, what: str = "condition"):
    """Poll `check` until it returns a truthy value (bounded): the watchdog works asynchronously."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
