"""How a job looks to the outside: the API's JSON object, also used by the page templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pcapflow.web.store import Job, JobStore, Status

API = "/api/v1"


@dataclass(frozen=True, slots=True)
class ReportFormat:
    name: str
    extension: str
    media_type: str
    description: str


def report_formats() -> tuple[ReportFormat, ...]:
    """Every format the report registry renders, HTML first (the one shown on the page)."""
    from pcapflow.report import RENDERERS

    specs = sorted(RENDERERS.values(), key=lambda s: (s.name != "html", s.name))
    return tuple(ReportFormat(s.name, s.extension, s.media_type, s.description) for s in specs)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def result_url(job_id: str, fmt: str, *, download: bool = False) -> str:
    return f"{API}/analyses/{job_id}/result/{fmt}" + ("?download=1" if download else "")


def job_view(job: Job, store: JobStore) -> dict[str, Any]:
    """The API representation of a job (stable keys, documented in docs/web.md)."""
    done = job.status is Status.DONE
    return {
        "id": job.id,
        "status": job.status.value,
        "stage": job.stage,
        "created": iso(job.created),
        "started": iso(job.started),
        "finished": iso(job.finished),
        "queue_position": store.queue_position(job) if job.status is Status.QUEUED else None,
        "attempts": job.attempts,
        "os": job.os,
        "checksums": job.checksums,
        "lb": None if job.lb_name is None else {"name": job.lb_name, "format": job.lb_format},
        "captures": [
            {"name": c.name, "file": c.file, "size": c.size, "format": c.format}
            for c in job.captures
        ],
        "verdict": job.verdict,
        "findings": job.summary.get("findings", []) if done else [],
        "labels": job.summary.get("labels", {}) if done else {},
        "by_kind": job.summary.get("by_kind", {}) if done else {},
        "error": job.error,
        "links": {
            "self": f"{API}/analyses/{job.id}",
            "page": f"/analyses/{job.id}",
            "results": {f.name: result_url(job.id, f.name) for f in report_formats()}
            if done
            else {},
        },
    }
