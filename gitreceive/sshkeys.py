"""authorized_keys for the ponton user, rendered from the keys in ponton's state.

Every entry forces ponton's own command and `restrict`s everything else (no pty, no forwarding):
    command="... ponton ssh-command --user NAME",restrict ssh-ed25519 AAAA... NAME
"""

import os
import re
import shlex
import subprocess
import sys
import tempfile

from ponton.core.errors import InvalidInput
from ponton.core.files import write_atomically

KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
KEY_TYPES = re.compile(r"(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)")


def parse_public_key(text: str) -> tuple[str, str]:
    """Validate one OpenSSH public key (with ssh-keygen): returns (fingerprint, "type base64")."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) != 1:
        raise InvalidInput("expected exactly one public key on standard input (the contents of a .pub file)")
    fields = lines[0].split()
    if len(fields) < 2 or not KEY_TYPES.fullmatch(fields[0]):
        raise InvalidInput("not an OpenSSH public key: expected a line like 'ssh-ed25519 AAAA... comment'")
    key = f"{fields[0]} {fields[1]}"
    with tempfile.NamedTemporaryFile("w", suffix=".pub") as f:
        f.write(key + "\n")
        f.flush()
        result = subprocess.run(["ssh-keygen", "-l", "-f", f.name], capture_output=True, text=True)
    if result.returncode != 0:
        raise InvalidInput("not a valid public key (ssh-keygen could not read it)")
    return result.stdout.split()[1], key


def key_name(name: str) -> str:
    if not KEY_NAME.fullmatch(name):
        raise InvalidInput(f"invalid key name {name!r}: use letters, digits, '.', '_' and '-'")
    return name


def forced_command(user: str) -> str:
    """The command sshd runs for this user's key, whatever they asked for (they asked in SSH_ORIGINAL_COMMAND)."""
    prefix = []
    if os.environ.get("PONTON_CONFIG"):  # the same settings file as the admin who added the key
        prefix = ["env", f"PONTON_CONFIG={os.environ['PONTON_CONFIG']}"]
    return shlex.join([*prefix, sys.executable, "-m", "ponton", "ssh-command", "--user", user])


def render(keys) -> str:
    lines = ["# Managed by ponton (ponton ssh-keys:add/remove); edits here are overwritten."]
    for ssh_key in keys:
        command = forced_command(ssh_key.name).replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'command="{command}",restrict {ssh_key.key} {ssh_key.name}')
    return "\n".join(lines) + "\n"


def write(path, keys):
    """Replace the authorized_keys file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    stat = path.parent.stat()  # the ponton user owns ~/.ssh; root runs this command
    write_atomically(path, render(keys).encode(), 0o600, owner=(stat.st_uid, stat.st_gid))
