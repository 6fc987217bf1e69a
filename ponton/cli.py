"""The `ponton` command: Dokku-style `topic:verb APP ARGS`, run as root or as the SSH forced command.

Every error reaches the user as one line, `error: ...`, and a non-zero exit code; never a traceback. An error
nobody foresaw (a bug) says so in that line, and its traceback goes to STATE_DIR/errors.log."""

import importlib
import os
import secrets
import sys
import time
import traceback

import click

from ponton.core import plugins, settings
from ponton.core.context import Ponton
from ponton.core.errors import PontonError
from ponton.features import access
from ponton.output import one_line

ERROR_LOG = "errors.log"
INTERNAL_ERROR = 70  # EX_SOFTWARE


class PontonCLI(click.Group):
    """Prints ponton's errors (and the Docker engine's) as one line and exits with their code, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PontonError as e:
            click.echo(f"error: {one_line(str(e))}", err=True)
            if e.details:
                click.echo(e.details.rstrip("\n"), err=True)
            ctx.exit(e.exit_code)
        except Exception as e:
            docker_errors = sys.modules.get("docker.errors")
            if docker_errors is None or not isinstance(e, docker_errors.DockerException):
                raise
            click.echo(f"error: Docker engine: {one_line(str(e))}", err=True)
            ctx.exit(1)

    def add_command(self, cmd, name=None):
        super().add_command(access.guard(cmd), name)  # every command checks who may run it, in one place

    def list_commands(self, ctx):
        _register_builtin_commands()
        _load_plugin_commands(self)
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        """Import only the module of the command asked for: every SSH command is a fresh process, and importing
        all of them would double its start-up time."""
        if name not in self.commands and _module_of(name) in MODULES:
            _register_builtin_commands([_module_of(name)])
        return super().get_command(ctx, name) or (_load_plugin_commands(self) and super().get_command(ctx, name))

    def run(self, argv: list[str] | None = None) -> int:
        """Run the CLI on `argv` and return its exit code; errors are printed as one line."""
        try:
            code = self.main(args=argv, prog_name="ponton", standalone_mode=False)
        except click.UsageError as e:
            hint = f" (see '{e.ctx.command_path} --help')" if e.ctx else ""
            click.echo(f"error: {one_line(e.format_message() + hint)}", err=True)
            code = e.exit_code
        except click.ClickException as e:
            click.echo(f"error: {one_line(e.format_message())}", err=True)
            code = e.exit_code
        except click.Abort as e:  # Ctrl-C, or a signal ponton.core.interrupt turned into one (its name said)
            click.echo(f"error: {e.__cause__}" if str(e.__cause__ or "") else "aborted", err=True)
            code = 1
        except Exception as e:  # a bug: the user gets one line, the operator the traceback
            reference = log_internal_error(argv if argv is not None else sys.argv[1:])
            click.echo(f"error: internal error ({type(e).__name__}), logged on the server as {reference}", err=True)
            code = INTERNAL_ERROR
        return code if isinstance(code, int) else 0

    def is_visible(self, name: str) -> bool:
        """Whether `name` is a command a person may ask for (not an internal, hidden one)."""
        command = self.get_command(None, name)
        return command is not None and not command.hidden


@click.group(cls=PontonCLI, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ponton")
@click.pass_context
def cli(ctx):
    """ponton: deploy apps with `git push`, run them as containers behind nginx."""
    # The face is where things are printed: what the layers below do reaches the user through this log.
    if ctx.obj is None:
        ctx.obj = Ponton(log=click.echo)


def _load_plugin_commands(group: click.Group) -> bool:
    for commands in plugins.manager().hook.ponton_commands():
        for command in commands:
            group.add_command(command)
    return True


# The modules of ponton/commands, each listing its commands in COMMANDS; a command lives in the module named
# after its topic (the part before ":"), or in the one EXCEPTIONS names.
MODULES = ("acl", "apps", "autoscale", "certs", "cluster", "config", "dashboard", "deploys", "domains", "events",
           "git", "letsencrypt", "logs", "metrics", "nodes", "ports", "proxy", "ps", "quota", "releases", "remote",
           "resource", "server", "sshkeys", "stack", "tokens", "web")
EXCEPTIONS = {"ps:autoscale": "autoscale", "ps:autoscale:report": "autoscale", "deploy": "deploys",
              "ssh-keys": "sshkeys", "releases:logs": "logs", "rollback": "releases", "git-hook": "git",
              "ssh-command": "remote", "git-http": "remote", "watchdog": "server", "report": "server"}


def _module_of(name: str) -> str:
    return EXCEPTIONS.get(name) or EXCEPTIONS.get(name.split(":")[0]) or name.split(":")[0]


def _register_builtin_commands(modules=MODULES):
    for module in modules:
        for command in importlib.import_module(f"ponton.commands.{module}").COMMANDS:
            cli.add_command(command)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on `argv` and return its exit code; errors are printed as one line."""
    return cli.run(argv)


def log_internal_error(argv: list[str]) -> str:
    """Append the traceback being handled to STATE_DIR/errors.log; return the reference the user is told."""
    reference = f"error {secrets.token_hex(4)}"
    command = one_line(argv[0][:60]) if argv else "-"  # only the command: other arguments may hold secrets
    entry = (f"{time.strftime('%Y-%m-%d %H:%M:%S')} {reference} (pid {os.getpid()}, command {command}, "
             f"user {os.environ.get('PONTON_USER') or '(local)'})\n{traceback.format_exc()}\n")
    try:
        state_dir = settings.load().state_dir
        fd = os.open(state_dir / ERROR_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as log:
            if os.geteuid() == 0:  # root's commands must not lock the ponton user (SSH commands) out of it
                owner = os.stat(state_dir)
                os.fchown(log.fileno(), owner.st_uid, owner.st_gid)
            log.write(entry)
    except Exception:  # no state dir, a broken settings file: the traceback must still not reach the user
        return f"{reference} (not logged: cannot write to the state dir)"
    return reference


def main():
    # Everything ponton writes (the state, repos, keys, vhosts) is for its own user alone: the state holds every
    # tenant's config (their secrets). The few files others must read (ACME challenges) get their mode explicitly.
    os.umask(0o077)
    sys.exit(run())
