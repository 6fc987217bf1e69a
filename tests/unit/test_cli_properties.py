"""Every command, fed arbitrary arguments (huge numbers, control characters, unicode line breaks, option-like
words, paths), locally and over the SSH forced command: one line of error or a success, never a traceback, and
nothing changed when it refuses.

In-process (click's CliRunner isolation around the real CLI edge, `cli.run`), against a state dir of its own per
example and no engine: DOCKER_HOST names a socket that does not exist and nginx is `false`, so that a command
which gets past its checks fails there instead of touching the host (and the ACME server is a closed loopback
port). The state must be unchanged after any refusal (exit codes 2, 3, 7); a command that failed further on
(the engine or nginx refused: 1, 4, 5) must have put back what it changed, its history (releases, events) aside.
"""

import shlex
import shutil
import sqlite3
import tempfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitreceive import ssh
from ponton import cli
from ponton.core.errors import InvalidInput
from ponton.core.state import State

# docker-py leaves its socket unclosed when the engine cannot be reached, and each in-process command keeps its
# state's connection until collected: neither is what these tests are about.
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")

HUGE = "9" * 5000
WORDS = [
    "shop", "blog", "nope", "alice", "web=2", "web=0", "worker=1", f"web={HUGE}", HUGE, f"v{HUGE}", f"-{HUGE}",
    f"{HUGE}m", "0" * 5000 + "1", "1e999", "nan", "inf", "-1", "0", "1", "v1", "3.5", "٣", "１",
    "--format", "json", "text", "--force", "-n", "--num", "--since", "--help", "-h", "--", "-", "--memory", "--cpu",
    "--clear", "--process", "--global", "--user", "--role", "admin", "--window", "--ps", "--proxy", "--no-restart",
    "--interval", "/etc/passwd", "/dev/null", "../../etc/passwd", "/nonexistent/x", ".", "~", "$HOME", "`id`",
    "$(id)", "a;b", "'", '"', "\\", "a\nb", "\u2028", "x\x85y", "\x0c", "\r", "\x1b[2J", "\t", "é", "ＡＢ",
    "\udcff", "A=1", "KEY=x\ny", "PORT=1", "example.com", "shop.example.com", "127.0.0.1", "tcp:9000:7000",
    f"tcp:{HUGE}:1", "deploy-branch", "main", "strategy", "rolling", "batch", "canary-steps", "10,20",
    "hsts-max-age", "wait-to-retire", "email", "server", f"apps={HUGE}", "instances=1", "apps=unlimited",
]
CHARACTERS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")  # argv cannot hold NUL
WORD = st.one_of(st.sampled_from(WORDS), st.text(CHARACTERS, max_size=12),
                 st.tuples(st.sampled_from(WORDS), st.sampled_from(WORDS)).map("".join))
