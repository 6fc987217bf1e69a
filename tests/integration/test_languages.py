"""git push of apps in each language the builder knows, built on the offline stack images, served through nginx."""

import http.client
import json
import subprocess
import time

import pytest

from ponton.testing import Load
from tests.integration.conftest import APPS


def push_new(sandbox, pusher, app_dir: str) -> tuple[str, subprocess.CompletedProcess]:
    app = sandbox.new_app_name()
    pusher.checkout(APPS / app_dir)
    result = pusher.push(app)
    assert result.returncode == 0, result.stderr
    return app, result


@pytest.mark.parametrize("app_dir, detected, answer", [
    ("express", "Node.js app detected (package.json)", b"express says hello from node v20."),
    ("go", "Go app detected (go.mod)", b"go says hello from go1.24"),
    ("static", "static site app detected (index.html)", b"a static site says hello"),
    ("php", "PHP app detected (index.php)", b"php says hello from 8.4."),
    ("express-node18", "installing Node.js 18.x from the npm registry", b"express says hello from node v18."),
    ("go-gopath", "Go app detected (web.go)", b"gopath go says hello from go1.24"),
    ("python-procfile", "Python app detected (Procfile runs python)",
     b"python without requirements says hello (pre_compile ran post_compile ran after pre_compile ran)"),
])
def test_each_language_builds_and_serves(sandbox, pusher, app_dir, detected, answer):
    app, result = push_new(sandbox, pusher, app_dir)
    assert detected in result.stderr
    status, body = sandbox.get(sandbox.host(app))
    assert status == 200 and answer in body, body


def test_static_site_sends_caching_headers(sandbox, pusher):
    app, _ = push_new(sandbox, pusher, "static")
    headers = {path: _headers(sandbox, app, path) for path in ("/", "/assets/site.0123abcd.css", "/Procfile")}
    assert headers["/"]["Cache-Control"] == "no-cache" and "ETag" in headers["/"]
    assert headers["/assets/site.0123abcd.css"]["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["/Procfile"]["status"] == 404


def test_flask_with_a_worker_and_a_cached_code_change(sandbox, pusher):
    app, result = push_new(sandbox, pusher, "flask")
    assert "Python app detected (requirements.txt)" in result.stderr
    assert sandbox.get(sandbox.host(app)) == (200, b"flask says hello\n")

    sandbox.run("ps:scale", app, "worker=1", "web=2")
    deadline, workers = time.monotonic() + 30, []
    while time.monotonic() < deadline and not workers:
        workers = sandbox.run("logs", app, "--ps", "worker", "-n", "3").stdout.splitlines()
    assert workers and all(line == "worker.1 | worker tick" for line in workers), workers

    # A one-line change to the code: the dependency layer comes from the cache, and no request fails meanwhile.
    app_py = pusher.work / "app.py"
    app_py.write_text(app_py.read_text().replace("flask says hello", "flask says hello again"))
    sha = pusher.commit("change the greeting")
    with Load(sandbox.http_port, sandbox.host(app), max_seconds=120) as load:
        result = pusher.push(app)
    assert result.returncode == 0, result.stderr
    assert _cached(result.stderr, "RUN pip install -r requirements.txt")
    assert load.result.ok and not load.result.failures, load.result.failures[:5]
    assert sandbox.get(sandbox.host(app)) == (200, b"flask says hello again\n")
    assert pusher.server_branch(app) == sha
    report = json.loads(sandbox.run("ps:report", app, "--format", "json").stdout)
    assert sorted((i["instance"], i["state"]) for i in report) == [
        ("web.1", "running"), ("web.2", "running"), ("worker.1", "running")]


def test_bad_requirements_fail_the_build_with_pips_reason(sandbox, pusher):
    app, _ = push_new(sandbox, pusher, "flask")
    (pusher.work / "requirements.txt").write_text("flask==3.1.*\nno-such-package-ponton-test==1.0\n")
    pusher.commit("a dependency that does not exist")
    result = pusher.push(app)
    assert result.returncode != 0
    assert "build failed at step" in result.stderr and "no-such-package-ponton-test" in result.stderr
    assert sandbox.get(sandbox.host(app)) == (200, b"flask says hello\n")


def test_a_version_pin_the_stack_lacks_names_the_version_it_has(sandbox, pusher):
    app = sandbox.new_app_name()
    pusher.checkout(APPS / "flask")
    (pusher.work / ".python-version").write_text("3.9\n")
    pusher.commit("pin an old python")
    result = pusher.push(app)
    assert result.returncode != 0
    assert ".python-version asks for Python 3.9, but this server's Python stack has 3.13" in result.stderr
    assert "versions available: 3.13" in result.stderr and ", 3.11.2 (change the pin" in result.stderr


def test_a_python_pin_of_bookworms_release_builds_on_the_bookworm_stack(sandbox, pusher):
    """Python 3.11 is Debian bookworm's: the first push that pins it builds that stack (debootstrap of bookworm,
    then its python3), later ones reuse it."""
    app = sandbox.new_app_name()
    pusher.checkout(APPS / "python-procfile")
    (pusher.work / ".python-version").write_text("3.11\n")
    (pusher.work / "web.py").write_text((pusher.work / "web.py").read_text().replace(
        'body = f"python without requirements says hello', 'import sys\n        body = f"{sys.version.split()[0]} says hello'))
    pusher.commit("pin python 3.11")
    result = pusher.push(app)
    assert result.returncode == 0, result.stderr
    assert ".python-version asks for Python 3.11: building on the Debian bookworm stack" in result.stderr
    assert "on ponton/stack-python:bookworm (Python 3.11." in result.stderr
    status, body = sandbox.get(sandbox.host(app))
    assert status == 200 and body.startswith(b"3.11."), body


def _cached(output: str, instruction: str) -> bool:
    """Whether the build output says the layer cache answered `instruction`."""
    lines = [line.split("remote:", 1)[-1].strip() for line in output.splitlines()]
    for i, line in enumerate(lines):
        if line.endswith(f": {instruction}"):
            return i + 1 < len(lines) and lines[i + 1] == "---> Using cache"
    return False


def _headers(sandbox, app: str, path: str) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.http_port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": sandbox.host(app)})
        response = connection.getresponse()
        response.read()
        return {"status": response.status, **dict(response.getheaders())}
    finally:
        connection.close()
