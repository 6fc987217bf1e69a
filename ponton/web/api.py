"""The JSON API under /api/v1/: each endpoint runs one ponton command as the caller (ponton/web/run.py), so what
it may do, how its input is checked and what it changes are the command's own, as over SSH.

A read answers with the command's JSON (`--format json`). A change streams the command's progress as JSON
lines, `{"line": "..."}`, and ends with `{"ok": true}` or `{"error": "...", "status": N}`; an error found before
any progress (bad input, no access, no such app) is answered alone with its own status. Errors are
`{"error": "..."}`: 400 invalid input, 401 no or bad credentials, 403 access denied, 404 not found, 422 a build or
deploy that failed (the previous release keeps serving), 429 too many requests, 5xx the server's fault.
"""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from ponton.web import run
from ponton.web.auth import Caller

PREFIX = "/api/v1"
router = APIRouter(prefix=PREFIX)
bearer = HTTPBearer(auto_error=False, description="A token from `ponton tokens:create NAME`")
NDJSON = "application/x-ndjson"
TEXT = str  # a value the command checks (a number, a time): it is passed on as typed
BOUNDED = Field(max_length=1000)


async def caller(request: Request, _: Any = Security(bearer)) -> Caller:
    return await request.app.state.gate.caller(request)


Who = Annotated[Caller, Depends(caller)]


def _error(status: int, body: dict) -> JSONResponse:
    return JSONResponse(body, status_code=status)


async def read(request: Request, who: Caller, *argv: str) -> Response:
    """Run a listing command with --format json and answer with what it printed."""
    outcome = await request.app.state.runner.run(who.user, [argv[0], "--format", "json", *argv[1:]])
    if outcome.code:
        return _error(outcome.status, outcome.body())
    return Response("\n".join(outcome.stdout), media_type="application/json")


async def change(request: Request, who: Caller, *argv: str) -> Response:
    """Run a command that changes something, streaming its progress."""
    command = request.app.state.runner.command(who.user, list(argv), changes=True, carrier=run.carried(request.headers))
    first, rest = await run.started(command)
    if rest is None and command.outcome.code:
        return _error(command.outcome.status, command.outcome.body())

    async def lines():
        for _, line in first:
            yield json.dumps({"line": line}, ensure_ascii=False) + "\n"
        if rest is not None:
            async for _, line in rest:
                yield json.dumps({"line": line}, ensure_ascii=False) + "\n"
        outcome = command.outcome
        end = {"ok": True} if outcome.code == 0 else {**outcome.body(), "status": outcome.status}
        yield json.dumps(end, ensure_ascii=False) + "\n"

    return StreamingResponse(lines(), media_type=NDJSON, headers={"X-Accel-Buffering": "no"})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewApp(Strict):
    name: str = BOUNDED


class ConfigChange(Strict):
    values: dict[str, str] = Field(description="KEY: value pairs to set", min_length=1, max_length=1000)
    restart: bool = Field(True, description="false: only record it; running instances get it on the next deploy")


class Rollback(Strict):
    version: str | int | None = Field(None, description="e.g. v3 (default: the release before the current one)")


class NewDomain(Strict):
    domain: str = BOUNDED


STREAMED = {200: {"description": "The command's progress, one JSON object a line", "content": {NDJSON: {}}}}


@router.get("/me", summary="Who the credentials act as")
async def me(request: Request, who: Who):
    role = await request.app.state.gate.call(lambda p, user: p.state.role(user) if user else "admin", who.user)
    return {"user": who.user, "role": role}


@router.get("/apps", summary="The apps you may use (apps:list)")
async def apps(request: Request, who: Who):
    return await read(request, who, "apps:list")


@router.post("/apps", summary="Create an app (apps:create)", responses=STREAMED)
async def create_app(request: Request, who: Who, body: NewApp):
    return await change(request, who, "apps:create", "--", body.name)


@router.get("/apps/{app}", summary="An app's URL, domains, release, scale and state (apps:info)")
async def app_info(request: Request, who: Who, app: str):
    return await read(request, who, "apps:info", "--", app)


@router.delete("/apps/{app}", summary="Destroy an app and everything it has (apps:destroy --force)", responses=STREAMED)
async def destroy_app(request: Request, who: Who, app: str):
    return await change(request, who, "apps:destroy", "--force", "--", app)


@router.get("/apps/{app}/config", summary="Every config value (config:show)")
async def config(request: Request, who: Who, app: str):
    return await read(request, who, "config:show", "--", app)


@router.post("/apps/{app}/config", summary="Set config values and roll the app onto them (config:set)",
             responses=STREAMED)
async def set_config(request: Request, who: Who, app: str, body: ConfigChange):
    pairs = [f"{key}={value}" for key, value in body.values.items()]
    return await change(request, who, "config:set", *([] if body.restart else ["--no-restart"]), "--", app, *pairs)


