"""The nginx plugin: what it renders, and that nginx -t guards every change (with a fake nginx)."""

import dataclasses
import inspect
import subprocess
import sys
import time

import pytest

from plugins import nginx
from ponton.core.errors import ProxyError
from ponton.core.settings import Settings

# The hook's `proxy` argument (TLS, redirects, extra ports) came with HTTPS support: plain HTTP here.
if "proxy" in inspect.signature(nginx.proxy_update).parameters:
    from ponton.features.proxysettings import AppProxy
    PLAIN_HTTP = {"proxy": AppProxy()}
else:
    PLAIN_HTTP = {}

FAKE_NGINX = """#!/bin/sh
# Records each call; `-t` fails while REFUSE exists, `-s reload` while RELOAD_FAILS exists.
echo "$*" >> "{dir}/calls"
if [ "$1" = "-t" ]; then
    cat "{dir}"/conf/*.conf > "{dir}/checked" 2>/dev/null
    if [ -e "{dir}/REFUSE" ]; then
        echo 'nginx: [emerg] unknown directive "bogus" in {dir}/conf/app.conf:3' >&2
        echo 'nginx: configuration file test failed' >&2
        exit 1
    fi
fi
if [ "$1" = "-s" ] && [ -e "{dir}/RELOAD_FAILS" ]; then
    echo 'nginx: [error] kill(42, 1) failed' >&2
    exit 1
fi
if [ "$1" = "-s" ] && [ -e "{dir}/RETIRE_WORKERS" ]; then  # the old workers finish, as nginx's do
    master=$(cat "{dir}/nginx.pid")
    kill $(cat /proc/$master/task/$master/children)
fi
exit 0
"""


class Fake:
    def __init__(self, root, master_pid):
        self.root = root
        script = root / "nginx"
        script.write_text(FAKE_NGINX.format(dir=root))
        script.chmod(0o755)
        (root / "state").mkdir()
        (root / "nginx.pid").write_text(f"{master_pid}\n")
        fields = {f.name for f in dataclasses.fields(Settings)}
        extra = {"nginx_log_dir": root / "logs"} if "nginx_log_dir" in fields else {}
        self.settings = Settings(
            state_dir=root / "state", nginx_conf_dir=root / "conf", nginx_command=str(script),
            nginx_pid_file=root / "nginx.pid", http_port=8080, https_port=8443, drain_timeout=5, **extra,
        )
        self.conf = root / "conf" / "app.conf"

    def calls(self) -> list[str]:
        path = self.root / "calls"
        calls = path.read_text().splitlines() if path.exists() else []
        path.unlink(missing_ok=True)
        return calls

    def refuse(self, refused=True, what="REFUSE"):
        (self.root / what).touch() if refused else (self.root / what).unlink()

    def update(self, ports, domains=("app.ponton.test",), weights=None, host="127.0.0.1"):
        """Route to instances on these ports of `host` (loopback: as one server's are reached; the hook takes
        HOST:PORT)."""
        backends = [f"{host}:{port}" for port in ports]
        weights = {f"{host}:{port}": share for port, share in weights.items()} if weights else None
        nginx.proxy_update(settings=self.settings, app="app", domains=list(domains), backends=backends,
                           weights=weights, **PLAIN_HTTP)


