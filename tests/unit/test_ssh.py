"""The SSH forced command's parser: the one place that decides what a key holder may run."""

import pytest

from gitreceive import ssh, sshkeys
from ponton.core.errors import InvalidInput
from ponton.core.state import SshKey

COMMANDS = {"apps:list", "config:set"}


@pytest.mark.parametrize("original, argv, app", [
    ("git-receive-pack 'myapp'", ["git-receive-pack", "myapp"], "myapp"),
    ("git-receive-pack '/myapp.git'", ["git-receive-pack", "/myapp.git"], "myapp"),
    ("git-upload-pack 'myapp/'", ["git-upload-pack", "myapp/"], "myapp"),
    ("apps:list", ["apps:list"], None),
    ("config:set app 'A=b c' \"D=$HOME\"", ["config:set", "app", "A=b c", "D=$HOME"], None),
    ("help", ["--help"], None),
])
def test_accepted(original, argv, app):
    request = ssh.parse(original, COMMANDS.__contains__)
    assert (request.argv, request.app) == (argv, app)


@pytest.mark.parametrize("original, message", [
    (None, "no interactive shell"),
    ("   ", "no interactive shell"),
    ("bash", "command not allowed"),
    ("apps:list; rm -rf /", "command not allowed"),  # shlex keeps "apps:list;" as one word
    ("`id`", "command not allowed"),
    ("git-receive-pack '../etc'", "invalid repository"),
    ("git-receive-pack '/srv/git/app'", "invalid repository"),
    ("git-receive-pack 'App'", "invalid repository"),
    ("git-receive-pack", "exactly one repository"),
    ("git-receive-pack a b", "exactly one repository"),
    ("git-receive-pack 'unterminated", "cannot parse"),
    ("ssh-keys:add x", "command not allowed"),
])
def test_refused(original, message):
    with pytest.raises(InvalidInput, match=message):
        ssh.parse(original, COMMANDS.__contains__)


def test_authorized_keys_force_the_command_and_restrict_everything():
    rows = [SshKey("SHA256:alice", "alice", "ssh-ed25519 AAAAC3Nza", 1.0)]
    lines = sshkeys.render(rows).splitlines()
    assert lines[0].startswith("#")
    assert lines[1].startswith('command="') and '",restrict ssh-ed25519 AAAAC3Nza alice' in lines[1]
    assert "ssh-command --user alice" in lines[1]


@pytest.mark.parametrize("name", ["", "-x", "a b", "a\nb", "a,command=x", 'a"', "x" * 65])
def test_bad_key_names(name):
    with pytest.raises(InvalidInput):
        sshkeys.key_name(name)
