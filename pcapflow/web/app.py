"""The composition root of the web service: store, worker pool, routes, guards, error pages."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pcapflow.web import api, pages
from pcapflow.web.auth import TokenGuard
from pcapflow.web.context import WebContext
from pcapflow.web.errors import STATUS_CODES, WebError
from pcapflow.web.jobs import JobFiles
from pcapflow.web.settings import ServeSettings
from pcapflow.web.store import JobStore
from pcapflow.web.supervisor import WorkerPool

log = logging.getLogger("pcapflow.web")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # "no-referrer" makes Origin "null"
    (b"cache-control", b"no-store"),
]
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def create_app(settings: ServeSettings) -> FastAPI:
    """The ASGI app; its lifespan recovers interrupted jobs and runs the analysis workers."""
    for directory in (settings.data_dir, settings.jobs_dir, settings.staging_dir):
        directory.mkdir(parents=True, exist_ok=True)
    store = JobStore(settings.db_path)
    files = JobFiles(settings)
    ctx = WebContext(
        settings, store, files, WorkerPool(settings, store, files), TokenGuard(settings.token)
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ctx.pool.recover()
        ctx.pool.start()
        try:
            yield
        finally:
            ctx.pool.stop()

    app = FastAPI(
        title="pcapflow",
        summary="Packet-capture analysis for load-balancer hairpin failures",
        version=_version(),
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the interactive docs pull scripts from a CDN: not offered
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.pcapflow = ctx
    app.include_router(api.router)
    app.include_router(pages.router)
    _add_error_handlers(app, ctx)
    app.add_middleware(GuardMiddleware, ctx=ctx)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pcapflow")
    except PackageNotFoundError:
        return "0"


def is_api(path: str) -> bool:
    return path.startswith("/api/")


def error_response(ctx: WebContext, request: Request, err: WebError) -> Response:
    if is_api(request.url.path):
        return JSONResponse(err.body(), err.status, headers=err.headers)
    title = f"{err.status} {err.code.replace('_', ' ')}"
    response = pages.error_page(ctx, err.status, title, err.message)
    response.headers.update(err.headers)
    return response


def _add_error_handlers(app: FastAPI, ctx: WebContext) -> None:
    async def web_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, WebError)
        return error_response(ctx, request, exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = STATUS_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return error_response(ctx, request, WebError(exc.status_code, code, message))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return error_response(ctx, request, WebError(422, "validation_error", problems))

    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error serving %s", request.url.path, exc_info=exc)
        err = WebError(500, "internal_error", f"internal error: {type(exc).__name__}")
        return error_response(ctx, request, err)

    app.add_exception_handler(WebError, web_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, internal_error)


class GuardMiddleware:
    """Token check on every request, a same-origin check on unsafe methods, security headers."""

    def __init__(self, app: ASGIApp, ctx: WebContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self._refusal(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, request: Request) -> Response | None:
        if request.method in UNSAFE_METHODS and not same_origin(request.headers):
            err = WebError(403, "forbidden", "cross-site request refused (Origin does not match)")
            return error_response(self.ctx, request, err)
        if self.ctx.guard.allows(request):
            return None
        if is_api(request.url.path):
            err = WebError(
                401,
                "unauthorized",
                "this server requires a token: send 'Authorization: Bearer TOKEN'",
                {"WWW-Authenticate": 'Bearer realm="pcapflow"'},
            )
            return error_response(self.ctx, request, err)
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return pages.login_redirect(path)


def same_origin(headers: Headers) -> bool:
    """No Origin header (curl, scripts) or one naming this very host."""
    origin = headers.get("origin")
    if origin is None:
        return True
    return origin != "null" and urlsplit(origin).netloc == headers.get("host", "")
