"""The Starlette application of the web console, built for one :class:`agent.app.App`."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from argon2 import PasswordHasher
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.web import routes_accounts, routes_auth, routes_devices, routes_links, routes_status, routes_tickets
from agent.web.auth import Clock, Sessions, SignInLimiter, password_hasher
from agent.web.filters import FILTERS

HERE = Path(__file__).resolve().parent
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass
class Console:
    """What the pages share: the agent's App, templates, sessions and the sign-in limit."""

    app: object
    templates: Jinja2Templates
    sessions: Sessions
    limiter: SignInLimiter
    hasher: PasswordHasher
    secure_cookies: bool
    flash_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))


class SecurityHeaders:
    """Adds the security headers to every answer (pages, fragments, static files, errors)."""

    def __init__(self, app: ASGIApp, *, tls: bool) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        if tls:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [h for h in self.headers if h[0] not in present]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(app, *, tls: bool = False, clock: Clock = time.monotonic,
               hasher: PasswordHasher | None = None) -> Starlette:
    """The console for ``app``; ``tls`` marks cookies Secure; ``clock`` drives the sign-in limit."""
    environment = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(FILTERS)
    templates = Jinja2Templates(env=environment)
    console = Console(app=app, templates=templates, sessions=Sessions(app), limiter=SignInLimiter(clock),
                      hasher=hasher or password_hasher(), secure_cookies=tls)
    routes: list[BaseRoute] = [
        Route("/", _home),
        Route("/favicon.ico", _favicon),
        *routes_auth.routes, *routes_links.routes, *routes_devices.routes, *routes_accounts.routes,
        *routes_tickets.routes, *routes_status.routes,
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    web = Starlette(routes=routes)
    web.state.console = console
    web.add_middleware(SecurityHeaders, tls=tls)
    return web


async def _home(request) -> Response:
    return RedirectResponse("/sites", status_code=303)


async def _favicon(request) -> Response:
    # Browsers ask for /favicon.ico whatever the page says; cached, unlike the pages.
    return FileResponse(HERE / "static" / "favicon.ico", media_type="image/x-icon",
                        headers={"Cache-Control": "max-age=86400"})
