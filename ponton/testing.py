"""Test helpers shipped with ponton (its own tests and benchmarks use them): a private nginx on a free
loopback port, an isolated ponton (own state dir, own nginx) driven through its real CLI, and a bounded load
loop on 127.0.0.1."""

import datetime
import getpass
import http.client
import io
import ipaddress
import json
import os
import random
import secrets
import socket
import ssl
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

NGINX_CONF = """\
daemon on;
user root;  # its workers serve files from the test's private temporary directory (ACME challenges)
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
worker_processes 2;
load_module {stream_module};  # tcp and udp ports (ports:add); Debian's libnginx-mod-stream
events {{ worker_connections 4096; }}
stream {{
    include {dir}/conf.d/stream/*.conf;
}}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    include {dir}/conf.d/*.conf;
}}
"""

STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"

SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {dir}/host_key
PidFile {dir}/sshd.pid
AuthorizedKeysFile {dir}/authorized_keys
PermitRootLogin forced-commands-only
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel ERROR
# The sandbox logs in as root, whose ~/.bashrc (pyenv on CI machines) bash runs for an sshd command unless
# SHLVL says it is nested: its noise on stderr is not ponton's output.
SetEnv SHLVL=1
"""


# Ports a test listens on come from below the kernel's ephemeral range (32768-60999 on Linux) and below ponton's
# default port_range (20000-29999): a port the kernel hands out for bind(0) can be taken as the source port of any
# outgoing connection before the test's server binds it ("address already in use"); these never are.
TEST_PORTS = range(10000, 20000)
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on now and this process has not handed out before."""
    for port in random.sample(TEST_PORTS, len(TEST_PORTS)):
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise OSError(f"no free port in {TEST_PORTS.start}-{TEST_PORTS.stop - 1}")


class LoopbackHTTPS(http.client.HTTPSConnection):
    """HTTPS to a name (SNI, certificate check, Host header) at 127.0.0.1: test traffic never leaves the machine."""

    def connect(self):
        raw = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        try:
            self.sock = self._context.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


