"""A bounded load test on loopback: 24 concurrent uploads, every job finishes, every result right.

"Right" means byte-identical to the JSON the same engine and renderer produce in this process
for the same capture and config, and carrying the labels the scenario's ground truth expects.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from test_web_support import SAMPLES, Server, running, wait_finished

from pcapflow.lbconfig import load_text
from pcapflow.pipeline import analyze
from pcapflow.report import render

UPLOADS = 24
ROUNDS = UPLOADS // 4


@dataclass(frozen=True)
class Variant:
    scenario: str
    capture: str
    config: str
    labels: frozenset[str]
    compress: bool = False

    @property
    def name(self) -> str:
        return self.capture + (".gz" if self.compress else "")

    def capture_bytes(self) -> bytes:
        data = (SAMPLES / self.scenario / self.capture).read_bytes()
        return gzip.compress(data, mtime=0) if self.compress else data

    def config_text(self) -> str:
        return (SAMPLES / self.scenario / self.config).read_text()


HAIRPIN_LABELS = frozenset({"hairpin_self", "hairpin_other_backend"})
VARIANTS = (
    Variant("hairpin-two-backends", "web01-eth0.pcap", "lb.yaml", HAIRPIN_LABELS),
    Variant("hairpin-two-backends", "web01-eth0.pcapng", "lb.az.json", HAIRPIN_LABELS),
    Variant("hairpin-two-backends", "web01-eth0.pcap", "lb.yaml", HAIRPIN_LABELS, True),
    Variant("single-backend", "web01-eth0.pcap", "lb.yaml", frozenset({"hairpin_self"})),
)


def reference_json(variant: Variant, workdir: Path) -> str:
    """What the engine says about the uploaded file when run on it directly, under its own name
    (the worker stores it as capture-1.* but reports it by the uploaded name)."""
    workdir.mkdir()
    (workdir / variant.name).write_bytes(variant.capture_bytes())
    lb = load_text(variant.config_text(), name=variant.config)
    point = variant.name.split(".", 1)[0]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)
        result = analyze([variant.name], lb, capture_points=[point])
    return render(result, "json")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    for variant in VARIANTS:
        if not (SAMPLES / variant.scenario / variant.capture).exists():
            pytest.skip(f"sample capture {variant.scenario}/{variant.capture} absent")
    with running(tmp_path_factory.mktemp("web-load") / "data", workers=2) as srv:
        yield srv


def upload(server: Server, variant: Variant) -> str:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        answer = client.post(
            "/api/v1/analyses",
            files=[
                ("captures", (variant.name, variant.capture_bytes(), "application/octet-stream")),
                ("lb", (variant.config, variant.config_text().encode(), "text/plain")),
            ],
        )
    assert answer.status_code == 202, answer.text
    job_id: str = answer.json()["id"]
    return job_id


@pytest.mark.timeout(110)
def test_concurrent_uploads_all_finish_with_correct_results(server: Server, tmp_path: Path) -> None:
    work = [variant for _ in range(ROUNDS) for variant in VARIANTS]
    assert len(work) >= 20
    with ThreadPoolExecutor(max_workers=len(work)) as pool:
        job_ids = list(pool.map(lambda v: upload(server, v), work))
    assert len(set(job_ids)) == len(work)

    references = {
        v: reference_json(v, tmp_path / f"ref-{i}") for i, v in enumerate(dict.fromkeys(VARIANTS))
    }
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for job_id, variant in zip(job_ids, work, strict=True):
            job = wait_finished(client, job_id, timeout_s=90)
            assert job["status"] == "done", (variant, job["error"])
            assert variant.labels <= {f["label"] for f in job["findings"]}, variant
            result = client.get(job["links"]["results"]["json"]).text
            assert result == references[variant], variant
        listed = client.get("/api/v1/analyses", params={"limit": 1000}).json()
        assert listed["total"] == len(work)
        assert client.get("/api/v1/health").json()["jobs"]["done"] == len(work)
    shutil.rmtree(tmp_path, ignore_errors=True)
