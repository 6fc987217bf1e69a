"""The real `ponton` CLI, as a subprocess, fed bad input: one `error:` line, a non-zero exit, nothing changed.

No Docker engine or nginx is involved: every input here is refused before ponton would touch them (and the
environment points both at places that do not exist, so a slip fails loudly instead of touching the host).
"""

import bz2
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import tarfile

import pytest

from ponton import cli
from ponton.core.state import State

TIMEOUT = 60


def run(env, *args, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ponton", *args], env=env, input=stdin, capture_output=True,
                          timeout=TIMEOUT)


def make_env(root) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PONTON_", "DOCKER_"))}
    env.update(
        PONTON_CONFIG=str(root / "none.yml"), PONTON_STATE_DIR=str(root / "state"),
        PONTON_NGINX_CONF_DIR=str(root / "nginx"), PONTON_NGINX_COMMAND="false",
        PONTON_NGINX_PID_FILE=str(root / "nginx.pid"), PONTON_NGINX_LOG_DIR=str(root / "nginx-logs"),
        PONTON_AUTHORIZED_KEYS_FILE=str(root / "authorized_keys"), DOCKER_HOST="unix:///nonexistent/docker.sock",
    )
    return env


def listed_commands() -> list[str]:
    """The commands `ponton --help` lists."""
    out = subprocess.run([sys.executable, "-m", "ponton", "--help"], capture_output=True, text=True, check=True,
                         timeout=TIMEOUT).stdout
    section = out.split("\nCommands:\n", 1)[1]
    return [line.split()[0] for line in section.splitlines() if re.match(r"  \S", line)]  # not wrapped help


COMMANDS = listed_commands()


def first_argument(name: str) -> str | None:
    """The name of the command's first positional argument (looked up in-process: parsing usage is brittle)."""
    command = cli.cli.get_command(None, name)
    arguments = [p.name for p in command.params if p.param_type_name == "argument"]
    return arguments[0] if arguments else None


APP_COMMANDS = [name for name in COMMANDS if first_argument(name) in ("app", "old")]

# Valid arguments after APP, so that only the app name is wrong.
REST = {
    "apps:rename": ["fine"], "config:get": ["KEY"], "config:set": ["KEY=v"], "config:unset": ["KEY"],
    "deploy:set": ["strategy", "rolling"], "domains:add": ["example.com"], "domains:remove": ["example.com"],
    "git:from-image": ["busybox"], "git:set": ["deploy-branch", "main"], "ps:scale": ["web=1"],
    "releases:logs": ["v1"], "rollback": ["v1"], "apps:destroy": ["--force"],
}

BAD_APP_NAMES = ["", "Shop", "1shop", "-shop", "shop_1", "../x", "a/b", "my app", "shop\n", "a\nb", "café",
                 "a" * 31, "sh\N{FULLWIDTH LATIN SMALL LETTER O}p"]

