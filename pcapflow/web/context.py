"""The service's shared parts, built once by :func:`pcapflow.web.app.create_app`."""

from __future__ import annotations

from dataclasses import dataclass

import anyio.to_thread
from starlette.requests import Request

from pcapflow.web import jobs, upload
from pcapflow.web.auth import TokenGuard
from pcapflow.web.jobs import JobFiles
from pcapflow.web.settings import ServeSettings
from pcapflow.web.store import Job, JobStore
from pcapflow.web.supervisor import WorkerPool


@dataclass(frozen=True, slots=True)
class WebContext:
    settings: ServeSettings
    store: JobStore
    files: JobFiles
    pool: WorkerPool
    guard: TokenGuard

    async def submit(self, request: Request) -> Job:
        """Receive an upload (streamed to disk) and queue it; the job is committed on return."""
        submission = await upload.receive(
            request.headers.get("content-type", ""),
            request.headers.get("content-length"),
            request.stream(),
            self.files.staging,
            self.settings.max_upload,
        )
        return await anyio.to_thread.run_sync(
            jobs.accept, submission, self.store, self.files, self.settings.checksums
        )


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.pcapflow
    return ctx
