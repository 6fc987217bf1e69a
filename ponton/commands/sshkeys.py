"""ssh-keys:add, ssh-keys:list, ssh-keys:remove: who may push and run commands over SSH, and with which role."""

import sys

import click

from gitreceive import sshkeys
from ponton.core.errors import InvalidInput
from ponton.features.access import ROLES
from ponton.output import emit, format_option, pass_ponton, table


def _write(p):
    sshkeys.write(p.settings.authorized_keys_file, p.state.ssh_keys())


@click.command("ssh-keys:add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES),
              help="The user's role (several keys may share a NAME; the role is the user's). "
                   "Default: admin for the first user, user after; an existing user keeps theirs.")
@pass_ponton
def add(p, name, role):
    """Allow the public key on standard input, as user NAME: `ponton ssh-keys:add alice < alice.pub`."""
    name = sshkeys.key_name(name)
    try:
        text = sys.stdin.buffer.read(16384).decode()
    except UnicodeDecodeError:
        raise InvalidInput("not an OpenSSH public key: standard input is not UTF-8 text") from None
    fingerprint, key = sshkeys.parse_public_key(text)
    role = p.state.add_ssh_key(name, fingerprint, key, role)
    _write(p)
    click.echo(f"-----> Added key {fingerprint} as {name} ({role})")


@click.command("ssh-keys:list")
@format_option
@pass_ponton
def list_keys(p, fmt):
    """List the allowed keys: user name, role and fingerprint."""
    rows = [{"name": key.name, "role": p.state.role(key.name), "fingerprint": key.fingerprint}
            for key in p.state.ssh_keys()]
    emit(fmt, rows, table([list(r.values()) for r in rows], ["name", "role", "fingerprint"]) if rows else "no keys yet")


@click.command("ssh-keys:remove")
@click.argument("name")
@pass_ponton
def remove(p, name):
    """Remove every key added as NAME, and their API tokens and dashboard sessions."""
    name = sshkeys.key_name(name)
    p.state.atomically(lambda: (p.state.remove_ssh_keys(name), p.state.remove_user_tokens(name)))
    _write(p)
    click.echo(f"-----> Removed the keys of {name}")


COMMANDS = [add, list_keys, remove]
