"""Fixtures of every test kind: the isolated sandbox, and the test apps' images."""

import subprocess
from pathlib import Path

import pytest

from ponton.testing import Sandbox

APPS = Path(__file__).parent / "apps"
BASE_IMAGE = "ponton/base:trixie"


def pytest_collection_modifyitems(items):
    for item in items:
        for kind in ("integration", "cluster", "e2e"):
            if f"tests/{kind}/" in str(item.path):
                item.add_marker(getattr(pytest.mark, kind))


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


@pytest.fixture
def sandbox(tmp_path):
    """An isolated ponton with its own state dir and nginx; every app it made is destroyed afterwards."""
    box = Sandbox(tmp_path, health_timeout=20, stop_timeout=5)
    yield box
    box.close()