def get(port: int, host: str, path: str = "/", address: str = "127.0.0.1") -> tuple[int, bytes]:
    """GET from 127.0.0.1:`port` (or a test node's `address`) with a Host header: (status, body)."""
    connection = http.client.HTTPConnection(address, port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host, "Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def get_tls(port: int, host: str, path: str = "/", cafile: str | None = None,
            headers: dict | None = None) -> tuple[int, bytes, dict]:
    """GET over HTTPS from 127.0.0.1:`port`, with `host` as SNI and Host header, the certificate verified
    against `cafile`: (status, body, headers)."""
    context = ssl.create_default_context(cafile=cafile)
    connection = LoopbackHTTPS(host, port, context=context, timeout=10)
    try:
        connection.request("GET", path, headers={"Connection": "close", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


class Sandbox:
    """An isolated ponton: its own state dir and its own nginx; `run` calls the real `ponton` CLI."""

    def __init__(self, root: Path, domain: str = "ponton.test", **settings):
        self.root = root
        self.http_port = free_port()
        self.https_port = free_port()
        self.metrics_port = free_port()  # a watchdog started for this sandbox serves Prometheus metrics here
        self.web_port = free_port()  # `ponton web`, once start_web() runs it
        self.domain = domain
        nginx_dir = root / "nginx"
        (nginx_dir / "conf.d" / "stream").mkdir(parents=True)
        (nginx_dir / "tmp").mkdir()
        (nginx_dir / "nginx.conf").write_text(NGINX_CONF.format(dir=nginx_dir, stream_module=STREAM_MODULE))
        self.nginx_command = f"nginx -c {nginx_dir}/nginx.conf -p {nginx_dir}"
        config = {
            "state_dir": str(root / "state"),
            "domain": domain,
            "http_port": self.http_port,
            "https_port": self.https_port,
            "metrics_port": self.metrics_port,
            "web_port": self.web_port,
            "nginx_conf_dir": str(nginx_dir / "conf.d"),
            "nginx_command": self.nginx_command,
            "nginx_pid_file": str(nginx_dir / "nginx.pid"),
            "nginx_log_dir": str(nginx_dir / "logs"),
            "authorized_keys_file": str(root / "ssh" / "authorized_keys"),
            **settings,
        }
        # A settings file, not environment variables: SSH forced commands get no environment but this path.
        (root / "ponton.yml").write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in config.items()))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PONTON_")}
        self.env["PONTON_CONFIG"] = str(root / "ponton.yml")
        self.conf_dir = nginx_dir / "conf.d"
        subprocess.run(self.nginx_command.split(), check=True)
        self.sshd_port: int | None = None
        self.web: subprocess.Popen | None = None

    def new_app_name(self) -> str:
        return f"t{secrets.token_hex(4)}"

    def run(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "ponton", *args], env=self.env, capture_output=True, text=True, input=input,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"ponton {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
        return result

    def push_dockerfile(self, app: str, dockerfile: str):
        """Build and deploy an app of one Dockerfile, as a push does (`git:from-archive`, the tar on stdin)."""
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(dockerfile.encode())
            tar.addfile(info, io.BytesIO(dockerfile.encode()))
        pushed = subprocess.run([sys.executable, "-m", "ponton", "git:from-archive", app], input=archive.getvalue(),
                                env=self.env, capture_output=True, timeout=600)
        if pushed.returncode != 0:
            raise AssertionError(f"ponton git:from-archive {app}: {pushed.stdout.decode()}{pushed.stderr.decode()}")

    def certs_add(self, app: str, cert: Path, key: Path, check: bool = True) -> subprocess.CompletedProcess:
        """`certs:add APP` with the certificate and key files on stdin, the way it takes them."""
        return self.run("certs:add", app, input=cert.read_text() + key.read_text(), check=check)

    def get(self, host: str, path: str = "/", port: int | None = None) -> tuple[int, bytes]:
        """GET through this sandbox's nginx (or a given loopback port) with a Host header."""
        return get(port or self.http_port, host, path)

    def get_tls(self, host: str, path: str = "/", cafile: str | None = None, port: int | None = None,
                headers: dict | None = None) -> tuple[int, bytes, dict]:
        """GET over HTTPS through this sandbox's nginx on 127.0.0.1: see get_tls."""
        return get_tls(port or self.https_port, host, path, cafile, headers)

    def host(self, app: str) -> str:
        return f"{app}.{self.domain}"

    @property
    def web_host(self) -> str:
        return f"ponton.{self.domain}"

    def start_web(self, timeout: float = 60):
        """Run `ponton web` for this sandbox (its log in web.log) and return once it answers on its port."""
        with open(self.root / "web.log", "a") as log:
            self.web = subprocess.Popen([sys.executable, "-m", "ponton", "web"], env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if get(self.web_port, self.web_host, "/api/v1/openapi.json")[0] == 200:
                    return
            except OSError:
                pass
            if self.web.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"ponton web did not start:\n{(self.root / 'web.log').read_text()}")
            time.sleep(0.1)

    def close(self):
        """Destroy every app of this sandbox and stop its nginx (and its web service)."""
        if self.web is not None and self.web.poll() is None:
            self.web.terminate()
            self.web.wait(timeout=30)
        listing = self.run("apps:list", "--format", "json", check=False)
        if listing.returncode == 0:
            for app in json.loads(listing.stdout):
                self.run("apps:destroy", app, "--force", check=False)
        subprocess.run([*self.nginx_command.split(), "-s", "quit"], check=False, capture_output=True)
        if self.sshd_port:
            pid = (self.root / "ssh" / "sshd.pid").read_text().strip()
            subprocess.run(["kill", pid], check=False)

    def start_sshd(self) -> int:
        """A real sshd on a free loopback port reading this sandbox's authorized_keys, for real pushes."""
        ssh_dir = self.root / "ssh"
        ssh_dir.mkdir(exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ssh_dir / "host_key"], check=True)
        self.sshd_port = free_port()
        (ssh_dir / "sshd_config").write_text(SSHD_CONFIG.format(dir=ssh_dir, port=self.sshd_port))
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
        subprocess.run(["/usr/sbin/sshd", "-f", ssh_dir / "sshd_config"], check=True)
        return self.sshd_port

    def new_key(self, name: str) -> Path:
        """A fresh client key pair; returns the private key's path (the public key is next to it, .pub)."""
        path = self.root / "ssh" / f"client-{name}"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path], check=True)
        return path

    def ssh_env(self, key: Path) -> dict:
        """Environment for `git` and `ssh` as the holder of `key`, talking to this sandbox's sshd."""
        command = (f"ssh -i {key} -p {self.sshd_port} -o IdentitiesOnly=yes -o BatchMode=yes "
                   "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")
        return {**self.env, "GIT_SSH_COMMAND": command, "SSH_COMMAND": command}

    def remote(self, app: str) -> str:
        return f"ssh://{getpass.getuser()}@127.0.0.1:{self.sshd_port}/{app}"


