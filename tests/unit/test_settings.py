"""settings: ponton.yml, then PONTON_* environment variables over it."""

import dataclasses
from pathlib import Path

import pytest

from ponton.core import settings
from ponton.core.errors import PontonError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for field in dataclasses.fields(settings.Settings):
        monkeypatch.delenv(f"PONTON_{field.name.upper()}", raising=False)
    monkeypatch.delenv("PONTON_CONFIG", raising=False)


def load_yaml(tmp_path, text: str) -> settings.Settings:
    path = tmp_path / "ponton.yml"
    path.write_text(text)
    return settings.load(str(path))


def test_defaults_without_a_file(tmp_path):
    assert settings.load(str(tmp_path / "missing.yml")) == settings.Settings()
    assert settings.Settings().http_port == 80 and settings.Settings().domain == "ponton.localhost"


def test_empty_file_is_defaults(tmp_path):
    assert load_yaml(tmp_path, "") == settings.Settings()


def test_file_values_are_converted(tmp_path):
    s = load_yaml(tmp_path, "domain: example.com\nhttp_port: 8080\nstate_dir: /srv/ponton\nhealth_timeout: 5\n"
                            "nginx_command: sudo nginx -p /x\n")
    assert s.domain == "example.com"
    assert s.http_port == 8080
    assert s.state_dir == Path("/srv/ponton")
    assert s.health_timeout == 5.0 and isinstance(s.health_timeout, float)
    assert s.nginx_argv == ["sudo", "nginx", "-p", "/x"]
    assert s.https_port == 443  # untouched


def test_environment_overrides_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PONTON_HTTP_PORT", "9090")
    monkeypatch.setenv("PONTON_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PONTON_DRAIN_TIMEOUT", "0.5")
    s = load_yaml(tmp_path, "http_port: 8080\ndomain: example.com\n")
    assert (s.http_port, s.domain, s.state_dir, s.drain_timeout) == (9090, "example.com", tmp_path / "state", 0.5)


def test_config_path_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "other.yml"
    path.write_text("ssh_port: 2222\n")
    monkeypatch.setenv("PONTON_CONFIG", str(path))
    assert settings.load().ssh_port == 2222


@pytest.mark.parametrize("text, message", [
    ("colour: blue\nshape: round\n", "unknown settings: colour, shape"),
    ("1: 2\n", "unknown settings: 1"),
    ("- a\n- b\n", "expected a mapping of settings"),
    ("domain: [unclosed\n", "not valid YAML"),
    ("http_port: abc\n", "setting http_port: expected int, got 'abc'"),
    ("http_port: 80.5\n", "setting http_port: expected int, got 80.5"),
    ("http_port: true\n", "setting http_port: expected int, got True"),
    ("stop_timeout: [1]\n", "setting stop_timeout: expected int, got [1]"),
    ("health_timeout: soon\n", "setting health_timeout: expected float, got 'soon'"),
    ("health_timeout: false\n", "setting health_timeout: expected float, got False"),
    ("domain: [a, b]\n", "setting domain: expected str, got ['a', 'b']"),
    ("domain: 5\n", "setting domain: expected str, got 5"),
    ("domain:\n", "setting domain: expected str, got None"),
    ("state_dir: 5\n", "setting state_dir: expected path, got 5"),
    ("nginx_conf_dir: {a: 1}\n", "setting nginx_conf_dir: expected path, got {'a': 1}"),
])
def test_bad_file_is_one_clear_error(tmp_path, text, message):
    with pytest.raises(PontonError) as e:
        load_yaml(tmp_path, text)
    assert message in str(e.value)
    assert "\n" not in str(e.value)  # the CLI prints it as one line


def test_unreadable_file_is_a_ponton_error(tmp_path):
    (tmp_path / "dir.yml").mkdir()
    with pytest.raises(PontonError, match="cannot read"):
        settings.load(str(tmp_path / "dir.yml"))


@pytest.mark.parametrize("name, value, message", [
    ("PONTON_HTTP_PORT", "eighty", "setting http_port: expected int, got 'eighty'"),
    ("PONTON_HTTP_PORT", "", "setting http_port: expected int, got ''"),
    ("PONTON_KEEP_RELEASES", "2.5", "setting keep_releases: expected int, got '2.5'"),
    ("PONTON_HEALTH_TIMEOUT", "x", "setting health_timeout: expected float, got 'x'"),
])
def test_bad_environment_value(monkeypatch, tmp_path, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(PontonError) as e:
        settings.load(str(tmp_path / "missing.yml"))
    assert str(e.value) == message


def test_port_range(tmp_path, monkeypatch):
    assert settings.Settings().ports == (20000, 29999)
    monkeypatch.setenv("PONTON_PORT_RANGE", "30000-30010")
    assert settings.load(str(tmp_path / "missing.yml")).ports == (30000, 30010)
    with pytest.raises(PontonError, match="^setting port_range: expected LOW-HIGH, got 'x'$"):
        dataclasses.replace(settings.Settings(), port_range="x").ports
