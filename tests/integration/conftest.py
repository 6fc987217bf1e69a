import subprocess
from pathlib import Path

import pytest

APPS = Path(__file__).parent.parent / "apps"
BASE_IMAGE = "ponton/base:trixie"


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


def _docker(*args: str, input: bytes | None = None) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, input=input)
    if result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {result.stderr.decode()}")
    return result.stdout.decode()


@pytest.fixture(scope="session")
def echo_image() -> str:
    """The echo test app, built from the local base image (tests/prepare.sh builds that)."""
    _docker("image", "inspect", BASE_IMAGE)  # fails loudly: integration tests are never skipped
    _docker("build", "-q", "-t", "ponton-test/echo", str(APPS / "echo"))
    return "ponton-test/echo"


@pytest.fixture(scope="session")
def silent_image(echo_image) -> str:
    """An image whose container runs but never answers HTTP: its deploys must fail their health check."""
    _docker("build", "-q", "-t", "ponton-test/silent", "-", input=f'FROM {echo_image}\nCMD ["sleep", "infinity"]\n'.encode())
    return "ponton-test/silent"


def containers(app: str, all: bool = True) -> list[str]:
    """Names of the containers labelled with `app`, as the engine sees them."""
    args = ["ps", "--filter", f"label=ponton.app={app}", "--format", "{{.Names}}"] + (["-a"] if all else [])
    return _docker(*args).split()


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
