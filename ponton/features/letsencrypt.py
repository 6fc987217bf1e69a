"""Let's Encrypt (or any ACME server) over HTTP-01, with the `acme` library certbot is built on.

Challenges are answered by nginx: every HTTP server block serves STATE_DIR/acme-challenge/ at
/.well-known/acme-challenge/, so issuing touches no routing and interrupts no traffic. A certificate is
installed only once issued and checked (certs.check), so a failed issuance or renewal keeps the old one.
The watchdog renews RENEW_DAYS before expiry; failures are retried with exponential backoff and recorded
(letsencrypt:list, ponton report).
"""

import datetime
import hashlib
import json
import time
from pathlib import Path

from ponton.core.errors import InvalidInput, PontonError
from ponton.core.state import LetsEncrypt
from ponton.features import certs

SERVERS = {  # short names for letsencrypt:set --global server
    "production": "https://acme-v02.api.letsencrypt.org/directory",
    "staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}
RENEW_DAYS = 30
FIRST_RETRY, MAX_RETRY = 300, 86400  # seconds: backoff after a failed issuance, doubling each time
ISSUE_TIMEOUT = 120  # seconds for the ACME server to validate and issue
GLOBAL_KEYS = {"email": "letsencrypt_email", "server": "letsencrypt_server"}  # in the state's settings table


class AcmeError(PontonError):
    """The ACME server refused or failed to issue; the installed certificate (if any) stays."""


def global_settings(state) -> dict[str, str]:
    return {"email": state.setting(GLOBAL_KEYS["email"], ""),
            "server": state.setting(GLOBAL_KEYS["server"], SERVERS["production"])}


def check_global(key: str, value: str) -> str:
    if key not in GLOBAL_KEYS:
        raise InvalidInput(f"unknown Let's Encrypt setting {key!r}: use email or server")
    if key == "server":
        value = SERVERS.get(value, value)
        if not value.startswith(("https://", "http://")):
            raise InvalidInput(f"server must be a directory URL, production or staging, got {value!r}")
    elif "@" not in value or any(c.isspace() for c in value):
        raise InvalidInput(f"not an email address: {value!r}")
    return value


def due(issuance: LetsEncrypt, certificate: certs.Certificate | None, now: float | None = None) -> bool:
    """Whether the watchdog should (re)issue now: no certificate yet or within RENEW_DAYS of expiry, and not
    backing off after a failure."""
    now = time.time() if now is None else now
    if now < issuance.retry_after:
        return False
    return certificate is None or certificate.days_left() < RENEW_DAYS


def backoff(failures: int) -> float:
    return min(FIRST_RETRY * 2 ** (failures - 1), MAX_RETRY)


def issue(settings, server: str, email: str, domains: list[str]) -> tuple[bytes, bytes]:
    """Order a certificate for `domains` and answer its HTTP-01 challenges: (fullchain PEM, key PEM)."""
    # imported here: acme and cryptography are slow to import, and the watchdog and the letsencrypt:* commands
    # load this module without issuing anything
    from acme import challenges, crypto_util, errors, messages
    from cryptography.hazmat.primitives import serialization  # imported here: see above
    from cryptography.hazmat.primitives.asymmetric import ec  # imported here: see above

    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    tokens: list[Path] = []
    try:
        acme = _client(settings.state_dir, server, email)
        order = acme.new_order(crypto_util.make_csr(key_pem, domains))
        for authorization in order.authorizations:
            if authorization.body.status == messages.STATUS_VALID:
                continue  # validated recently for this account: the server reuses it (a renewal right after)
            challenge = next((c for c in authorization.body.challenges if isinstance(c.chall, challenges.HTTP01)),
                             None)
            if challenge is None:
                raise AcmeError(f"the ACME server offers no HTTP-01 challenge for {authorization.body.identifier.value}")
            response, validation = challenge.response_and_validation(acme.net.key)
            tokens.append(_publish(settings.acme_dir, challenge.chall.encode("token"), validation))
            acme.answer_challenge(challenge, response)
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=ISSUE_TIMEOUT)
        order = acme.poll_and_finalize(order, deadline=deadline)
    except errors.ValidationError as e:
        raise AcmeError(f"validation failed: {_validation_errors(e)}") from None
    except (errors.Error, messages.Error) as e:
        raise AcmeError(f"ACME server {server}: {e}") from None
    except OSError as e:  # requests' connection errors are OSErrors
        raise AcmeError(f"cannot reach the ACME server {server}: {e}") from None
    finally:
        for token in tokens:
            token.unlink(missing_ok=True)
    return order.fullchain_pem.encode(), key_pem


def _validation_errors(e) -> str:
    problems = []
    for authorization in e.failed_authzrs:
        for challenge in authorization.body.challenges:
            if challenge.error is not None:
                problems.append(f"{authorization.body.identifier.value}: {challenge.error.detail}")
    return "; ".join(problems) or str(e)


def _publish(directory: Path, token: str, validation: str) -> Path:
    """Put a key authorization where nginx serves it (world-readable: nginx's workers are unprivileged)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    path = directory / token
    path.write_text(validation)
    path.chmod(0o644)
    return path


def _client(state_dir: Path, server: str, email: str):
    """An ACME client with this server's account (registered on first use; one account key per server)."""
    import josepy  # imported here: see issue()
    from acme import client, errors, messages  # imported here: see issue()
    from cryptography.hazmat.primitives import serialization  # imported here: see issue()
    from cryptography.hazmat.primitives.asymmetric import rsa  # imported here: see issue()

    path = state_dir / "letsencrypt" / f"account-{hashlib.sha256(server.encode()).hexdigest()[:16]}.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    if saved:
        key = serialization.load_pem_private_key(saved["key"].encode(), password=None)
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = josepy.JWKRSA(key=key)
    network = client.ClientNetwork(jwk, user_agent="ponton", timeout=30)
    acme = client.ClientV2(client.ClientV2.get_directory(server, network), net=network)
    if saved.get("account") and saved.get("email") == email:
        network.account = messages.RegistrationResource(uri=saved["account"], body=messages.Registration())
        return acme
    registration = messages.NewRegistration.from_data(email=email, terms_of_service_agreed=True)
    try:
        account = acme.new_account(registration).uri
    except errors.ConflictError as e:  # this key has an account already: use it, with the new email
        network.account = messages.RegistrationResource(uri=e.location, body=messages.Registration())
        acme.update_registration(network.account, messages.UpdateRegistration.from_data(email=email))
        account = e.location
    certs.write_private(path, json.dumps({"key": key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(),
        "account": account, "email": email, "server": server}).encode())
    return acme
