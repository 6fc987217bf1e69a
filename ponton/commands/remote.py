"""The entries of a remote request, hidden and never reachable over SSH: ssh-command (sshd's forced command for
every key: a ponton command or a push) and git-http (a push or clone over HTTPS, run by `ponton web`).

Every SSH command is a fresh process that imports this module: it imports no more than what serving a request
needs (the deploy pipeline is imported by git's hook, a process of its own)."""

import click

from gitreceive import http, ssh
from ponton.commands.apps import create_if_missing
from ponton.output import app_argument, pass_ponton


@click.command("ssh-command", hidden=True)
@click.option("--user", required=True, help="The name of the SSH key that connected.")
@pass_ponton
@click.pass_context
def ssh_command(ctx, p, user):
    """The forced command of every key in authorized_keys: runs what SSH_ORIGINAL_COMMAND asks, if allowed."""
    ssh.serve(ctx, p, user, create_if_missing)


@click.command("git-http", hidden=True)
@click.argument("service", type=click.Choice(http.SERVICES))
@app_argument()
@pass_ponton
@click.pass_context
def git_http(ctx, p, service, app):
    """One request of git's smart HTTP, run by `ponton web` for the user in PONTON_USER, its CGI variables in the
    environment and its body on stdin: git http-backend on APP's repository, if they may."""
    ctx.exit(ssh.serve_git(p, service, app, create_if_missing, http.backend(service)))


COMMANDS = [ssh_command, git_http]
