"""The web face as one ASGI application (FastAPI on Starlette, served by uvicorn): the JSON API, the dashboard
and git over HTTPS, behind nginx at ponton.DOMAIN. Every error is one line of JSON (HTML on a page), never a
traceback: an unforeseen one is logged in STATE_DIR/errors.log, as the CLI logs it."""

import os

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ponton import cli
from ponton.output import one_line
from ponton.web import api, githttp, pages
from ponton.web.auth import Gate, Refused
from ponton.web.run import Busy, Runner

MAX_BODY = 1 << 20  # an API request's body; git pushes are bounded by their own handler


class BodyTooLarge(Exception):
    pass


def create(settings, env: dict[str, str] | None = None) -> FastAPI:
    app = FastAPI(title="ponton", version="1", summary="The ponton PaaS: apps, config, processes, releases, "
                  "domains, logs, metrics and events", openapi_url=f"{api.PREFIX}/openapi.json",
                  docs_url=None, redoc_url=None)  # their pages load scripts from a CDN: no page here does
    app.state.settings = settings
    app.state.gate = Gate(settings)
    app.state.runner = Runner(os.environ if env is None else env)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(githttp.router)
    app.add_middleware(Limits)
    app.add_exception_handler(Refused, lambda r, e: _error(e.status, str(e), e.headers))
    app.add_exception_handler(Busy, lambda r, e: _error(429, str(e)))
    app.add_exception_handler(BodyTooLarge, lambda r, e: _error(413, f"request body larger than {MAX_BODY} bytes"))
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(Exception, _internal_error)
    return app


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _http_error(request: Request, e: HTTPException) -> JSONResponse:
    message = {404: "not found", 405: "method not allowed"}.get(e.status_code, str(e.detail))
    return _error(e.status_code, message, getattr(e, "headers", None))


async def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
    """One line naming what is wrong where, never echoing the value (it may be a secret, or huge)."""
    problems = [f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in e.errors()[:5]]
    return _error(400, one_line(f"invalid request: {'; '.join(problems)}"[:500]))


async def _internal_error(request: Request, e: Exception) -> JSONResponse:
    reference = cli.log_internal_error([f"web {request.method} {request.url.path[:60]}"])
    return _error(500, f"internal error ({type(e).__name__}), logged on the server as {reference}")


class Limits:
    """Refuse a request body over MAX_BODY (told in advance, or counted as it comes), and send the headers every
    answer has: nothing is framed by another site or sniffed as another type, and no address (a login link's)
    is sent to another site as a referrer."""

    HEADERS = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
               (b"referrer-policy", b"same-origin")]

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def headed(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        if scope["path"].endswith((".git/git-receive-pack", ".git/git-upload-pack")):  # bounded by their handler
            return await self.app(scope, receive, headed)
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or len(length) > 12 or int(length) > MAX_BODY:
            response = _error(413, f"request body larger than {MAX_BODY} bytes")
            return await response(scope, receive, headed)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY:
                raise BodyTooLarge()
            return message

        await self.app(scope, counted, headed)
