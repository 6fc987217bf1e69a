import pytest

from ponton.testing import Sandbox


@pytest.fixture
def sandbox(tmp_path):
    """An isolated ponton with its own state dir and nginx; every app it made is destroyed afterwards."""
    box = Sandbox(tmp_path, health_timeout=20, stop_timeout=5)
    yield box
    box.close()
