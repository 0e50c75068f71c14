"""What every page and action shares: the signed-in viewer, rendering, guards, flash messages.

Pages (GET) need a signed-in employee. Actions (POST) also need the session's CSRF token and,
unless said otherwise, the Continuum Integration privilege (R21): the check is the state
store's ``require_privilege``, the same as the command line's. Errors of the core become HTTP
answers: lack of privilege 403, unknown record 404, bad input 400, a precondition 409.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from itsdangerous import BadSignature, URLSafeSerializer
from loguru import logger
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from agent.errors import NotFoundError, PreconditionError, PrivilegeError, UsageError, ZenithError, describe
from agent.web import csrf
from agent.web.auth import SESSION_COOKIE

FLASH_COOKIE = "zl_flash"
PRIVILEGE = "Continuum Integration"

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Viewer:
    """The signed-in employee, as the pages need them."""

    login: str
    name: str
    group: str
    may_act: bool
    csrf: str

    @property
    def why_not(self) -> str:
        """Why this employee's action controls are disabled ('' when they are not)."""
        if self.may_act:
            return ""
        return (f"Read-only: {self.login} is in the privilege group {self.group!r}, which does not hold the "
                f"{PRIVILEGE} privilege. You can look at everything but change nothing; an administrator "
                f"can move you to a group that holds it.")


def console_of(request: Request):
    return request.app.state.console


def find_viewer(request: Request) -> Viewer | None:
    console = console_of(request)
    session = console.sessions.find(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    try:
        employee = console.app.state.get_employee(session.login)
    except NotFoundError:
        return None
    return Viewer(employee["login"], employee["name"], employee["group"], bool(employee["continuum"]),
                  session.csrf_token)


def render(request: Request, template: str, viewer: Viewer | None = None, *, status_code: int = 200,
           **context: Any) -> Response:
    console = console_of(request)
    flash = _take_flash(request) if status_code == 200 else None
    response = console.templates.TemplateResponse(
        request, template, {"viewer": viewer, "flash": flash, "why_not": viewer.why_not if viewer else "",
                            "nav": context.pop("nav", ""), **context}, status_code=status_code)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(request: Request, url: str, flash: str | None = None) -> Response:
    """Post/redirect/get, with a message for the next page."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        signer = URLSafeSerializer(console_of(request).flash_key, salt="zenithlink-flash")
        response.set_cookie(FLASH_COOKIE, signer.dumps(flash), httponly=True, samesite="strict",
                            secure=console_of(request).secure_cookies, path="/")
    return response


def _take_flash(request: Request) -> str | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        return str(URLSafeSerializer(console_of(request).flash_key, salt="zenithlink-flash").loads(raw))
    except BadSignature:
        return None


def status_of(exc: ZenithError) -> int:
    if isinstance(exc, PrivilegeError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, UsageError):
        return 400
    if isinstance(exc, PreconditionError):
        return 409
    return 500


def error_page(request: Request, viewer: Viewer | None, exc: BaseException) -> Response:
    if isinstance(exc, ZenithError):
        status, message = status_of(exc), exc.web_message
    else:
        logger.opt(exception=exc).error("web console: {}", describe(exc))
        status, message = 500, describe(exc)
    return render(request, "error.html", viewer, status_code=status, message=message, status=status,
                  back=page_came_from(request))


def page_came_from(request: Request) -> str:
    """The console page the request was sent from (its path and query), or '' when not known:
    an error page links back to it."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc or not referer.path.startswith("/") or referer.path.startswith("//"):
        return ""
    return referer.path + (f"?{referer.query}" if referer.query else "")


def _signin_redirect(request: Request) -> Response:
    """To the sign-in page, and back afterwards: to the page asked for, or for an action (which
    cannot be asked for again by a link) to the page it was sent from. A request of htmx is told to
    load the sign-in page whole, not to swap it into the screen."""
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        target = page_came_from(request) or "/"
    url = f"/signin?next={quote(target, safe='')}"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def page(handler: Callable[[Request, Viewer], Response]) -> Endpoint:
    """A GET page for signed-in employees; the handler runs in a worker thread (the store blocks)."""

    async def endpoint(request: Request) -> Response:
        viewer = await run_in_threadpool(find_viewer, request)
        if viewer is None:
            return _signin_redirect(request)
        return await run_in_threadpool(_run, handler, request, viewer)

    endpoint.__name__ = handler.__name__
    return endpoint


def action(what: str, *, privilege: bool = True) -> Callable[[Callable[..., Response]], Endpoint]:
    """A POST action: signed in, the session's CSRF token, and (``privilege``) Continuum Integration."""

    def decorate(handler: Callable[[Request, Viewer, FormData], Response]) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            viewer = await run_in_threadpool(find_viewer, request)
            if viewer is None:
                return _signin_redirect(request)
            form = await request.form()
            if not csrf.matches(viewer.csrf, _field(form, csrf.FIELD)):
                return render(request, "error.html", viewer, status_code=403, status=403,
                              message="This form did not carry the console's security token (CSRF), so "
                                      "nothing was done. Reload the page and try again.")
            return await run_in_threadpool(_run_action, handler, what, privilege, request, viewer, form)

        endpoint.__name__ = handler.__name__
        return endpoint

    return decorate


def _run(handler: Callable[[Request, Viewer], Response], request: Request, viewer: Viewer) -> Response:
    try:
        return handler(request, viewer)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a page that says why
        return error_page(request, viewer, exc)


def _run_action(handler: Callable[[Request, Viewer, FormData], Response], what: str, privilege: bool,
                request: Request, viewer: Viewer, form: FormData) -> Response:
    try:
        if privilege:
            console_of(request).app.state.require_privilege(viewer.login, what)
        return handler(request, viewer, form)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a page that says why
        return error_page(request, viewer, exc)


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def field(form: FormData, name: str, *, required: bool = True) -> str:
    """A text field of the form; a missing required one is a usage error (400)."""
    value = _field(form, name)
    if required and not value:
        raise UsageError(f"the form is missing {name!r}")
    return value


def int_param(request: Request, name: str, default: int = 0) -> int:
    try:
        return max(0, int(request.query_params.get(name, default)))
    except ValueError:
        return default
