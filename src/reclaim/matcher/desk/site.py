"""The desk's web frame: templates, sign-in, roles, forms and shared pages.

`install(app, service)` mounts everything under `/desk` (and the public
removal form under `/removal`). Pages are Jinja2 templates with autoescaping;
the only script is the desk's own static file (`script-src 'self'`). Every
form post must come from this origin and echo the session's CSRF token.

Handlers that are `async` (they read the form) do their database and
password work in the thread pool, never on the event loop; at most
`SIGN_INS_AT_ONCE` password checks run at a time, and a sign-in beyond that
is asked to try again (503) rather than queued.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from reclaim import __version__
from reclaim.matcher.desk.accounts import Account, Accounts, Role, parse_role
from reclaim.matcher.desk.sessions import COOKIE, DeskUser, Sessions
from reclaim.matcher.errors import DeskError, ForbiddenError, LoginError
from reclaim.matcher.service import MatcherService
from reclaim.strict import text_problem

HERE = Path(__file__).parent
#: Desk pages: scripts and styles only from this origin, images also inline
#: (blurred previews are served by the desk itself).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' "
    "data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
MAX_FORM_BYTES = 1024 * 1024
#: Password checks (scrypt: ~50 ms and 32 MiB each) running at once, at most.
SIGN_INS_AT_ONCE = 4
#: A whole number as the desk takes it: ASCII digits, within a 64-bit integer.
WHOLE_NUMBER = re.compile(r"[0-9]{1,18}", re.ASCII)


class SignInRequired(Exception):
    """No signed-in user on a desk page: the handler redirects to sign-in."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@dataclass(frozen=True, slots=True)
