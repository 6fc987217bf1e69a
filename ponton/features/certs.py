"""TLS certificates of apps: checked before they are installed, stored as files that only their owner reads.

Each app's certificate lives in STATE_DIR/tls/APP/ as `server.crt` (the chain, leaf first) and `server.key`;
the directory is 0700 and the key 0600, so only root (nginx's master reads them) and the owner of the state
directory can read them. The same check guards a custom certificate (certs:add) and one Let's Encrypt issued.
"""

import datetime
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ponton.core import archive
from ponton.core.errors import InvalidInput
from ponton.core.files import write_atomically

CERT_FILE, KEY_FILE = "server.crt", "server.key"
MAX_INPUT = 1 << 20  # a certificate chain and its key are a few kB: refuse anything that is not one
MAX_MEMBERS = 16  # a tarball of server.crt and server.key, and maybe a directory or a chain beside them
PEM_BLOCK = re.compile(rb"(-----BEGIN ([A-Z0-9 ]+)-----\r?\n[^-]*-----END \2-----\r?\n?)")


@dataclass(frozen=True)
class Certificate:
    subject: str
    names: tuple[str, ...]  # DNS names it covers (subjectAltName, else the common name)
    issuer: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    fingerprint: str  # SHA-256 of the leaf, hex

    def covers(self, domain: str) -> bool:
        return any(_matches(name, domain) for name in self.names)

    def days_left(self, now: datetime.datetime | None = None) -> float:
        now = now or datetime.datetime.now(datetime.timezone.utc)
        return (self.not_after - now).total_seconds() / 86400

    def summary(self) -> dict:
        return {
            "subject": self.subject, "names": list(self.names), "issuer": self.issuer,
            "not_before": self.not_before.isoformat(), "not_after": self.not_after.isoformat(),
            "fingerprint": self.fingerprint,
        }


def _matches(name: str, domain: str) -> bool:
    """RFC 6125: a wildcard stands for exactly one leftmost label."""
    name, domain = name.lower().rstrip("."), domain.lower()
    if name.startswith("*."):
        head, _, rest = domain.partition(".")
        return bool(head) and rest == name[2:]
    return name == domain


def parse(cert_pem: bytes) -> Certificate:
    """The leaf (first) certificate of a PEM chain."""
    # imported here: cryptography is slow to import, and most commands that load this module (ports, proxy,
    # routing) never parse a certificate
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes  # imported here: see above

    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise InvalidInput("the certificate is not a PEM certificate (-----BEGIN CERTIFICATE-----)") from None
    leaf = chain[0]
    try:
        names = tuple(leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                      .get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = tuple(a.value for a in leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME))
    return Certificate(
        subject=leaf.subject.rfc4514_string(), names=names, issuer=leaf.issuer.rfc4514_string(),
        not_before=leaf.not_valid_before_utc, not_after=leaf.not_valid_after_utc,
        fingerprint=leaf.fingerprint(hashes.SHA256()).hex(),
    )


def check(cert_pem: bytes, key_pem: bytes, domains: list[str], now: datetime.datetime | None = None) -> Certificate:
    """Refuse a certificate nginx must not serve for these domains: a key that is not its own, a certificate
    that is expired or not yet valid, or one that covers none of the domains."""
    from cryptography import x509  # imported here: see parse()
    from cryptography.hazmat.primitives import serialization  # imported here: see parse()

    certificate = parse(cert_pem)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise InvalidInput("the key is not an unencrypted PEM private key (-----BEGIN ... PRIVATE KEY-----)") from None
    leaf = x509.load_pem_x509_certificates(cert_pem)[0]
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*raw) != leaf.public_key().public_bytes(*raw):
        raise InvalidInput("the key does not match the certificate (it is the key of another certificate)")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if certificate.not_after <= now:
        raise InvalidInput(f"the certificate expired on {certificate.not_after:%Y-%m-%d %H:%M} UTC")
    if certificate.not_before > now:
        raise InvalidInput(f"the certificate is not valid before {certificate.not_before:%Y-%m-%d %H:%M} UTC")
    if not any(certificate.covers(d) for d in domains):
        raise InvalidInput(f"the certificate covers {', '.join(certificate.names) or 'no DNS name'}, "
                           f"none of the app's domains ({', '.join(domains)})")
    return certificate


def from_stdin(data: bytes) -> tuple[bytes, bytes]:
    """(certificate chain, key) from what certs:add read on stdin: a tarball holding server.crt and server.key
    (Dokku's format; *.crt/*.pem and *.key are accepted too), or PEM text with the chain (leaf first) and the key,
    e.g. `cat server.crt server.key`. Paths are never taken: a tenant's path could name any file of the server."""
    if len(data) > MAX_INPUT:
        raise InvalidInput(f"stdin holds more than {MAX_INPUT >> 10} KiB: that is not a certificate and a key")
    if data.lstrip().startswith(b"-----BEGIN "):
        return _from_pem(data)
    with archive.opened(data, "stdin", max_bytes=MAX_INPUT, max_members=MAX_MEMBERS,
                        not_tar="stdin is neither PEM text (certificate then key) nor a tar of server.crt and "
                                "server.key") as tar:
        files = {Path(m.name).name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    certs = [n for n in sorted(files) if n.endswith((".crt", ".pem")) and not n.endswith(".key")]
    keys = [n for n in sorted(files) if n.endswith(".key")]
    if len(certs) != 1 or len(keys) != 1:
        raise InvalidInput(f"the tarball must hold one .crt and one .key file, it holds: {', '.join(files) or 'none'}")
    return files[certs[0]], files[keys[0]]


def _from_pem(data: bytes) -> tuple[bytes, bytes]:
    blocks = PEM_BLOCK.findall(data)
    chain = b"".join(block for block, kind in blocks if kind == b"CERTIFICATE")
    keys = [block for block, kind in blocks if kind.endswith(b"PRIVATE KEY")]
    if not chain or len(keys) != 1:
        raise InvalidInput(f"stdin holds {len(blocks) - len(keys)} certificate and {len(keys)} private key PEM "
                           "blocks: give the chain (leaf first) and exactly one key")
    return chain, keys[0]


def directory(state_dir: Path, app: str) -> Path:
    return state_dir / "tls" / app


def installed(state_dir: Path, app: str) -> Certificate | None:
    path = directory(state_dir, app) / CERT_FILE
    return parse(path.read_bytes()) if path.exists() else None


def read(state_dir: Path, app: str) -> tuple[bytes, bytes] | None:
    """The installed (certificate, key), to put back if what replaced them was refused."""
    where = directory(state_dir, app)
    if not (where / CERT_FILE).exists():
        return None
    return (where / CERT_FILE).read_bytes(), (where / KEY_FILE).read_bytes()


def store(state_dir: Path, app: str, pair: tuple[bytes, bytes] | None):
    """Install (certificate, key) for `app`, or remove them (None). Each file is replaced atomically, the key
    written 0600 from its first byte."""
    where = directory(state_dir, app)
    if pair is None:
        shutil.rmtree(where, ignore_errors=True)
        return
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    where.parent.chmod(0o711)  # nginx's master (root) reaches it; nobody lists which apps have certificates
    where.chmod(0o700)
    for name, data in ((KEY_FILE, pair[1]), (CERT_FILE, pair[0])):
        write_private(where / name, data)


def write_private(path: Path, data: bytes):
    """Replace `path` atomically with a file only its owner reads, 0600 from its first byte."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomically(path, data, 0o600)
