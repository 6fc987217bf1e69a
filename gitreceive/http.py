"""git's smart HTTP for one request: `git http-backend` (git's own CGI program) on an app's repository, behind
the same access check, lock and pre-receive hook as a push over SSH (ssh.serve_git), so a push over HTTPS
streams the same `remote: ----->` lines and a failed deploy rejects it. `ponton web` authenticates the request
and runs this (`ponton git-http SERVICE APP`) with the request's CGI variables, its body on stdin."""

import os
import subprocess
from pathlib import Path

SERVICES = ("git-receive-pack", "git-upload-pack")


def backend(service: str):
    """A runner for ssh.serve_git: http-backend answering the request in the environment (REQUEST_METHOD GET:
    the refs a push or fetch starts with; POST: the push or fetch itself)."""
    def run(path: Path, env: dict) -> int:
        what = "info/refs" if os.environ.get("REQUEST_METHOD") == "GET" else service
        cgi = {**env, "GIT_PROJECT_ROOT": str(path.parent), "PATH_INFO": f"/{path.name}/{what}",
               "GIT_HTTP_EXPORT_ALL": "1", "REMOTE_USER": os.environ.get("PONTON_USER") or "admin"}
        return subprocess.run(["git", "http-backend"], env=cgi).returncode

    return run
