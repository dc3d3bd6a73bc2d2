"""Server-rendered pages: upload, job (status, then the report), list, delete, login."""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pcapflow.lbconfig.loader import FORMATS as CONFIG_FORMATS
from pcapflow.web import jobs
from pcapflow.web.api import find_job
from pcapflow.web.auth import COOKIE
from pcapflow.web.context import WebContext, context
from pcapflow.web.errors import WebError
from pcapflow.web.settings import format_size
from pcapflow.web.store import Status
from pcapflow.web.upload import MAX_CAPTURES
from pcapflow.web.views import job_view, report_formats, result_url

router = APIRouter(include_in_schema=False)
Ctx = Annotated[WebContext, Depends(context)]

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("pcapflow.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters["size"] = format_size
VERDICT_STYLE = {"healthy": "ok", "hairpin failure": "bad", "failures found": "bad"}
CHECKSUM_CHOICES = (  # the upload form's words for each policy (pcapflow.model.checksums)
    ("offload-aware", "left out, unless left unfinished by checksum offload (offload-aware)"),
    ("ignore", "counted all the same, e.g. in rewritten or anonymised traces (ignore, -C)"),
    ("verify", "left out, offloaded ones too (verify, --validate-checksums)"),
)


def page(ctx: WebContext, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """Render a template with a per-response nonce for its inline script."""
    nonce = secrets.token_urlsafe(16)
    values.setdefault("show_logout", ctx.guard.enabled)
    html = TEMPLATES.get_template(template).render(
        nonce=nonce, verdict_style=VERDICT_STYLE, **values
    )
    return HTMLResponse(html, status_code, headers={"Content-Security-Policy": page_csp(nonce)})


def page_csp(nonce: str) -> str:
    return (
        f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
        "img-src 'self' data:; frame-src 'self'; frame-ancestors 'none'; form-action 'self'"
    )


def error_page(ctx: WebContext, status: int, title: str, message: str) -> HTMLResponse:
    return page(ctx, "error.html.j2", status, title=title, message=message, code=status)


@router.get("/", response_class=HTMLResponse)
def upload_page(ctx: Ctx) -> HTMLResponse:
    return upload_form(ctx)


def upload_form(ctx: WebContext, error: str | None = None, status: int = 200) -> HTMLResponse:
    return page(
        ctx,
        "upload.html.j2",
        status,
        error=error,
        max_upload=ctx.settings.max_upload,
        max_captures=MAX_CAPTURES,
        config_formats=CONFIG_FORMATS,
        checksum_choices=CHECKSUM_CHOICES,
        checksums_default=ctx.settings.checksums,
        recent=[job_view(j, ctx.store) for j in ctx.store.recent(limit=5)],
    )


@router.post("/analyses")
async def upload_submit(request: Request, ctx: Ctx) -> Response:
    """The form without JavaScript: same upload handling as the API, then the job page."""
    try:
        job = await ctx.submit(request)
    except WebError as exc:
        return upload_form(ctx, error=exc.message, status=exc.status)
    return RedirectResponse(f"/analyses/{job.id}", status_code=303)


@router.get("/analyses", response_class=HTMLResponse)
def list_page(ctx: Ctx, offset: int = 0) -> HTMLResponse:
    limit = 50
    found = ctx.store.recent(limit=limit, offset=max(0, offset))
    return page(
        ctx,
        "list.html.j2",
        analyses=[job_view(j, ctx.store) for j in found],
        total=ctx.store.count(),
        offset=max(0, offset),
        limit=limit,
    )


@router.get("/analyses/{job_id}", response_class=HTMLResponse)
def job_page(job_id: str, ctx: Ctx) -> HTMLResponse:
    job = find_job(ctx, job_id)
    formats = report_formats() if job.status is Status.DONE else ()
    return page(
        ctx,
        "job.html.j2",
        job=job_view(job, ctx.store),
        finished=job.status.finished,
        formats=formats,
        downloads=[(f, result_url(job.id, f.name, download=True)) for f in formats],
        report_url=result_url(job.id, "html") if any(f.name == "html" for f in formats) else None,
    )


@router.post("/analyses/{job_id}/delete")
def delete_submit(job_id: str, ctx: Ctx) -> RedirectResponse:
    find_job(ctx, job_id)
    jobs.delete(job_id, ctx.store, ctx.files)
    return RedirectResponse("/analyses", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(ctx: Ctx, next: str = "/") -> HTMLResponse:
    return page(ctx, "login.html.j2", next=safe_next(next), error=None, show_logout=False)


@router.post("/login", response_model=None)
def login_submit(
    ctx: Ctx, token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"
) -> Response:
    if not ctx.guard.check_token(token):
        return page(
            ctx, "login.html.j2", 401, next=safe_next(next), error="Wrong token.", show_logout=False
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(COOKIE, ctx.guard.session, httponly=True, samesite="strict", path="/")
    return response


@router.post("/logout")
def logout_submit() -> RedirectResponse:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def safe_next(target: str) -> str:
    """Only local paths: a login link must not send the browser elsewhere."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_redirect(path: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
