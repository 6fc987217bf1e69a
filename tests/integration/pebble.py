"""A real ACME server on loopback for tests: Debian's pebble, with pebble-challtestsrv as its DNS server
answering 127.0.0.1 for every name, so HTTP-01 validation reaches the sandbox's nginx."""

import json
import os
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from ponton.testing import CertificateAuthority, free_port


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pebble:
    def __init__(self, root: Path, http_port: int):
        """Validate HTTP-01 challenges on `http_port` (the sandbox nginx's)."""
        root.mkdir(parents=True)
        self.root = root
        ca = CertificateAuthority(root / "listener-ca")
        cert, key = ca.issue("127.0.0.1", "localhost")
        self.listener_ca = ca.cafile  # what pebble's own HTTPS endpoints are signed by
        self.port, self.management_port = free_port(), free_port()
        dns_port = free_udp_port()
        config = {"pebble": {
            "listenAddress": f"127.0.0.1:{self.port}", "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": str(cert), "privateKey": str(key), "httpPort": http_port, "tlsPort": free_port(),
            "ocspResponderURL": "", "externalAccountBindingRequired": False,
        }}
        (root / "pebble.json").write_text(json.dumps(config))
        quiet = {"stdout": open(root / "log", "ab"), "stderr": subprocess.STDOUT}
        self.processes = [
            subprocess.Popen(["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
                              "-dns01", f"127.0.0.1:{dns_port}", "-http01", "", "-https01", "", "-tlsalpn01", "",
                              "-management", f"127.0.0.1:{free_port()}"], **quiet),
            subprocess.Popen(["pebble", "-config", str(root / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns_port}"],
                             env={**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}, **quiet),
        ]
        quiet["stdout"].close()
        self._wait_listening(self.port)
        self._wait_listening(self.management_port)

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def root_ca(self) -> Path:
        """The root that signs the certificates pebble issues (new at every start), from its management API."""
        context = ssl.create_default_context(cafile=str(self.listener_ca))
        with urllib.request.urlopen(f"https://127.0.0.1:{self.management_port}/roots/0", context=context,
                                    timeout=10) as response:
            path = self.root / "issuer-root.pem"
            path.write_bytes(response.read())
        return path

    def _wait_listening(self, port: int, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"pebble did not listen on {port}: {(self.root / 'log').read_text()[-2000:]}")

    def close(self):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=10)