CONFIG = {"A": "1", "MULTI": "line1\nline2 $HOME 'q' ü"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two apps with config, domains and a release; every test here must leave them exactly so."""
    root = tmp_path_factory.mktemp("cli")
    state = State(root / "state")
    for app in ("shop", "blog"):
        state.create_app(app)
    state.replace_config("shop", CONFIG)
    state.add_domain("shop", "shop.example.com")
    state.add_domain("blog", "taken.example.com")
    release = state.add_release("shop", "img", "img", CONFIG, {"web": ""}, {}, "Deploy image img")
    state.set_release_status("shop", release.version, "succeeded")
    state.close()
    return root


@pytest.fixture(scope="module")
def env(world):
    return make_env(world)


def dump(world) -> list[str]:
    db = sqlite3.connect(world / "state" / "ponton.db")
    try:
        return list(db.iterdump())
    finally:
        db.close()


def assert_refused(world, env, *args, code: int | None = None, says: str = "", stdin: bytes = b""):
    before = dump(world)
    result = run(env, *args, stdin=stdin)
    stderr = result.stderr.decode()
    assert result.returncode != 0, (args, stderr)
    if code is not None:
        assert result.returncode == code, (args, stderr)
    assert "Traceback" not in stderr
    assert stderr.endswith("\n") and len(stderr.splitlines()) == 1, (args, stderr)
    assert stderr.startswith("error: "), (args, stderr)
    assert says in stderr, (args, stderr)
    assert result.stdout == b"", (args, result.stdout)
    assert dump(world) == before, args


def snapshot(env) -> dict:
    def show(*args):
        result = run(env, *args, "--format", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    return {
        "apps": show("apps:list"),
        "config": show("config:show", "shop"),
        "domains": show("domains:report", "shop"),
        "blog": show("domains:report", "blog"),
    }


EXPECTED = {
    "apps": ["blog", "shop"],
    "config": CONFIG,
    "domains": ["shop.ponton.localhost", "shop.example.com"],
    "blog": ["blog.ponton.localhost", "taken.example.com"],
}


def test_listing_has_the_spec_commands():
    for name in ("apps:create", "apps:destroy", "config:set", "ps:scale", "domains:add", "rollback", "releases",
                 "logs", "deploy:set", "ssh-keys:add"):
        assert name in COMMANDS
    assert "apps:create" in APP_COMMANDS and "apps:rename" in APP_COMMANDS and "apps:list" not in APP_COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_help(env, command):
    result = run(env, command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert result.stdout.decode().startswith(f"Usage: ponton {command} ")


def test_top_level_help(env):
    for flag in ("--help", "-h"):
        result = run(env, flag)
        assert result.returncode == 0 and result.stdout.decode().startswith("Usage: ponton [OPTIONS] COMMAND")


ROTATION = [name for name in BAD_APP_NAMES if not name.startswith("-")]


@pytest.mark.parametrize("command, name", [(c, ROTATION[i % len(ROTATION)]) for i, c in enumerate(APP_COMMANDS)])
def test_bad_app_name_for_every_command(world, env, command, name):
    assert_refused(world, env, command, name, *REST.get(command, []), code=2, says=f"invalid app name {name!r}")


@pytest.mark.parametrize("name", BAD_APP_NAMES)
def test_bad_app_names(world, env, name):
    if name.startswith("-"):  # looks like an option to the parser: refused either way
        assert_refused(world, env, "apps:create", name)
    else:
        assert_refused(world, env, "apps:create", name, code=2, says=f"invalid app name {name!r}")


def test_bad_new_name_in_rename(world, env):
    assert_refused(world, env, "apps:rename", "shop", "Bad", code=2, says="invalid app name 'Bad'")


@pytest.mark.parametrize("args, says", [
    (["config:set", "shop", "1A=x"], "invalid config key '1A'"),
    (["config:set", "shop", "A-B=x"], "invalid config key 'A-B'"),
    (["config:set", "shop", "=x"], "invalid config key ''"),
    (["config:set", "shop", "A B=x"], "invalid config key 'A B'"),
    (["config:set", "shop", "É=x"], "invalid config key 'É'"),
    (["config:set", "shop", "PORT=80"], "config key PORT is set by ponton"),
    (["config:set", "shop", "NOEQUALS"], "expected KEY=VALUE, got 'NOEQUALS'"),
    (["config:set", "shop", "B=2", "1C=3"], "invalid config key '1C'"),  # the valid pair is not kept either
    (["config:set", "shop", b"B=\xff\xfe"], "config value of B is not valid UTF-8"),
    (["config:unset", "shop", "1A"], "invalid config key '1A'"),
    (["config:get", "shop", "A-B"], "invalid config key 'A-B'"),
    (["config:get", "shop", "A\nB"], "invalid config key 'A\\nB'"),
])
def test_bad_config_keys(world, env, args, says):
    assert_refused(world, env, *args, code=2, says=says)


@pytest.mark.parametrize("args, says", [
    (["config:unset", "shop", "A", "MISSING"], "app shop has no config MISSING"),
    (["config:get", "shop", "MISSING"], "app shop has no config MISSING"),
    (["config:show", "nope"], "app nope does not exist"),
    (["config:set", "nope", "A=1"], "app nope does not exist"),
    (["domains:remove", "shop", "not-there.example.com"], "app shop has no domain not-there.example.com"),
    (["rollback", "shop", "v99"], "app shop has no release v99"),
    (["rollback", "shop"], "app shop has no earlier successful release"),
    (["rollback", "blog"], "app blog has no release to roll back from"),
    (["releases:logs", "shop", "v1"], "v1 of shop was not built by ponton"),
    (["apps:rename", "nope", "other"], "app nope does not exist"),
])
def test_missing_things_are_not_found(world, env, args, says):
    assert_refused(world, env, *args, code=3, says=says)


@pytest.mark.parametrize("domain", ["a.com;", "a.com {", "a.com\n", "*.a.com", "$host", "localhost", "a..com",
                                    "a.com;include /etc/passwd", "a" * 64 + ".com", ".".join(["a" * 63] * 4) + ".com",
                                    "ä.com", "a.com/x"])
def test_bad_domains(world, env, domain):
    assert_refused(world, env, "domains:add", "shop", domain, code=2, says="invalid domain")


@pytest.mark.parametrize("args", [["domains:remove", "shop", "a.com;"], ["domains:set-global", "a.com {"],
                                  ["domains:set-global", "localhost"]])
def test_bad_domains_elsewhere(world, env, args):
    assert_refused(world, env, *args, code=2, says="invalid domain")


def test_domain_of_another_app(world, env):
    assert_refused(world, env, "domains:add", "shop", "taken.example.com", code=2,
                   says="domain taken.example.com is already used by app blog")


@pytest.mark.parametrize("pairs, says", [
    (["web=51"], "invalid count in 'web=51'"),
    (["web=-1"], "invalid count in 'web=-1'"),
    (["web=1.5"], "invalid count in 'web=1.5'"),
    (["web=３"], "invalid count in 'web=３'"),
    (["web="], "invalid count in 'web='"),
    (["web"], "expected TYPE=N"),
    (["=3"], "expected TYPE=N"),
    (["WEB=1"], "expected TYPE=N"),
    (["web=1", "worker=x"], "invalid count in 'worker=x'"),
    ([], "expected at least one TYPE=N"),
])
def test_bad_scale(world, env, pairs, says):
    assert_refused(world, env, "ps:scale", "shop", *pairs, code=2, says=says)


@pytest.mark.parametrize("args, says", [
    (["apps:create"], "Missing argument 'APP'"),
    (["apps:rename", "shop"], "Missing argument 'NEW'"),
    (["config:set", "shop"], "Missing argument 'KEY=VALUE...'"),
    (["config:unset", "shop"], "Missing argument 'KEY...'"),
    (["config:get", "shop"], "Missing argument 'KEY'"),
    (["domains:add", "shop"], "Missing argument 'DOMAIN'"),
    (["domains:set-global"], "Missing argument 'DOMAIN'"),
    (["git:from-image", "shop"], "Missing argument 'IMAGE'"),
    (["releases:logs", "shop"], "Missing argument 'VERSION'"),
    (["deploy:set", "shop"], "Missing argument 'KEY'"),
    (["ssh-keys:remove"], "Missing argument 'NAME'"),
])
def test_missing_arguments(world, env, args, says):
    assert_refused(world, env, *args, code=2, says=says)


@pytest.mark.parametrize("args, says", [
    (["nope"], "No such command 'nope'"),
    (["apps:nope"], "No such command 'apps:nope'"),
    (["apps"], "No such command 'apps'"),
    (["apps:list", "--bogus"], "No such option '--bogus'"),
    (["apps:list", "--format", "xml"], "Invalid value for '--format'"),
    (["apps:list", "extra"], "Got unexpected extra argument (extra)"),
    (["logs", "shop", "-n", "-1"], "Invalid value for '-n'"),
    (["events", "shop", "-n", "0"], "Invalid value for '-n'"),
])
def test_unknown_commands_and_options(world, env, args, says):
    assert_refused(world, env, *args, code=2, says=says)


def test_destroy_needs_force(world, env):
    assert_refused(world, env, "apps:destroy", "shop", code=2, says="run again with --force")


@pytest.mark.parametrize("args, says", [
    (["apps:create", "shop"], "app shop already exists"),
    (["apps:rename", "shop", "shop"], "the new name is the same as the old one"),
    (["apps:rename", "shop", "blog"], "app blog already exists"),
])
def test_conflicting_names(world, env, args, says):
    assert_refused(world, env, *args, code=2, says=says)


@pytest.mark.parametrize("version", ["vx", "v", "3.5", "v-1", "v３", "٣", "", "1e3", "v 1"])
def test_bad_rollback_versions(world, env, version):
    assert_refused(world, env, "rollback", "shop", version, code=2, says=f"invalid version {version!r}")


@pytest.mark.parametrize("args, says", [
    (["deploy:set", "shop", "strategy", "yolo"], "unknown strategy 'yolo'"),
    (["deploy:set", "shop", "batch", "0"], "expected a whole number from 1 to 50, got '0'"),
    (["deploy:set", "shop", "canary-weight", "1.5"], "expected a whole number from 1 to 99"),
    (["deploy:set", "shop", "colour", "red"], "unknown deploy setting 'colour'"),
    (["git:set", "shop", "deploy-branch", "a..b"], "invalid branch name 'a..b'"),
    (["git:set", "shop", "deploy-branch", "a b"], "invalid branch name 'a b'"),
    (["git:set", "shop", "colour", "main"], "Invalid value for '{deploy-branch}'"),
    (["ssh-keys:remove", "a b"], "invalid key name 'a b'"),
    (["releases:logs", "shop", "vx"], "invalid version 'vx'"),
])
def test_other_bad_values(world, env, args, says):
    assert_refused(world, env, *args, code=2, says=says)


@pytest.mark.parametrize("stdin, says", [
    (b"", "expected exactly one public key"),
    (b"not a key\n", "not an OpenSSH public key"),
    (b"ssh-ed25519 AAAAnotbase64 x\n", "not a valid public key"),
    (b"ssh-ed25519 A\nssh-ed25519 B\n", "expected exactly one public key"),
    (b"\xff\xfe ssh-ed25519\n", "standard input is not UTF-8 text"),
])
def test_bad_ssh_keys(world, env, stdin, says):
    assert_refused(world, env, "ssh-keys:add", "alice", stdin=stdin, code=2, says=says)


@pytest.mark.parametrize("app", ["shop", "newapp"])
def test_bad_archive(world, env, app):
    assert_refused(world, env, "git:from-archive", app, stdin=b"this is not a tarball", code=2,
                   says="not a readable tar archive: expected a tar file")


def compressed_tar(name: str, size: int, data: bytes = b"") -> bytes:
    """A bzip2 tar of one member `size` bytes long: `data` if given, else only its header (what the bound reads)."""
    member = tarfile.TarInfo(name)
    member.size = size
    return bz2.compress(member.tobuf() + (data + b"\0" * (-len(data) % 512) + b"\0" * 1024 if data else b""))


def test_an_archive_that_expands_past_its_bound_is_refused(world, env):
    bomb = compressed_tar("app/big", 3 << 30)  # says 3 GiB once expanded, in a few hundred bytes
    assert len(bomb) < 1000
    assert_refused(world, env, "git:from-archive", "newapp", stdin=bomb, code=2,
                   says="the archive holds more than 200000 files or 2048 MiB once expanded")


def test_a_certificate_tarball_that_expands_past_its_bound_is_refused(world, env):
    bomb = compressed_tar("server.crt", 8 << 20, b"\0" * (8 << 20))  # 8 MiB of zeros in a few hundred bytes
    assert len(bomb) < 1000
    assert_refused(world, env, "certs:add", "shop", stdin=bomb, code=2,
                   says="stdin holds more than 16 files or 1 MiB once expanded")


def test_archive_escaping_its_directory(world, env):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        member = tarfile.TarInfo("../escaped")
        member.size = 2
        tar.addfile(member, io.BytesIO(b"x\n"))
    assert_refused(world, env, "git:from-archive", "newapp", stdin=buffer.getvalue(), code=2,
                   says="not a readable tar archive: '../escaped' would be extracted to")


def test_state_unchanged_as_the_cli_shows_it(world, env):
    before = snapshot(env)
    assert before == EXPECTED
    for args in (["apps:destroy", "shop"], ["config:set", "shop", "A=2", "1B=3"], ["config:unset", "shop", "A", "NO"],
                 ["domains:add", "shop", "a.com;"], ["domains:add", "shop", "taken.example.com"],
                 ["domains:remove", "shop", "*.example.com"], ["ps:scale", "shop", "web=51"],
                 ["rollback", "shop", "vx"], ["apps:rename", "shop", "blog"], ["apps:create", "Shop"]):
        assert_refused(world, env, *args)
    assert snapshot(env) == before


def test_each_command_is_found_in_its_own_module():
    """Running a command imports only its module (cli._module_of): each must be where that looks."""
    import importlib

    for module in cli.MODULES:
        for command in importlib.import_module(f"ponton.commands.{module}").COMMANDS:
            assert cli._module_of(command.name) == module, command.name


HUGE = "9" * 5000  # past Python's 4300-digit limit of int(): a ValueError where a number was expected


@pytest.mark.parametrize("args", [
    ["ps:scale", "shop", f"web={HUGE}"], ["ps:scale", "shop", f"web=0{HUGE}"], ["releases:logs", "shop", f"v{HUGE}"],
    ["rollback", "shop", HUGE], ["logs", "shop", "--since", f"{HUGE}m"], ["logs", "shop", "--since", "1" + "0" * 12 + "d"],
    ["logs", "shop", "-n", HUGE], ["events", "shop", "-n", HUGE], ["metrics", "shop", "--window", HUGE],
    ["resource:limit", "shop", "--memory", f"{HUGE}m"], ["resource:limit", "shop", "--memory", HUGE],
    ["resource:limit", "shop", "--cpu", HUGE], ["resource:reserve", "shop", "--cpu", "1e999"],
    ["deploy:set", "shop", "batch", HUGE], ["deploy:set", "shop", "wait-to-retire", HUGE],
    ["deploy:set", "shop", "wait-to-retire", "5\n"], ["deploy:set", "shop", "canary-steps", f"10,{HUGE}"],
    ["proxy:set", "shop", "hsts-max-age", HUGE], ["proxy:set", "shop", "hsts-max-age", "-1"],
    ["ports:add", "shop", f"tcp:{HUGE}:7000"], ["watchdog", "--interval", HUGE],
])
def test_huge_numbers_are_refused_in_one_short_line(world, env, args):
    result = run(env, *args)
    assert len(result.stderr) < 300, result.stderr[:300]
    assert_refused(world, env, *args, code=2)


@pytest.mark.parametrize("args", [["apps:list", "a\nb"], ["apps:list", "a\u2028b\x85c\rd"], ["apps:nope\x1b[2J"],
                                  ["stack:build", "py\nthon"], ["config:get", "shop", "A\x0cB"]])
def test_line_breaks_and_control_characters_never_reach_the_output(world, env, args):
    assert_refused(world, env, *args)
    stderr = run(env, *args).stderr.decode()
    assert not any(c in stderr[:-1] for c in "\n\r\x0c\x85\u2028\x1b"), stderr


@pytest.fixture
def crash(monkeypatch, tmp_path):
    """A command with a bug."""
    import click

    @click.command("test:crash")
    @click.argument("secret")
    def command(secret):
        raise ZeroDivisionError("the details of a bug")

    monkeypatch.setenv("PONTON_CONFIG", str(tmp_path / "none.yml"))
    cli.cli.add_command(command)
    yield command
    del cli.cli.commands["test:crash"]


def test_an_unexpected_error_is_one_line_and_logged(crash, tmp_path, monkeypatch, capsys):
    """The user sees one line with a reference, the state dir's errors.log has the traceback."""
    monkeypatch.setenv("PONTON_STATE_DIR", str(tmp_path))
    code = cli.run(["test:crash", "hunter2"])
    out, err = capsys.readouterr()
    assert code == cli.INTERNAL_ERROR and out == ""
    assert re.fullmatch(r"error: internal error \(ZeroDivisionError\), logged on the server as error [0-9a-f]{8}\n", err)
    log = (tmp_path / cli.ERROR_LOG).read_text()
    assert err.split(" as ")[1].strip() in log and "command test:crash" in log
    assert "Traceback" in log and "the details of a bug" in log and "hunter2" not in log
    assert (tmp_path / cli.ERROR_LOG).stat().st_mode & 0o777 == 0o600


def test_an_unexpected_error_that_cannot_be_logged_is_one_line_too(crash, tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("PONTON_STATE_DIR", str(tmp_path / "file" / "state"))
    code = cli.run(["test:crash", "hunter2"])
    err = capsys.readouterr().err
    assert code == cli.INTERNAL_ERROR and err.count("\n") == 1
    assert err.startswith("error: internal error (ZeroDivisionError)") and "not logged" in err


def test_a_settings_file_with_a_huge_number(tmp_path, monkeypatch, capsys):
    (tmp_path / "settings.yml").write_text("http_port: 1" + "0" * 5000 + "\n")  # PyYAML: a ValueError
    monkeypatch.setenv("PONTON_CONFIG", str(tmp_path / "settings.yml"))
    code = cli.run(["apps:list"])
    assert code == 1 and capsys.readouterr().err == f"error: {tmp_path}/settings.yml: a number with too many digits\n"
