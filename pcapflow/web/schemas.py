"""Response shapes of the JSON API, for the OpenAPI document (and checked on the way out)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from pcapflow.model.checksums import DEFAULT_POLICY


class CaptureOut(BaseModel):
    name: str = Field(description="the uploaded file name (display only)")
    file: str = Field(description="the generated name it was stored and analysed under")
    size: int
    format: str = Field(description="from the magic bytes: pcap, pcap-ns, pcapng, gzip+pcap, ...")


class ConfigOut(BaseModel):
    name: str = Field(description="the config file name, or <pasted>")
    format: str | None = Field(description="the format asked for; null = detected")


class RemediationOut(BaseModel):
    id: str
    title: str


class FindingOut(BaseModel):
    id: str
    label: str
    failure: bool
    title: str
    count: int
    caller: str | None
    frontend: str | None
    remediations: list[RemediationOut]


class LinksOut(BaseModel):
    self: str
    page: str
    results: dict[str, str] = Field(description="format -> URL of the report (when done)")


class JobOut(BaseModel):
    id: str
    status: str = Field(description="queued, running, done or failed")
    stage: str
    created: str | None
    started: str | None
    finished: str | None
    queue_position: int | None = Field(description="1 = next to run; null unless queued")
    attempts: int
    os: str | None
    checksums: str = Field(
        default=DEFAULT_POLICY,
        description="checksum policy the captures are read with: offload-aware (default), "
        "ignore (-C) or verify (--validate-checksums)",
    )
    lb: ConfigOut | None
    captures: list[CaptureOut]
    verdict: str | None = Field(description="healthy, hairpin failure, failures found")
    findings: list[FindingOut]
    labels: dict[str, int] = Field(description="calls to a load-balancer frontend per label")
    by_kind: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="every connection per kind (frontend_call, member_leg, health_probe, "
        "direct_call, other) and label",
    )
    error: str | None
    links: LinksOut


class JobListOut(BaseModel):
    analyses: list[JobOut]
    total: int
    limit: int
    offset: int


class HealthOut(BaseModel):
    status: str
    workers: int = Field(description="analysis worker processes alive")
    ready: bool = Field(
        description="every worker has compiled its kernels and takes jobs at once "
        "(false while they warm up after a start)"
    )
    workers_warm: int = Field(description="workers that have compiled their kernels")
    jobs: dict[str, int] = Field(description="jobs per status")


class ReadyOut(BaseModel):
    ready: bool = Field(description="every worker has compiled its kernels")
    workers: int = Field(description="analysis worker processes alive")
    workers_warm: int = Field(description="workers that have compiled their kernels")
