"""The dashboard's pages and the browser login.

`dashboard:login` prints a one-time link, /login/CODE. Opening it shows whom it logs in as, and a button: the
code is used up only by that POST, so a link preview that fetches the page does not spend it. The POST starts a
session (an HttpOnly, SameSite=Lax cookie, Secure over HTTPS) and redirects to /, so no secret stays in the
address bar or history. A used or expired link shows the login page. Logins are limited per client address.

The pages are shells: the data comes from the API (static/dashboard.js), with the session's cookie and its
CSRF token, through the same commands as everything else. No page runs inline script (the CSP says so).
"""

from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ponton.core.errors import InvalidInput
from ponton.features import tokens
from ponton.web.auth import SESSION_COOKIE, Caller, Refused, check_csrf, same_origin

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def page(request: Request, template: str, status: int = 200, **values) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, values, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    return response


async def session(request: Request) -> Caller | None:
    """The browser's session, or None (no cookie, or one that expired or was logged out)."""
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    holder = await request.app.state.gate.call(tokens.holder, tokens.SESSION, secret)
    return None if holder is None else Caller(holder.user, secret)


def to_login() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def form(request: Request) -> dict[str, str]:
    """A posted form's fields (urlencoded; the body is bounded like every other)."""
    return {key: values[0] for key, values in parse_qs((await request.body()).decode("utf-8", "replace")).items()}


@router.get("/login")
async def login_page(request: Request):
    return page(request, "login.html")


@router.get("/login/{code}")
async def login_link(request: Request, code: str):
    holder = await request.app.state.gate.call(tokens.holder, tokens.LOGIN, code)
    if holder is None:
        return page(request, "login.html", 400, message="This link was used already or has expired.")
    return page(request, "confirm.html", code=code, user=holder.user or "the server's admin")


@router.post("/login")
async def login(request: Request):
    gate = request.app.state.gate
    if not await gate.login_allowed(request):
        return page(request, "login.html", 429, message="Too many logins from this address: wait a minute.")
    if not same_origin(request):
        return page(request, "login.html", 403, message="Cross-site login refused.")
    holder = await gate.call(tokens.holder, tokens.LOGIN, (await form(request)).get("code", ""), True)
    if holder is None:
        return page(request, "login.html", 400, message="This link was used already or has expired.")
    try:
        secret = await gate.call(tokens.start_session, holder.user)
    except InvalidInput as e:  # too many sessions
        return page(request, "login.html", 400, message=str(e))
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, secret, max_age=tokens.SESSION_SECONDS, path="/", httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")
    return response


@router.post("/logout")
async def logout(request: Request):
    caller = await session(request)
    if caller is not None:
        try:
            check_csrf(request, caller, (await form(request)).get("csrf"))
        except Refused as e:
            return page(request, "login.html", e.status, message=str(e))
        await request.app.state.gate.call(tokens.holder, tokens.SESSION, caller.session, True)
    return to_login()


@router.get("/")
async def apps_page(request: Request):
    caller = await session(request)
    if caller is None:
        return to_login()
    return page(request, "apps.html", caller=caller)


@router.get("/apps/{app}")
async def app_page(request: Request, app: str):
    caller = await session(request)
    if caller is None:
        return to_login()
    outcome = await request.app.state.runner.run(caller.user, ["apps:info", "--format", "json", "--", app])
    if outcome.code:  # the command decides, as for the API: another tenant's app is 403, a missing one 404
        return page(request, "error.html", outcome.status, caller=caller, message=outcome.body()["error"])
    return page(request, "app.html", caller=caller, app=app)


@router.get("/static/{name}")
async def static(name: str):
    """The dashboard's script and style, shipped with the package (no build step, no CDN)."""
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in types or not path.is_file():
        return Response('{"error": "not found"}', 404, media_type="application/json")
    return Response(path.read_bytes(), media_type=types[path.suffix], headers={"Cache-Control": "no-cache"})