# Arguments a command accepts, so that a changed word here and there reaches past the first check (more of
# what a command does, and undoes when the engine or nginx refuses). Any other command gets APP.
VALID = {
    "apps:create": ["newapp"], "apps:rename": ["shop", "renamed"], "apps:destroy": ["shop", "--force"],
    "config:set": ["shop", "B=2"], "config:unset": ["shop", "A"], "config:get": ["shop", "A"],
    "ps:scale": ["shop", "web=2"], "domains:add": ["shop", "new.example.com"],
    "domains:remove": ["shop", "shop.example.com"], "domains:set-global": ["apps.example.org"],
    "rollback": ["shop", "v1"], "releases:logs": ["shop", "v1"], "logs": ["shop", "-n", "5", "--since", "1h"],
    "deploy:set": ["shop", "batch", "2"], "proxy:set": ["shop", "hsts", "true"],
    "certs:add": ["shop", "/etc/passwd", "/etc/passwd"], "letsencrypt:set": ["--global", "email", "a@example.com"],
    "ports:add": ["shop", "tcp:9000:7000"], "ports:remove": ["shop", "tcp:9000:7000"],
    "resource:limit": ["shop", "--memory", "256m"], "resource:reserve": ["shop", "--cpu", "0.5"],
    "acl:add": ["blog", "alice"], "acl:remove": ["shop", "alice"], "quota:set": ["alice", "apps=3"],
    "quota:report": ["alice"], "ssh-keys:remove": ["alice"], "ssh-keys:add": ["bob"],
    "git:set": ["shop", "deploy-branch", "main"], "git:from-image": ["shop", "busybox"],
    "metrics": ["shop", "--window", "10"], "events": ["shop", "-n", "3"], "stack:build": ["python"],
}
REFUSED = {2, 3, 7}  # invalid input, not found, access denied: nothing may have changed
HISTORY = ("releases", "events")  # what a failed deploy may leave behind: the record that it failed
PROPERTY = settings(max_examples=500, deadline=3000, suppress_health_check=[HealthCheck.too_slow], database=None)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A state with two apps (config, a domain, a deployed release) and two users: an admin and alice."""
    root = tmp_path_factory.mktemp("properties")
    state = State(root / "state")
    state.add_ssh_key("root-admin", "SHA256:admin", "ssh-ed25519 AAAA admin")
    state.add_ssh_key("alice", "SHA256:alice", "ssh-ed25519 AAAA alice", "user")
    for app in ("shop", "blog"):
        state.create_app(app, owner="alice" if app == "shop" else None)
    state.replace_config("shop", {"A": "1", "MULTI": "line1\nline2"})
    state.add_domain("shop", "shop.example.com")
    release = state.add_release("shop", "img", "img", {"A": "1"}, {"web": ""}, {}, "Deploy image img")
    state.set_release_status("shop", release.version, "succeeded")
    state.set_setting("letsencrypt_server", "http://127.0.0.1:9/directory")  # refused at once, never the internet
    state.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    state.close()
    return root / "state"


def dump(state_dir: Path, without=(), only: str | None = None) -> list[str]:
    db = sqlite3.connect(state_dir / "ponton.db")
    try:
        if only:
            return [tuple(row) for row in db.execute(f"SELECT * FROM {only}")]
        return [line for line in db.iterdump() if not any(f'"{table}"' in line for table in without)]
    finally:
        db.close()


def environment(root: Path, state_dir: Path) -> dict:
    return {
        "PONTON_CONFIG": str(root / "none.yml"), "PONTON_STATE_DIR": str(state_dir),
        "PONTON_NGINX_CONF_DIR": str(root / "nginx"), "PONTON_NGINX_COMMAND": "false",
        "PONTON_NGINX_PID_FILE": str(root / "nginx.pid"), "PONTON_NGINX_LOG_DIR": str(root / "nginx-logs"),
        "PONTON_AUTHORIZED_KEYS_FILE": str(root / "authorized_keys"), "PONTON_BASE_IMAGE": "example/none",
        "DOCKER_HOST": "unix:///nonexistent/docker.sock", "PONTON_USER": None, "PONTON_APP": None,
        "SSH_ORIGINAL_COMMAND": None,
    }


def run_isolated(template: Path, argv: list[str], **env) -> tuple[int, str, str, Path, list[str]]:
    """Run the CLI edge on `argv` in a copy of the template state: (exit code, stdout, stderr, state dir, the
    state's dump before)."""
    root = Path(tempfile.mkdtemp(prefix="ponton-prop-"))
    state_dir = root / "state"
    shutil.copytree(template, state_dir)
    before = dump(state_dir)
    with CliRunner().isolation(input=b"", env={**environment(root, state_dir), **env}) as (out, err, _):
        code = cli.run(argv)
    return code, out.getvalue().decode(errors="replace"), err.getvalue().decode(errors="replace"), root, before


def check_outcome(template: Path, argv: list[str], **env):
    code, out, err, root, before = run_isolated(template, argv, **env)
    try:
        state_dir = root / "state"
        assert "Traceback" not in out + err, (argv, err)
        assert code != cli.INTERNAL_ERROR, (argv, err)  # an exception nobody foresaw: a bug
        assert dump(state_dir, only="releases WHERE status = 'deploying'") == [], (argv, err)  # none left midway
        if code == 0:
            return
        lines = err.splitlines()
        assert lines and lines[-1].startswith("error: "), (argv, code, err)
        assert err == "\n".join(lines) + "\n" and all(line.isprintable() for line in lines), (argv, err)
        if code in REFUSED:
            assert len(lines) == 1, (argv, code, out, err)  # (stdout may have said what it was about to do)
            audit = ("events",) if code == 7 else ()  # a denied request is recorded in the app's events, on purpose
            assert dump(state_dir, without=audit) == [line for line in before
                                                      if not any(f'"{t}"' in line for t in audit)], (argv, code, err)
        else:
            assert dump(state_dir, without=HISTORY) == [line for line in before
                                                        if not any(f'"{t}"' in line for t in HISTORY)], (argv, err)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def commands() -> list[str]:
    return cli.cli.list_commands(click.Context(cli.cli))


@st.composite
def arguments(draw, command: str) -> list[str]:
    """Arbitrary words, or the command's valid arguments with a few words replaced, inserted or removed."""
    if draw(st.booleans()):
        return draw(st.lists(WORD, max_size=5))
    words = list(VALID.get(command, ["shop"]))
    for _ in range(draw(st.integers(0, 2))):
        where = draw(st.integers(0, len(words)))
        action = draw(st.sampled_from(["replace", "insert", "remove"]))
        if action == "insert" or not words[where:]:
            words.insert(where, draw(WORD))
        elif action == "replace":
            words[where] = draw(WORD)
        else:
            del words[where]
    return words


def runs_forever(words: list[str]) -> bool:
    """The daemon, and logs that follow (-t): they end only when stopped."""
    if not words or words[0] == "watchdog":
        return bool(words)
    return words[0] == "logs" and any(w == "--tail" or (w.startswith("-") and not w.startswith("--") and "t" in w)
                                      for w in words[1:])


def test_every_command_is_exercised():
    names = commands()
    assert {"apps:create", "ps:scale", "ssh-command", "git-hook", "certs:add", "resource:limit"} <= set(names)
    assert len(names) > 50


@PROPERTY
@given(data=st.data())
def test_every_command_with_arbitrary_arguments(template, data):
    command = data.draw(st.sampled_from([name for name in commands() if name != "watchdog"]), label="command")
    argv = [command, *data.draw(arguments(command), label="arguments")]
    if runs_forever(argv):
        return
    check_outcome(template, argv)


@settings(PROPERTY, max_examples=200)
@given(data=st.data(), quote=st.booleans(), user=st.sampled_from(["alice", "root-admin"]))
def test_every_command_over_the_ssh_forced_command(template, data, quote, user):
    """SSH_ORIGINAL_COMMAND: a command and its arguments as above (or any words), as the key holder typed them."""
    if data.draw(st.booleans()):
        words = data.draw(st.lists(WORD, min_size=1, max_size=5), label="words")
    else:
        command = data.draw(st.sampled_from([name for name in commands() if name != "watchdog"]), label="command")
        words = [command, *data.draw(arguments(command), label="arguments")]
    original = shlex.join(words) if quote else " ".join(words)
    try:
        request = ssh.parse(original, cli.cli.is_visible)
    except InvalidInput:
        request = None
    if request is not None and (request.is_git or runs_forever(request.argv)):
        return  # git-receive-pack/git-upload-pack run git on the connection: tests/integration/test_push.py
    check_outcome(template, ["ssh-command", "--user", user], SSH_ORIGINAL_COMMAND=original)


@settings(max_examples=500, deadline=3000, database=None)
@given(original=st.one_of(st.text(CHARACTERS, max_size=40),
                          st.lists(WORD, max_size=4).map(" ".join),
                          st.tuples(st.sampled_from(["git-receive-pack", "git-upload-pack"]), WORD).map(" ".join)))
def test_the_ssh_parser_accepts_only_what_it_should(original):
    try:
        request = ssh.parse(original, cli.cli.is_visible)
    except InvalidInput as e:
        message = str(e)
        assert message.isprintable() and len(message) < 1000, message  # however long the input
        return
    verb = request.argv[0]
    if request.is_git:
        assert len(request.argv) == 2 and request.app is not None and cli.cli.is_visible(verb) is False
    else:
        assert verb == "--help" or cli.cli.is_visible(verb), verb
