"""The process in which the web face runs one ponton command for a request, as `ssh-command` does for an SSH key:
the command, its access check, its lock and its errors are the CLI's own, for the user in PONTON_USER (none: the
server itself). The arguments come as one JSON line on stdin, never on the command line, where every local user
could read a config value in the process list."""

import json
import os
import sys

from ponton import cli

MAX_REQUEST = 4 * 2**20  # the API bounds what it accepts well below this


def main():
    os.umask(0o077)  # as the `ponton` command has it (ponton.cli.main)
    argv = json.loads(sys.stdin.buffer.readline(MAX_REQUEST))
    if not isinstance(argv, list) or not all(isinstance(word, str) for word in argv):
        sys.exit("error: expected a JSON list of arguments")
    sys.exit(cli.run(argv))


if __name__ == "__main__":
    main()
