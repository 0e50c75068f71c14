"""Sign-in and sign-out."""

from __future__ import annotations

import math

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from agent.web import csrf
from agent.web.auth import SESSION_COOKIE, SESSION_HOURS, verify_password
from agent.web.context import Viewer, action, console_of, find_viewer, redirect, render


def _next_url(value: str | None) -> str:
    # Only a path of this console: never another site (an open redirect).
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/sites"


async def signin_form(request: Request) -> Response:
    if await run_in_threadpool(find_viewer, request) is not None:
        return RedirectResponse(_next_url(request.query_params.get("next")), status_code=303)
    return _form(request, request.query_params.get("next", ""))


def _form(request: Request, next_url: str, *, message: str = "", status_code: int = 200, login: str = "") -> Response:
    token = csrf.signin_token(request) or csrf.new_token()
    response = render(request, "signin.html", None, status_code=status_code, token=token, next_url=next_url,
                      message=message, login=login)
    response.set_cookie(csrf.SIGNIN_COOKIE, token, httponly=True, samesite="strict",
                        secure=console_of(request).secure_cookies, path="/signin")
    return response


async def signin(request: Request) -> Response:
    console = console_of(request)
    form = await request.form()
    login = str(form.get("login") or "").strip()
    password = str(form.get("password") or "")
    next_url = str(form.get("next") or "")
    if not csrf.matches(csrf.signin_token(request), str(form.get(csrf.FIELD) or "")):
        return _form(request, next_url, status_code=403, login=login,
                     message="The sign-in form had expired or did not come from this console. Please try again.")
    address = request.client.host if request.client else "?"
    wait = console.limiter.wait_seconds(login, address)
    if wait > 0:
        return _form(request, next_url, status_code=429, login=login,
                     message=f"Too many wrong passwords. Wait {math.ceil(wait)} seconds, then try again.")
    employee = await run_in_threadpool(verify_password, console.app, login, password, console.hasher)
    if employee is None:
        console.limiter.failed(login, address)
        await run_in_threadpool(console.app.state.audit, login, "web_sign_in_refused", "wrong login or password")
        return _form(request, next_url, status_code=401, login=login,
                     message="Wrong login or password. (A password is set with 'zenithlink employees "
                             "set-password LOGIN'.)")
    console.limiter.succeeded(login)
    cookie, _ = await run_in_threadpool(console.sessions.start, employee["login"])
    await run_in_threadpool(console.app.state.audit, employee["login"], "web_sign_in", "")
    response = RedirectResponse(_next_url(next_url), status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=int(SESSION_HOURS * 3600), httponly=True,
                        samesite="strict", secure=console.secure_cookies, path="/")
    response.delete_cookie(csrf.SIGNIN_COOKIE, path="/signin")
    return response


@action("sign out", privilege=False)
def signout(request: Request, viewer: Viewer, form) -> Response:
    console = console_of(request)
    console.sessions.end(request.cookies.get(SESSION_COOKIE))
    console.app.state.audit(viewer.login, "web_sign_out", "")
    response = redirect(request, "/signin", "Signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


routes = [
    Route("/signin", signin_form, methods=["GET"]),
    Route("/signin", signin, methods=["POST"]),
    Route("/signout", signout, methods=["POST"]),
]
