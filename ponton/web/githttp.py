"""git over HTTPS: `git push https://ponton.DOMAIN/APP.git`, with the ponton user as user name and a token as
password. Each request of git's smart HTTP is authenticated here and run as `ponton git-http SERVICE APP`
(gitreceive/http.py) in its own process, as the user: the access check, lock, hook and deploy of a push over
SSH, and its `remote:` output streamed as it comes. Only the smart protocol is served (no dumb file access),
and a push's body is bounded."""

import asyncio
import contextlib
import os
import signal
import sys

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from gitreceive.http import SERVICES
from ponton.web.run import STATUS, carried

router = APIRouter(include_in_schema=False)
MAX_PUSH = 1 << 30  # bytes a push or fetch request may send
CHUNK = 1 << 16


@router.get("/{app}.git/info/refs")
async def refs(request: Request, app: str, service: str = ""):
    if service not in SERVICES:
        return PlainTextResponse("only git's smart HTTP is served: use git 1.6.6 or later\n", 403)
    return await backend(request, app, service)


@router.post("/{app}.git/{service}")
async def pack(request: Request, app: str, service: str):
    if service not in SERVICES:
        return PlainTextResponse("not found\n", 404)
    return await backend(request, app, service)


async def backend(request: Request, app: str, service: str):
    caller = await request.app.state.gate.caller(request, realm="Basic")  # git then sends the user and token
    runner = request.app.state.runner
    env = {**runner.env, **carried(request.headers), "PYTHONUNBUFFERED": "1", "REQUEST_METHOD": request.method,
           "QUERY_STRING": request.url.query, "CONTENT_TYPE": request.headers.get("content-type", ""),
           "REMOTE_ADDR": request.client.host if request.client else ""}
    if caller.user is not None:
        env["PONTON_USER"] = caller.user
    for header, variable in (("content-encoding", "HTTP_CONTENT_ENCODING"), ("git-protocol", "GIT_PROTOCOL")):
        if header in request.headers:
            env[variable] = request.headers[header]
    runner.take(caller.user)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ponton", "git-http", service, "--", app, env=env, start_new_session=True,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    except BaseException:
        runner.free(caller.user)
        raise
    feeding = asyncio.create_task(_feed(request, process))
    errors = asyncio.create_task(_tail(process.stderr))  # the "error: " line, if it refuses
    headers = await _cgi_headers(process.stdout)
    if headers is None:  # refused before git answered: its one error line, with its status
        code = await process.wait()
        runner.free(caller.user)
        feeding.cancel()
        said = (await errors).decode(errors="replace")
        message = next((line for line in said.splitlines() if line.startswith("error: ")), None)
        if message is None:  # not a refusal: the operator needs what it printed (the service's log keeps it)
            print(f"git-http {service} {app} ended with {code} before answering:\n{said}", file=sys.stderr)
            message = "error: git failed"
        return PlainTextResponse(message.removeprefix("error: ") + "\n", STATUS.get(code, 500))
    status = int(headers.pop("status", "200").split()[0])

    async def body():
        try:
            while chunk := await process.stdout.read(CHUNK):
                yield chunk
            await process.wait()
        finally:
            # No await here: a client that went away cancels every await of its request from then on.
            if process.returncode is None and service == "git-receive-pack" and feeding.done():
                # The client went away while the push deploys: let it finish (and keep its place in the bound).
                runner.keep(_finish(runner, caller.user, process))
            else:
                if process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGTERM)
                    runner.keep(process.wait())
                feeding.cancel()
                errors.cancel()
                runner.free(caller.user)

    return StreamingResponse(body(), status_code=status, headers={**headers, "X-Accel-Buffering": "no"})


async def _feed(request: Request, process):
    """The request's body into git's stdin, as it comes; a body over MAX_PUSH ends the request."""
    sent = 0
    try:
        async for chunk in request.stream():
            sent += len(chunk)
            if sent > MAX_PUSH:
                os.killpg(process.pid, signal.SIGTERM)
                return
            process.stdin.write(chunk)
            await process.stdin.drain()
    except (ConnectionError, ProcessLookupError):  # git stopped reading (it answered, or it was ended)
        return
    finally:
        process.stdin.close()


async def _tail(stream: asyncio.StreamReader, keep: int = 1 << 16) -> bytes:
    """All a stream says until it ends (its last `keep` bytes): read to the end so that the process never blocks
    on a full pipe, and so that an error line printed after other output (a lock wait) is not missed."""
    said = b""
    while chunk := await stream.read(CHUNK):
        said = (said + chunk)[-keep:]
    return said


async def _cgi_headers(stdout: asyncio.StreamReader) -> dict[str, str] | None:
    """The CGI headers git http-backend prints before its body (None if it printed nothing)."""
    headers = {}
    while True:
        line = await stdout.readline()
        if not line:
            return None if not headers else headers
        line = line.rstrip(b"\r\n").decode("latin-1")
        if not line:
            return headers
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()


async def _finish(runner, user, process):
    try:
        while await process.stdout.read(CHUNK):
            pass
        await process.wait()
    finally:
        runner.free(user)
