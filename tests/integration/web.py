"""Clients of a sandbox's web face, through its nginx on 127.0.0.1 (the Host header names ponton.DOMAIN)."""

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import requests


def add_user(sandbox, name: str, role: str = "user"):
    """A user (their SSH key added) who may hold tokens."""
    (sandbox.root / "ssh").mkdir(exist_ok=True)
    key = sandbox.new_key(name)
    sandbox.run("ssh-keys:add", name, "--role", role, input=key.with_suffix(".pub").read_text())


def token(sandbox, name: str, user: str | None = None, *options: str) -> str:
    args = ["tokens:create", name, *(["--for", user] if user else []), *options]
    return sandbox.run(*args).stdout.splitlines()[-1]


class Api:
    def __init__(self, sandbox, token: str | None):
        self.sandbox = sandbox
        self.base = f"http://127.0.0.1:{sandbox.http_port}"
        self.session = requests.Session()
        self.session.headers["Host"] = sandbox.web_host
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **options) -> requests.Response:
        return self.session.request(method, f"{self.base}/api/v1{path}", timeout=600, **options)

    def get(self, path: str, **options) -> requests.Response:
        return self.request("GET", path, **options)

    def read(self, path: str, **options):
        """A read that must succeed: its JSON (a failure says what was answered)."""
        response = self.get(path, **options)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def change(self, method: str, path: str, body=None) -> tuple[int, list[str], dict]:
        """A change: (status, the progress lines, the last object: {"ok": true} or the error)."""
        response = self.request(method, path, json=body, stream=True)
        if response.headers["content-type"] != "application/x-ndjson":
            return response.status_code, [], response.json()
        objects = [json.loads(line) for line in response.iter_lines() if line]
        return response.status_code, [o["line"] for o in objects[:-1]], objects[-1]

    def ok(self, method: str, path: str, body=None) -> list[str]:
        status, lines, end = self.change(method, path, body)
        assert (status, end) == (200, {"ok": True}), f"{method} {path}: {status} {end}\n" + "\n".join(lines)
        return lines


def expire_tokens(state_dir: Path):
    """Make every token of the sandbox expired, as time would."""
    db = sqlite3.connect(state_dir / "ponton.db")
    with db:
        db.execute("UPDATE tokens SET expires = 1")
    db.close()


def answers(sandbox, host: str | None = None) -> bool:
    """Whether ponton web answers through the sandbox's nginx."""
    try:
        return sandbox.get(host or sandbox.web_host, "/api/v1/openapi.json")[0] == 200
    except OSError:
        return False


def login_link(sandbox, user: str | None) -> str:
    """The one-time link `dashboard:login` prints for `user` (as ssh-command runs it for their key)."""
    env = {**sandbox.env, **({"PONTON_USER": user} if user else {})}
    result = subprocess.run([sys.executable, "-m", "ponton", "dashboard:login"], env=env, capture_output=True,
                            text=True, check=True, timeout=60)
    return result.stdout.splitlines()[-1]


def browser_session(sandbox, user: str | None) -> tuple[requests.Session, str]:
    """A logged-in browser, as far as HTTP goes: (its session with the cookie, the CSRF token its pages carry)."""
    session = requests.Session()
    session.headers["Host"] = sandbox.web_host
    code = login_link(sandbox, user).rsplit("/", 1)[1]
    base = f"http://127.0.0.1:{sandbox.http_port}"
    response = session.post(f"{base}/login", data={"code": code}, allow_redirects=False, timeout=60)
    assert response.status_code == 303, response.text
    page = session.get(f"{base}/", timeout=60).text
    return session, re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page)[1]
