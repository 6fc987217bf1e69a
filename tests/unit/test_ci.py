"""CI runs the README's test command, and that command runs every test: none is left out by default, so the
engine-restart tests (marker engine_restart: apps and linked services come back, with their data) run in CI."""

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "./tests/prepare.sh && .venv/bin/pytest"


def test_ci_runs_the_readmes_test_command():
    assert f"```sh\n{COMMAND}\n```" in (ROOT / "README.md").read_text()
    assert (ROOT / ".ci" / "run").read_text().splitlines()[-1] == COMMAND


def test_the_engine_restart_tests_are_selected_by_default():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert "addopts" not in config["tool:pytest"]  # no -m there deselects a marker
    assert "engine_restart:" in config["tool:pytest"]["markers"]
    marked = [path.name for path in sorted((ROOT / "tests" / "integration").glob("test_*.py"))
              if "@pytest.mark.engine_restart\n" in path.read_text()]
    assert marked == ["test_services.py", "test_watchdog.py"]
