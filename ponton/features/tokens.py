"""The web face's secrets: API tokens (`tokens:create`), one-time login links (`dashboard:login`) and the
browser sessions those links start.

Each is a random secret shown once; the state keeps only its SHA-256 (the secrets are 256 random bits, so a
fast hash is as good as a slow one, and a lookup by hash needs no secret comparison). Every secret expires.
A secret belongs to a user, who acts with the role they have when it is used; one without a user belongs to the
server itself (created by local root) and acts as an admin, as local root does.
"""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from ponton.core import validate
from ponton.features import access

API, LOGIN, SESSION = "api", "login", "session"
PREFIX = "ponton_"  # makes a token recognisable to people and to secret scanners
DEFAULT_DAYS, MAX_DAYS = 30, 3650
LOGIN_SECONDS = 600
SESSION_SECONDS = 12 * 3600
LIMITS = {API: 100, LOGIN: 20, SESSION: 100}  # live secrets per user: a tenant cannot fill the state with them
MAX_LENGTH = 200  # what is read of a secret a client sends: ours are 50 characters


@dataclass(frozen=True)
class Holder:
    """Who a secret lets in: `user` (None: the server itself, an admin)."""

    user: str | None
    kind: str
    name: str
    expires: float


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new(p, kind: str, user: str | None, name: str, seconds: float) -> tuple[str, float]:
    secret = PREFIX + secrets.token_urlsafe(32)
    expires = time.time() + seconds
    p.state.add_token(kind, user, name, digest(secret), expires, LIMITS[kind])
    return secret, expires


def owner(p, for_user: str | None) -> str | None:
    """Whose token a command makes or removes: the named user's (access.check lets only admins name one), else
    the acting user's own; on the server itself without --for, the server's."""
    if for_user is None:
        return p.remote_user
    p.state.require_user(for_user)
    return for_user


def create(p, name: str, days: int, for_user: str | None) -> tuple[str, float]:
    """A new API token NAME: (the secret, its expiry time)."""
    return _new(p, API, owner(p, for_user), validate.token_name(name), days * 86400)


def listing(p) -> list:
    """The API tokens the acting user may see: their own; every one for an admin."""
    rows = p.state.tokens(API)
    return rows if access.is_admin(p) else [token for token in rows if token.user == p.remote_user]


def revoke(p, name: str, for_user: str | None):
    p.state.remove_token(API, owner(p, for_user), validate.token_name(name))


def login_link_code(p) -> str:
    """A one-time code that logs a browser in as the acting user, for LOGIN_SECONDS."""
    return _new(p, LOGIN, p.remote_user, "", LOGIN_SECONDS)[0]


def holder(p, kind: str, secret: str, take: bool = False) -> Holder | None:
    """Who `secret` lets in, if it is a live secret of `kind`; `take` uses it up (a login link, a logout)."""
    if not secret or len(secret) > MAX_LENGTH or not secret.startswith(PREFIX):
        return None
    found = (p.state.take_token if take else p.state.token)(kind, digest(secret))
    return None if found is None else Holder(found.user, kind, found.name, found.expires)


def start_session(p, user: str | None) -> str:
    return _new(p, SESSION, user, "", SESSION_SECONDS)[0]


def csrf_token(session: str) -> str:
    """The CSRF token of a session: derived from its secret, so nothing more is stored, and useless without it."""
    return hmac.new(session.encode(), b"csrf", hashlib.sha256).hexdigest()
