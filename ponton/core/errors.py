"""The few named errors ponton raises; the CLI edge prints them as one line and exits with their code."""


class PontonError(Exception):
    """Its message is the one line the user sees; `details` (e.g. an instance's last log lines) follow it as is."""

    exit_code = 1

    def __init__(self, message: str = "", details: str = ""):
        super().__init__(message)
        self.details = details


class InvalidInput(PontonError):
    """The user's input is malformed; nothing was changed."""

    exit_code = 2


class NotFound(PontonError):
    exit_code = 3


class DeployError(PontonError):
    """A release could not be rolled out; the previous release keeps serving."""

    exit_code = 4


class ProxyError(PontonError):
    """The proxy refused a configuration; the live proxy was left as it was."""

    exit_code = 5


class AccessDenied(PontonError):
    """The user may not do this (role, app access, quota); nothing was changed."""

    exit_code = 7


class BuildError(PontonError):
    """An app's source could not be built into an image; nothing was deployed."""

    exit_code = 6
