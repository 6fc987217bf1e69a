"""What every command needs: settings, state, the scheduler, the plugin hooks, the app lock, and where to say what
it does."""

import contextlib
import functools
import getpass
import os
from collections.abc import Callable

from ponton.core import interrupt, plugins, scheduler
from ponton.core import settings as settings_module
from ponton.core.lock import app_lock
from ponton.core.state import State

# Says one line of what is being done (a deploy's steps): log(line), or log(line, err=True) for what went wrong.
# click.echo's signature: the face passes click.echo itself, the watchdog a log of its own.
Log = Callable[..., None]


def silent(line: str, err: bool = False):
    """The log of a Ponton nobody listens to (tests, scripts that build one themselves)."""


SCHEDULER_KEY = "scheduler"  # the state's server-wide setting cluster:init sets


class Ponton:
    def __init__(self, settings=None, log: Log = silent):
        if settings is not None:
            self.settings = settings
        self.log = log
        # Checks again that the request may run (access.guard sets it), once the app's lock is held.
        self.recheck: Callable[[], None] | None = None
        self._held: set[str] = set()  # the apps whose lock this process holds

    @functools.cached_property
    def settings(self):
        """Read when first needed: the CLI builds its Ponton before it knows the command, which may be --help."""
        return settings_module.load()

    @functools.cached_property
    def state(self) -> State:
        return State(self.settings.state_dir)

    @functools.cached_property
    def scheduler(self) -> scheduler.Scheduler:
        """docker-local (or what the `scheduler` setting names) until `cluster:init` made this server a cluster's
        manager: then the one it recorded in the state (swarm)."""
        return scheduler.for_settings(self.settings, self.state.setting(SCHEDULER_KEY, "") or None)

    @property
    def hooks(self):
        return plugins.manager().hook

    def locked(self, *apps: str):
        """Hold the locks of `apps`, taken in name order so that two commands never wait on each other (a lock
        this process holds already is not taken twice). Once held, the request's access is checked again: while
        it waited, the app may have been created by another user, renamed, destroyed or its access changed, and
        what the first check saw no longer holds."""
        stack = contextlib.ExitStack()
        wanted = sorted(set(apps) - self._held)
        try:
            if wanted:
                stack.enter_context(interrupt.unwinds())  # a signal while the app changes undoes the change
            for app in wanted:
                # What the face says goes to its stderr (the CLI's log is click.echo): not the command's output.
                stack.enter_context(app_lock(self.settings.state_dir, app, log=functools.partial(self.log, err=True)))
                self._held.add(app)
                stack.callback(self._held.discard, app)
            if wanted and self.recheck is not None:
                self.recheck()
        except BaseException:
            stack.close()
            raise
        return stack

    @property
    def remote_user(self) -> str | None:
        """The user whose SSH key runs this (ssh-command sets PONTON_USER); None on the server itself."""
        return os.environ.get("PONTON_USER") or None

    @property
    def user(self) -> str:
        """Who is acting, for the events: the SSH key's name, else the local account."""
        return self.remote_user or f"{getpass.getuser()} (local)"

    def event(self, app: str, kind: str, message: str):
        """Record what happened to `app` and who did it (`ponton events APP`)."""
        self.state.add_event(app, self.user, kind, message)

    def global_domain(self) -> str:
        return self.state.setting("domain", self.settings.domain)

    def domains(self, app: str) -> list[str]:
        return [f"{app}.{self.global_domain()}", *self.state.domains(app)]

    def url(self, app: str) -> str:
        port = "" if self.settings.http_port == 80 else f":{self.settings.http_port}"
        return f"http://{app}.{self.global_domain()}{port}"