class Form:
    """A posted form's fields (first value of each; `all` for lists)."""

    fields: Mapping[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        """The first value of a field, or `default`."""
        values = self.fields.get(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        """Every value of a field (checkboxes)."""
        return list(self.fields.get(name, []))


class Desk:
    """What every desk page needs: the service, accounts, sessions, templates."""

    def __init__(self, service: MatcherService) -> None:
        self.service = service
        self.config = service.config.desk
        self.accounts = Accounts(service.engine)
        self.sessions = Sessions(service.engine, hours=self.config.session_hours)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.globals.update(version=__version__, Role=Role)
        self.router = APIRouter(include_in_schema=False)
        #: Free places for a password check (see SIGN_INS_AT_ONCE).
        self.sign_ins = threading.BoundedSemaphore(SIGN_INS_AT_ONCE)

    # ---- who is signed in ---------------------------------------------------

    def current(self, request: Request) -> DeskUser | None:
        """The signed-in user, or None."""
        return self.sessions.find(request.cookies.get(COOKIE))

    def user(self, request: Request) -> DeskUser:
        """A dependency: the signed-in user, else a redirect to sign in."""
        found = self.current(request)
        if found is None:
            target = request.url.path
            if request.url.query:
                target += "?" + request.url.query
            raise SignInRequired(target if request.method == "GET" else "/desk")
        return found

    def needs(self, role: Role) -> Callable[[Request], DeskUser]:
        """A dependency: the signed-in user, who must have at least `role`."""

        def check(request: Request) -> DeskUser:
            found = self.user(request)
            if not found.may(role):
                raise ForbiddenError(
                    f"this needs the {role.value} role and {found.name} is a "
                    f"{found.role.value}: ask an admin"
                )
            return found

        return check

    # ---- pages and forms ----------------------------------------------------

    def page(
        self,
        request: Request,
        template: str,
        *,
        user: DeskUser | None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """A rendered page, never cached, under the desk's CSP."""
        response = self.templates.TemplateResponse(
            request,
            template,
            {"user": user, "notice": request.query_params.get("notice"), **context},
            status_code=status,
        )
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Cache-Control"] = "no-store"
        # Not no-referrer: with it, Chromium posts forms with "Origin: null",
        # which `form` refuses. Other sites still get no referrer.
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    async def form(self, request: Request, user: DeskUser | None) -> Form:
        """The posted form, checked: same origin, the session's CSRF token
        (when signed in), valid text. DeskError otherwise."""
        origin = request.headers.get("origin")
        if (
            origin is not None
            and origin != f"{request.url.scheme}://{request.url.netloc}"
        ):
            raise DeskError(
                "a form posted from another site is refused: use this desk's own pages"
            )
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise DeskError(
                f"a form of {len(body)} bytes is too large: at most "
                f"{MAX_FORM_BYTES}; send fewer items at once"
            )
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        for name, values in fields.items():
            for value in (name, *values):
                if problem := text_problem(value):
                    raise DeskError(f"the form field {name[:30]!r} {problem}")
        form = Form(fields)
        if user is not None and not user.csrf_matches(form.get("csrf")):
            raise DeskError(
                "this form is out of date (its security token does not match "
                "your session): reload the page and try again"
            )
        return form

    def back(self, path: str, *, notice: str | None = None) -> RedirectResponse:
        """A redirect after a post (303), with an optional notice to show."""
        if notice:
            path += ("&" if "?" in path else "?") + "notice=" + quote(notice)
        return RedirectResponse(path, status_code=303)


def install(app: FastAPI, service: MatcherService) -> Desk:
    """Add the desk's pages, its static files and its error pages to `app`."""
    desk = Desk(service)
    _sign_in_pages(desk)
    _account_pages(desk)
    from reclaim.matcher.desk import pages

    pages.install(desk)
    app.include_router(desk.router)
    app.mount(
        "/desk/static",
        StaticFiles(directory=str(HERE / "static")),
        name="desk-static",
    )

    @app.exception_handler(SignInRequired)
    async def _sign_in(_: Request, error: SignInRequired) -> Response:
        return RedirectResponse(
            "/desk/login?next=" + quote(error.path, safe=""), status_code=303
        )

    @app.exception_handler(DeskError)
    async def _refused(request: Request, error: DeskError) -> Response:
        status = 403 if isinstance(error, ForbiddenError) else 400
        if isinstance(error, LoginError):
            status = 401
        return desk.page(
            request,
            "refused.html",
            user=await run_in_threadpool(desk.current, request),
            status=status,
            message=str(error),
        )

    return desk


def safe_next(target: str) -> str:
    """Where to go after signing in or a post: a desk path of this site
    only, else the queue."""
    if target.startswith("/desk") and not target.startswith("//"):
        return target
    return "/desk"


def whole_number(value: str, what: str) -> int:
    """A desk page's id or number, parsed strictly: 1 to 18 ASCII digits (so
    it fits the store's 64-bit integers); DeskError (a 400 page) otherwise."""
    if WHOLE_NUMBER.fullmatch(value) is None:
        raise DeskError(
            f"{value[:20]!r} is not a {what}: expected a whole number of 1 to 18 "
            "digits (0-9); use the desk's own links"
        )
    return int(value)


def _sign_in_pages(desk: Desk) -> None:
    router = desk.router

    @router.get("/desk/login")
    def login_page(request: Request, next: str = "/desk") -> Response:
        if desk.current(request) is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        return desk.page(request, "login.html", user=None, next=safe_next(next))

    @router.post("/desk/login")
    async def login(request: Request) -> Response:
        form = await desk.form(request, None)
        target = safe_next(form.get("next", "/desk"))
        if not desk.sign_ins.acquire(blocking=False):
            busy = desk.page(
                request,
                "login.html",
                user=None,
                status=503,
                next=target,
                error="the desk is busy signing other people in: try again in "
                "a few seconds",
                name=form.get("name")[:64],
            )
            busy.headers["Retry-After"] = "5"
            return busy
        try:
            account = await run_in_threadpool(
                desk.accounts.authenticate,
                form.get("name").strip(),
                form.get("password"),
            )
        except LoginError as error:
            return desk.page(
                request,
                "login.html",
                user=None,
                status=401,
                next=target,
                error=str(error),
                name=form.get("name")[:64],
            )
        finally:
            desk.sign_ins.release()
        token = await run_in_threadpool(desk.sessions.open, account)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(desk.config.session_hours * 3600),
            httponly=True,
            secure=desk.config.secure_cookies,
            samesite="strict",
            path="/",
        )
        return response

    @router.post("/desk/logout")
    async def logout(request: Request) -> Response:
        user = await run_in_threadpool(desk.current, request)
        await desk.form(request, user)
        await run_in_threadpool(desk.sessions.close, request.cookies.get(COOKIE))
        response = RedirectResponse("/desk/login?notice=Signed%20out", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @router.get("/review")
    def old_review_page() -> Response:
        # The bare review table of earlier versions is now the desk's queue.
        return RedirectResponse("/desk", status_code=301)


def _account_pages(desk: Desk) -> None:
    router = desk.router
    admin = Depends(desk.needs(Role.ADMIN))

    @router.get("/desk/accounts")
    def accounts_page(request: Request, user: DeskUser = admin) -> Response:
        return desk.page(
            request, "accounts.html", user=user, accounts=desk.accounts.all()
        )

    @router.post("/desk/accounts")
    async def accounts_change(request: Request, user: DeskUser = admin) -> Response:
        form = await desk.form(request, user)
        action = form.get("action")
        name = form.get("name").strip()
        if action == "add":
            account: Account = await run_in_threadpool(
                lambda: desk.accounts.add(
                    name,
                    form.get("password"),
                    parse_role(form.get("role")),
                    actor=user.name,
                )
            )
            return desk.back("/desk/accounts", notice=f"Account {account.name} added")
        if name == user.name:
            raise DeskError(
                "you cannot change your own role or disable yourself here: ask "
                "another admin, or use `reclaim matcher desk` on the server"
            )
        if action == "role":
            role = parse_role(form.get("role"))
            await run_in_threadpool(
                lambda: desk.accounts.set_role(name, role, actor=user.name)
            )
            return desk.back("/desk/accounts", notice=f"Role of {name} changed")
        if action in ("disable", "enable"):
            await run_in_threadpool(
                lambda: desk.accounts.set_disabled(
                    name, action == "disable", actor=user.name
                )
            )
            return desk.back("/desk/accounts", notice=f"Account {name} {action}d")
        raise DeskError(
            f"{action[:20]!r} is not an account action: expected add, role, "
            "disable or enable"
        )
