"""Who a web request comes from: an API token (`Authorization: Bearer TOKEN`, or the password of HTTP Basic, as
git sends it) or a browser session (its cookie, started by a one-time login link). A change made with a
session's cookie must carry the session's CSRF token and come from our own origin. Failed attempts are limited
per client address, and so are logins.

What the caller may then do is not decided here: the command each request runs checks it (ponton/web/run.py).
"""

import base64
import binascii
import collections
import hmac
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ponton.core.context import Ponton
from ponton.features import tokens

SESSION_COOKIE = "ponton_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class Refused(Exception):
    """The request is answered with `status` and {"error": message}, and `headers`."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers or {}


@dataclass(frozen=True)
class Caller:
    user: str | None  # None: the server itself (a token local root made), an admin
    session: str | None = None  # a browser's session secret

    @property
    def csrf(self) -> str | None:
        return tokens.csrf_token(self.session) if self.session else None


class Limiter:
    """At most `limit` events per key within `seconds`; it remembers at most `keys` keys (the oldest go)."""

    def __init__(self, limit: int, seconds: float, keys: int = 10_000):
        self.limit, self.seconds, self.keys = limit, seconds, keys
        self.events: collections.OrderedDict[str, collections.deque] = collections.OrderedDict()

    def full(self, key: str) -> bool:
        events = self.events.get(key)
        while events and events[0] < time.monotonic() - self.seconds:
            events.popleft()
        return bool(events) and len(events) >= self.limit

    def hit(self, key: str):
        self.events.setdefault(key, collections.deque()).append(time.monotonic())
        self.events.move_to_end(key)
        while len(self.events) > self.keys:
            self.events.popitem(last=False)


def client_address(request: Request) -> str:
    """The client's address, as nginx passed it on (uvicorn takes it from X-Forwarded-For sent from 127.0.0.1)."""
    return request.client.host if request.client else "-"


class Gate:
    def __init__(self, settings, failures: int = 20, logins: int = 10):
        self.settings = settings
        self.local = threading.local()
        self.failures = Limiter(failures, 60)  # failed authentications per client address and minute
        self.logins = Limiter(logins, 60)  # login attempts per client address and minute

    def ponton(self) -> Ponton:
        """This thread's Ponton (an SQLite connection belongs to the thread that opened it)."""
        if not hasattr(self.local, "ponton"):
            self.local.ponton = Ponton(self.settings)
        return self.local.ponton

    async def call(self, function, *args):
        """`function(ponton, *args)` in a worker thread: the state is a file, and the event loop must not wait on it."""
        return await run_in_threadpool(lambda: function(self.ponton(), *args))

    async def caller(self, request: Request, realm: str = "Bearer") -> Caller:
        """The caller of `request`, or Refused (401 with a `realm` challenge: Basic for git, which then sends the
        user and token)."""
        address = client_address(request)
        if self.failures.full(address):
            raise Refused(429, "too many failed attempts from this address: wait a minute")
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        session = None
        if scheme.lower() == "bearer":
            holder = await self.call(tokens.holder, tokens.API, credentials.strip())
        elif scheme.lower() == "basic":
            user, token = _basic(credentials)
            holder = await self.call(tokens.holder, tokens.API, token)
            if holder is not None and holder.user not in (None, user):  # a token names its user: git's must match
                holder = None
        elif SESSION_COOKIE in request.cookies:
            session = request.cookies[SESSION_COOKIE]
            holder = await self.call(tokens.holder, tokens.SESSION, session)
        else:
            raise Refused(401, "authentication required: send `Authorization: Bearer TOKEN` (ponton tokens:create) "
                               "or log in with a link from `ponton dashboard:login`",
                          {"WWW-Authenticate": f'{realm} realm="ponton"'})
        if holder is None:
            self.failures.hit(address)
            raise Refused(401, "invalid or expired credentials", {"WWW-Authenticate": f'{realm} realm="ponton"'})
        caller = Caller(holder.user, session)
        if session and request.method not in SAFE_METHODS:
            check_csrf(request, caller, request.headers.get(CSRF_HEADER))
        return caller

    async def login_allowed(self, request: Request) -> bool:
        address = client_address(request)
        if self.logins.full(address):
            return False
        self.logins.hit(address)
        return True


def check_csrf(request: Request, caller: Caller, token: str | None):
    """Refuse a change a browser was made to send from another site: it must come from our own origin (if the
    browser says where from) and carry the session's CSRF token, which only our pages know."""
    if not same_origin(request):
        raise Refused(403, "cross-site request refused")
    if not token or not hmac.compare_digest(token.encode(), caller.csrf.encode()):
        raise Refused(403, "CSRF token missing or wrong: reload the page")


def same_origin(request: Request) -> bool:
    """Whether the browser says the request comes from a page of ours (or says nothing, as non-browsers do).
    Our pages send their origin (Referrer-Policy: same-origin); "null" comes from elsewhere."""
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).hostname == urlsplit(f"//{request.headers.get('host', '')}").hostname


def _basic(credentials: str) -> tuple[str, str]:
    """(user, password) of HTTP Basic credentials; ("", "") if they are not well formed."""
    try:
        user, _, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return "", ""
    return user, password