@dataclass
class LoadResult:
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    failed_at: list[float] = field(default_factory=list)  # monotonic time each failed request started
    longest: float = 0.0  # seconds: the slowest request, the longest pause any client saw
    bodies: dict[bytes, int] = field(default_factory=dict)
    sequences: list[list[tuple[float, bytes]]] = field(default_factory=list)  # per client, in order: (monotonic
    # time the request started, first word of the body)


class Load:
    """A bounded load loop: `clients` threads GET `host` through nginx on 127.0.0.1 (or `address`) until stopped, or
    until `max_seconds` or `max_requests` run out. Each request uses a new connection."""

    def __init__(self, port: int, host: str, clients: int = 4, max_seconds: float = 300, max_requests: int = 500_000,
                 tls=None, address: str = "127.0.0.1"):
        """`tls`: an ssl.SSLContext to send HTTPS (SNI `host`) instead of HTTP. `address` (HTTP only): a test node's,
        on a network the test made."""
        self.port, self.host, self.clients, self.tls, self.address = port, host, clients, tls, address
        self.deadline = time.monotonic() + max_seconds
        self.max_requests = max_requests
        self.result = LoadResult()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.result.sequences = [[] for _ in range(clients)]
        self._threads = [threading.Thread(target=self._loop, args=(n,), daemon=True) for n in range(clients)]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _loop(self, client: int):
        while not self._stop.is_set() and time.monotonic() < self.deadline:
            started = time.monotonic()
            try:
                if self.tls:
                    connection = LoopbackHTTPS(self.host, self.port, context=self.tls, timeout=30)
                else:
                    connection = http.client.HTTPConnection(self.address, self.port, timeout=30)
                connection.request("GET", "/", headers={"Host": self.host, "Connection": "close"})
                response = connection.getresponse()
                body = response.read()
                connection.close()
                outcome = None if response.status == 200 else f"HTTP {response.status}: {body[:200]!r}"
            except (OSError, http.client.HTTPException) as e:
                body, outcome = b"", f"{type(e).__name__}: {e}"
            elapsed = time.monotonic() - started
            with self._lock:
                result = self.result
                result.longest = max(result.longest, elapsed)
                if outcome:
                    result.failures.append(outcome)
                    result.failed_at.append(started)
                else:
                    result.ok += 1
                    result.bodies[body] = result.bodies.get(body, 0) + 1
                    result.sequences[client].append((started, body.split(b" ", 1)[0]))
                if result.ok + len(result.failures) >= self.max_requests:
                    self._stop.set()


class CertificateAuthority:
    """A throwaway certificate authority for tests: issues leaf certificates for given names and validity."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "ponton test CA")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.cafile = root / "ca.pem"
        self.cafile.write_bytes(self._pem(self.cert))

    def issue(self, name: str, *names: str, days: float = 30, starts_in_days: float = -1,
              key=None) -> tuple[Path, Path]:
        """Files (cert, key) for `name` and `names`, valid from now+`starts_in_days` to now+`days` (negative:
        expired); `key` reuses another certificate's key."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        start = now + datetime.timedelta(days=starts_in_days)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)]))
            .issuer_name(self.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in (name, *names)]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        stem = f"{name.replace('*', '_')}-{secrets.token_hex(3)}"
        cert_path, key_path = self.root / f"{stem}.crt", self.root / f"{stem}.key"
        cert_path.write_bytes(self._pem(cert))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_path, key_path

    @staticmethod
    def _pem(cert) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)


def _general_name(name: str):
    """A subjectAltName entry: an IP address (127.0.0.1) or a DNS name."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)
