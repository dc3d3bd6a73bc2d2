"""The JSON API under ``/api/v1``: create an analysis, poll it, fetch its reports, list, delete."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from pcapflow.model.checksums import CHECKSUM_POLICIES
from pcapflow.web import jobs
from pcapflow.web.context import WebContext, context
from pcapflow.web.errors import WebError, not_found
from pcapflow.web.schemas import HealthOut, JobListOut, JobOut, ReadyOut
from pcapflow.web.store import Job, Status
from pcapflow.web.views import API, job_view, report_formats

router = APIRouter(prefix=API, tags=["analyses"])
Ctx = Annotated[WebContext, Depends(context)]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
ERROR_RESPONSE = {"content": {"application/json": {"schema": ERROR_SCHEMA}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, **ERROR_RESPONSE}
    for status, text in {
        400: "bad request or bad config",
        401: "token required",
        404: "no such analysis",
        409: "analysis not finished, or failed",
        413: "upload too large",
        415: "not a packet capture",
        422: "bad query parameter",
    }.items()
}
UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["captures"],
                "properties": {
                    "captures": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "description": "pcap, pcapng, or gzip of either (recognised by content)",
                    },
                    "lb": {
                        "type": "string",
                        "format": "binary",
                        "description": "LB config file (repeat the field for a set of aws, "
                        "gcloud or kubectl outputs)",
                    },
                    "lb_text": {"type": "string", "description": "LB config pasted as text"},
                    "lb_format": {"type": "string", "description": "config format; auto-detected"},
                    "os": {"type": "string", "enum": ["linux", "windows", "auto"]},
                    "checksums": {
                        "type": "string",
                        "enum": [*CHECKSUM_POLICIES, "default"],
                        "description": "checksum policy: offload-aware (wrong checksums keep "
                        "their packets out unless left for offload), ignore (count every packet, "
                        "-C), verify (keep out every wrong one); default: the server's",
                    },
                },
            }
        }
    },
}


def find_job(ctx: WebContext, job_id: str) -> Job:
    job = ctx.store.get(job_id) if jobs.JOB_ID_RE.match(job_id) else None
    if job is None:
        raise not_found(f"analysis {job_id!r}")
    return job


@router.post(
    "/analyses",
    status_code=202,
    summary="Upload captures (and a config) for analysis",
    openapi_extra={"requestBody": UPLOAD_BODY},
    responses={202: {"model": JobOut, "description": "accepted and queued"}, **ERRORS},
)
async def create_analysis(request: Request, ctx: Ctx) -> JSONResponse:
    """The upload is streamed to disk; the job is recorded (queued) before this answers 202."""
    job = await ctx.submit(request)
    view = await anyio.to_thread.run_sync(job_view, job, ctx.store)
    return JSONResponse(view, status_code=202, headers={"Location": view["links"]["self"]})


@router.get(
    "/analyses",
    summary="List analyses, newest first",
    response_model=JobListOut,
    responses=ERRORS,
)
def list_analyses(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    found = ctx.store.recent(limit=limit, offset=offset)
    return {
        "analyses": [job_view(job, ctx.store) for job in found],
        "total": ctx.store.count(),
        "limit": limit,
        "offset": offset,
    }


@router.get(
    "/analyses/{job_id}",
    summary="Status (and findings) of one analysis",
    response_model=JobOut,
    responses=ERRORS,
)
def get_analysis(job_id: str, ctx: Ctx) -> dict[str, Any]:
    return job_view(find_job(ctx, job_id), ctx.store)


@router.get(
    "/analyses/{job_id}/result/{fmt}",
    summary="The report in one format (json, html, markdown, csv, text, zeek)",
    responses={200: {"content": {"application/json": {}, "text/html": {}}}, **ERRORS},
    response_class=FileResponse,
)
def get_result(
    job_id: str, fmt: str, ctx: Ctx, download: Annotated[bool, Query()] = False
) -> FileResponse:
    job = find_job(ctx, job_id)
    spec = next((f for f in report_formats() if f.name == fmt), None)
    if spec is None:
        known = ", ".join(f.name for f in report_formats())
        raise not_found(f"report format {fmt!r} (known: {known})")
    if job.status is Status.FAILED:
        raise WebError(409, "analysis_failed", f"the analysis failed: {job.error}")
    if job.status is not Status.DONE:
        raise WebError(409, "not_ready", f"the analysis is {job.status.value}; poll it until done")
    path = ctx.files.report(job.id, spec.extension)
    if not path.is_file():
        raise not_found(f"{fmt} report for analysis {job_id!r} (rendered before it existed)")
    headers = {"Content-Security-Policy": REPORT_CSP} if fmt == "html" else {}
    return FileResponse(
        path,
        media_type=spec.media_type,
        filename=f"pcapflow-{job.id}.{spec.extension}",
        content_disposition_type="attachment" if download else "inline",
        headers=headers,
    )


@router.delete(
    "/analyses/{job_id}", status_code=204, summary="Delete an analysis", responses=ERRORS
)
def delete_analysis(job_id: str, ctx: Ctx) -> Response:
    find_job(ctx, job_id)
    if not jobs.delete(job_id, ctx.store, ctx.files):
        raise not_found(f"analysis {job_id!r}")
    return Response(status_code=204)


@router.get(
    "/health", summary="Liveness: workers running and jobs per status", response_model=HealthOut
)
def health(ctx: Ctx) -> dict[str, Any]:
    return {
        "status": "ok",
        "workers": ctx.pool.alive,
        "ready": ctx.pool.ready,
        "workers_warm": ctx.pool.warm,
        "jobs": ctx.store.counts(),
    }


@router.get(
    "/ready",
    summary="Readiness: 200 once every worker has compiled its kernels, 503 while warming up",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "workers still warming up"}},
)
def ready(ctx: Ctx) -> JSONResponse:
    body = {"ready": ctx.pool.ready, "workers": ctx.pool.alive, "workers_warm": ctx.pool.warm}
    return JSONResponse(body, status_code=200 if body["ready"] else 503)


# The HTML report is shown inside the app: no scripts of its own may reach the app's origin.
REPORT_CSP = (
    "sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
    "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'"
)
