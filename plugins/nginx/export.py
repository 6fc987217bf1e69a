"""This server's routes as another node's nginx serves them (a cluster's other ingress nodes: runtime/ingress.py
hands them over). The same files, with what points into this server's disk changed: each certificate and key
travels with them, the ACME challenges (files this server writes) are passed on to it, and nothing is logged
(metrics and `logs --proxy` count the requests this server's nginx serves)."""

import hashlib
import re
from pathlib import Path

ROOT = "/etc/ponton-ingress/current"  # where the other node's nginx finds these files (runtime/registry/)
CERTIFICATE = re.compile(r"^(\s*ssl_certificate(?:_key)?) (\S+);", re.M)
ACCESS_LOG = re.compile(r"^(\s*)access_log \S+ ponton_json;", re.M)
ACME_ALIAS = re.compile(r"^(\s*)alias \S+;", re.M)  # the ACME location is the only one that serves files


def files(conf_dir: Path, stream_dir: Path, skip: set[str], origin: str) -> dict[str, bytes]:
    """{PATH: BYTES} under ROOT: http/*.conf, stream/*.conf and certs/, from this server's `conf_dir` and
    `stream_dir` (`skip`: files of conf_dir that serve this server only)."""
    found: dict[str, bytes] = {}

    def certificate(match: re.Match) -> str:
        name = f"certs/{hashlib.sha256(match[2].encode()).hexdigest()[:16]}.pem"
        found[name] = Path(match[2]).read_bytes()
        return f"{match[1]} {ROOT}/{name};"

    for folder, directory in (("http", conf_dir), ("stream", stream_dir)):
        for path in sorted(directory.glob("*.conf")):
            if directory == conf_dir and path.name in skip:
                continue
            text = CERTIFICATE.sub(certificate, path.read_text())
            text = ACCESS_LOG.sub(r"\1access_log off;", text)
            text = ACME_ALIAS.sub(rf"\1proxy_pass http://{origin};", text)
            found[f"{folder}/{path.name}"] = text.encode()
    return found
