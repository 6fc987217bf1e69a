"""The set of routes a cluster's other ingress nodes get (runtime/ingress.py): named by what it holds."""

import io
import os
import tarfile

import pytest

from ponton.core.errors import ProxyError
from runtime import ingress


def test_the_same_files_make_the_same_bundle_whatever_the_time(monkeypatch):
    files = {"http/shop.conf": b"server {}\n", "certs/ab.pem": b"KEY\n"}
    first = ingress._bundle(files)
    monkeypatch.setattr("time.time", lambda: 2_000_000_000.0)
    assert ingress._bundle(dict(reversed(files.items()))) == first
    assert ingress._bundle({**files, "http/shop.conf": b"server { }\n"}) != first
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        assert {m.name: tar.extractfile(m).read() for m in tar.getmembers()} == files
        assert all(m.mode == 0o600 for m in tar.getmembers())


def test_a_set_larger_than_a_swarm_secret_is_refused():
    with pytest.raises(ProxyError, match="more than the 500 KiB a Swarm secret holds"):
        ingress._bundle({"http/big.conf": os.urandom(600 * 1024)})