@router.delete("/apps/{app}/config/{key}", summary="Unset a config value (config:unset)", responses=STREAMED)
async def unset_config(request: Request, who: Who, app: str, key: str, restart: bool = True):
    return await change(request, who, "config:unset", *([] if restart else ["--no-restart"]), "--", app, key)


@router.get("/apps/{app}/ps", summary="Each instance: process type, release, state, health, autoscaling (ps:report)")
async def ps(request: Request, who: Who, app: str):
    return await read(request, who, "ps:report", "--", app)


@router.post("/apps/{app}/ps/scale", summary="Run N instances of each process type (ps:scale)", responses=STREAMED)
async def scale(request: Request, who: Who, app: str,
                body: Annotated[dict[str, int], Field(min_length=1, max_length=100)]):
    return await change(request, who, "ps:scale", "--", app, *(f"{process}={n}" for process, n in body.items()))


@router.post("/apps/{app}/ps/{action}", summary="ps:restart (rolling), ps:stop, ps:start or ps:rebuild",
             responses=STREAMED)
async def ps_action(request: Request, who: Who, app: str, action: str):
    if action not in ("restart", "stop", "start", "rebuild"):
        return _error(404, {"error": "no such action: use restart, stop, start or rebuild"})
    return await change(request, who, f"ps:{action}", "--", app)


@router.get("/apps/{app}/releases", summary="The releases, newest first (releases)")
async def releases(request: Request, who: Who, app: str):
    return await read(request, who, "releases", "--", app)


@router.post("/apps/{app}/rollback", summary="Roll back, code and config (rollback)", responses=STREAMED)
async def rollback(request: Request, who: Who, app: str, body: Rollback | None = None):
    version = [] if body is None or body.version is None else [str(body.version)]
    return await change(request, who, "rollback", "--", app, *version)


@router.get("/apps/{app}/domains", summary="The domains the app answers to (domains:report)")
async def domains(request: Request, who: Who, app: str):
    return await read(request, who, "domains:report", "--", app)


@router.post("/apps/{app}/domains", summary="Serve the app at a domain too (domains:add)", responses=STREAMED)
async def add_domain(request: Request, who: Who, app: str, body: NewDomain):
    return await change(request, who, "domains:add", "--", app, body.domain)


@router.delete("/apps/{app}/domains/{domain}", summary="Stop serving the app at a domain (domains:remove)",
               responses=STREAMED)
async def remove_domain(request: Request, who: Who, app: str, domain: str):
    return await change(request, who, "domains:remove", "--", app, domain)


@router.get("/apps/{app}/logs", summary="The instances' output, merged (logs); streamed, with follow=true as it comes",
            responses={200: {"content": {"text/plain": {}, "text/event-stream": {}}}})
async def logs(request: Request, who: Who, app: str, lines: TEXT = Query("100", max_length=20),
               follow: bool = False, process: TEXT | None = Query(None, max_length=100),
               since: TEXT | None = Query(None, max_length=100)):
    # Each option's value joined to it (--num=VALUE): whatever it holds, it is that option's value.
    argv = ["logs", f"--num={lines}", *(["-t"] if follow else []), *([f"--ps={process}"] if process else []),
            *([f"--since={since}"] if since else []), "--", app]
    command = request.app.state.runner.command(who.user, argv)
    first, rest = await run.started(command)
    if rest is None and command.outcome.code:
        return _error(command.outcome.status, command.outcome.body())
    sse = "text/event-stream" in request.headers.get("accept", "")

    def event(line: str) -> str:  # an event's data is JSON: no line of output can end it or forge another
        return f"data: {json.dumps(line, ensure_ascii=False)}\n\n" if sse else f"{line}\n"

    async def output():
        for _, line in first:
            yield event(line)
        if rest is not None:
            async for _, line in rest:
                yield event(line)
        if sse and command.outcome and command.outcome.code:
            yield f"event: failed\ndata: {json.dumps(command.outcome.body())}\n\n"

    return StreamingResponse(output(), media_type="text/event-stream" if sse else "text/plain; charset=utf-8",
                             headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"})


@router.get("/apps/{app}/metrics", summary="CPU, memory, requests and latency now (metrics)")
async def metrics(request: Request, who: Who, app: str, window: TEXT = Query("60", max_length=20)):
    return await read(request, who, "metrics", f"--window={window}", "--", app)


@router.get("/apps/{app}/metrics/history", summary="Requests/s, latency, CPU and memory over time (metrics:history)")
async def metrics_history(request: Request, who: Who, app: str, minutes: TEXT = Query("60", max_length=20)):
    return await read(request, who, "metrics:history", f"--minutes={minutes}", "--", app)


@router.get("/apps/{app}/events", summary="What happened to the app and who did it (events)")
async def events(request: Request, who: Who, app: str, limit: TEXT = Query("50", max_length=20)):
    return await read(request, who, "events", f"--num={limit}", "--", app)