@pytest.fixture
def master():
    """A stand-in for the nginx master: a process with no children (so no old workers to wait for)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process.pid
    process.kill()
    process.wait(timeout=10)


MASTER_WITH_WORKER = """
import subprocess, sys, time
worker = subprocess.Popen(["sleep", "120"])
print(worker.pid, flush=True)
worker.wait()  # reaped, as nginx's master reaps its workers
time.sleep(120)
"""


@pytest.fixture
def busy_master():
    """A stand-in nginx master with one old worker; yields (master pid, worker pid)."""
    process = subprocess.Popen([sys.executable, "-c", MASTER_WITH_WORKER], stdout=subprocess.PIPE, text=True)
    worker = int(process.stdout.readline())
    yield process.pid, worker
    subprocess.run(["kill", str(worker)], stderr=subprocess.DEVNULL)
    process.kill()
    process.wait(timeout=10)
    process.stdout.close()


@pytest.fixture
def fake(tmp_path, master):
    return Fake(tmp_path, master)


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_idle_connections_are_kept_to_this_servers_instances_only(fake):
    fake.update([20001])
    assert "keepalive 32;" in lines(fake.conf.read_text())
    fake.update([20001, 20002], host="10.0.0.2")  # on another node: one that is lost closes nothing
    text = lines(fake.conf.read_text())
    assert "server 10.0.0.2:20001;" in text and not any(line.startswith("keepalive") for line in text)


def test_vhost_upstream_and_server(fake):
    fake.update([20001, 20002], domains=["app.ponton.test", "example.com"])
    text = lines(fake.conf.read_text())
    upstream = text[text.index("upstream ponton_app {") + 1:text.index("keepalive 32;")]
    assert upstream[1:] == ["server 127.0.0.1:20001;", "server 127.0.0.1:20002;"]
    assert upstream[0].startswith("zone ponton_app 64k;")  # one failure counts for every worker
    assert "listen 8080;" in text
    assert "server_name app.ponton.test example.com;" in text
    assert "proxy_pass http://ponton_app;" in text
    # Only a request that never reached an instance goes to another one: never one its instance died serving.
    assert "proxy_next_upstream off;" in text and not any("next_upstream error" in line for line in text)
    assert "error_page 502 504 = @ponton-retry;" in text
    retry = text[text.index("location @ponton-retry {"):]
    assert retry[1:4] == ["if ($upstream_bytes_sent != 0) {", "return 502;", "}"]
    assert "proxy_pass http://ponton_app;" in retry
    assert not any("return 503" in line for line in text)


def test_vhost_weights_for_a_canary(fake):
    fake.update([20001, 20002, 20003], weights={20003: 20, 20001: 80})
    assert [line for line in lines(fake.conf.read_text()) if line.startswith("server 127.")] == [
        "server 127.0.0.1:20001 weight=80;", "server 127.0.0.1:20002;", "server 127.0.0.1:20003 weight=20;"]


def test_vhost_without_backends_answers_503(fake):
    fake.update([])
    text = lines(fake.conf.read_text())
    assert not any(line.startswith(("upstream", "proxy_pass")) for line in text)
    assert 'return 503 "app app has no running web instances\\n";' in text
    assert "server_name app.ponton.test;" in text


def test_shared_config_is_default_server(fake):
    fake.update([20001])
    text = lines((fake.root / "conf" / nginx.SHARED_FILE).read_text())
    assert "listen 8080 default_server;" in text
    assert 'return 404 "no app is served at this address\\n";' in text


def test_first_update_writes_checks_and_reloads(fake):
    fake.update([20001])
    assert fake.calls() == ["-t", "-s reload", "-t", "-s reload"]  # the shared file, then the app's
    assert "listen 8080 default_server;" in lines((fake.root / "conf" / nginx.SHARED_FILE).read_text())
    assert "server 127.0.0.1:20001;" in lines(fake.conf.read_text())
    assert "server 127.0.0.1:20001;" in lines((fake.root / "checked").read_text())  # nginx -t saw the new file
    assert sorted(p.name for p in (fake.root / "conf").iterdir()) == [nginx.SHARED_FILE, "app.conf"]


def test_unchanged_update_touches_nothing(fake):
    fake.update([20001])
    fake.calls()
    fake.update([20001])
    assert fake.calls() == []


def test_refused_config_keeps_previous_file(fake):
    fake.update([20001])
    before = fake.conf.read_text()
    fake.calls()
    fake.refuse()
    with pytest.raises(ProxyError) as e:
        fake.update([20002])
    assert str(e.value) == ('nginx refused the new config for app.conf: nginx: [emerg] unknown directive "bogus" '
                            f'in {fake.root}/conf/app.conf:3')
    assert fake.conf.read_text() == before
    assert fake.calls() == ["-t"]  # never reloaded
    assert sorted(p.name for p in (fake.root / "conf").iterdir()) == [nginx.SHARED_FILE, "app.conf"]  # no temp file


def test_refused_first_config_leaves_no_file(fake):
    fake.refuse()
    with pytest.raises(ProxyError, match="^nginx refused the new config for 000-ponton.conf"):
        fake.update([20001])
    assert list((fake.root / "conf").iterdir()) == []


def test_nginx_missing_keeps_previous_file(fake):
    fake.update([20001])
    before = fake.conf.read_text()
    fake.settings = dataclasses.replace(fake.settings, nginx_command=str(fake.root / "no-such-nginx"))
    with pytest.raises(ProxyError, match="^nginx not found"):
        fake.update([20002])
    assert fake.conf.read_text() == before


def test_nginx_not_executable_keeps_previous_file(fake):
    fake.update([20001])
    before = fake.conf.read_text()
    (fake.root / "nginx").chmod(0o644)
    with pytest.raises(ProxyError, match="^cannot run nginx"):
        fake.update([20002])
    assert fake.conf.read_text() == before


def test_reload_failure_is_a_proxy_error(fake):
    fake.refuse(what="RELOAD_FAILS")
    with pytest.raises(ProxyError, match=r"^nginx reload failed: nginx: \[error\] kill\(42, 1\) failed$"):
        fake.update([20001])


def test_nginx_not_running(fake):
    (fake.root / "nginx.pid").unlink()
    with pytest.raises(ProxyError, match="^nginx is not running"):
        fake.update([20001])


def test_remove_deletes_and_reloads(fake):
    fake.update([20001])
    fake.calls()
    nginx.proxy_remove(settings=fake.settings, app="app")
    assert not fake.conf.exists()
    assert fake.calls() == ["-t", "-s reload"]
    nginx.proxy_remove(settings=fake.settings, app="app")  # already gone: nothing to do
    assert fake.calls() == []


def test_refused_remove_puts_the_file_back(fake):
    fake.update([20001])
    before = fake.conf.read_text()
    fake.refuse()
    with pytest.raises(ProxyError):
        nginx.proxy_remove(settings=fake.settings, app="app")
    assert fake.conf.read_text() == before


def test_update_waits_for_old_workers_to_finish(tmp_path, busy_master):
    master, worker = busy_master
    fake = Fake(tmp_path, master)
    fake.refuse(what="RETIRE_WORKERS")
    start = time.monotonic()
    fake.update([20001])
    assert time.monotonic() - start < fake.settings.drain_timeout  # returned when the worker left, not at timeout
    assert nginx._children(master) == set()


def test_update_waits_at_most_drain_timeout(tmp_path, busy_master):
    master, worker = busy_master
    fake = Fake(tmp_path, master)
    fake.settings = dataclasses.replace(fake.settings, drain_timeout=0.3)
    start = time.monotonic()
    fake.update([20001])
    assert time.monotonic() - start >= 0.3
    assert nginx._children(master) == {worker}  # still draining: ponton gave up waiting, nginx did not


LINGERING_WORKER = """
import subprocess, sys, time
# As nginx retitles a worker of an earlier config that still serves open connections (a websocket, tcp).
worker = subprocess.Popen(["sh", "-c", "sleep 120", "nginx: worker process is shutting down"])
print(worker.pid, flush=True)
worker.wait()
time.sleep(120)
"""


def test_update_does_not_wait_for_workers_of_an_earlier_config(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", LINGERING_WORKER], stdout=subprocess.PIPE, text=True)
    worker = int(process.stdout.readline())
    try:
        fake = Fake(tmp_path, process.pid)
        start = time.monotonic()
        fake.update([20001])
        assert time.monotonic() - start < fake.settings.drain_timeout
        assert nginx._children(process.pid) == {worker}  # it serves its connections on
    finally:
        subprocess.run(["kill", str(worker)], stderr=subprocess.DEVNULL)
        process.kill()
        process.wait(timeout=10)
        process.stdout.close()


def upstream_names(text: str) -> list[str]:
    return [line.split()[1] for line in lines(text) if line.startswith("upstream ")]


def test_upstream_names_of_different_apps_never_collide():
    """App names contain dashes, so a name built with dashes collides: app `a` with port 8080 and an app named
    `a-8080` (nginx then refuses the second app's config: one tenant blocks another's deploys)."""
    from plugins.nginx.vhosts import render_stream, render_vhost
    from ponton.features.proxysettings import AppProxy, PortRoute

    settings = Settings(http_port=8080, https_port=8443)
    apps = {  # app -> its extra ports (scheme, host port)
        "a": [("http", 8080), ("grpc", 9090), ("tcp", 7000), ("udp", 7000)],
        "a-8080": [],
        "a-9090": [("tcp", 1)],
        "a-tcp-7000": [("http", 8081)],
        "a-udp-7000": [],
        "a-tcp": [("tcp", 7000)],
    }
    http, stream = [], []
    for app, ports in apps.items():
        routes = tuple(PortRoute(scheme, port, 5000, backends=("127.0.0.1:20001",)) for scheme, port in ports)
        http += upstream_names(render_vhost(settings, app, [f"{app}.ponton.test"], ["127.0.0.1:20001"], None,
                                            AppProxy(ports=routes)))
        stream += upstream_names(render_stream(app, AppProxy(ports=routes)) or "")
    assert len(http) == len(apps) + 3 and len(stream) == 4  # one per app and per extra port
    assert len(set(http)) == len(http), http
    assert len(set(stream)) == len(stream), stream
    assert len(set(http + stream)) == len(http + stream)  # not even across nginx's http{} and stream{}
