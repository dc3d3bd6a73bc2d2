"""Golden report files: every format, for the example result and for real sample captures.

Regenerate (from the repository root) after an intended change to analysis or rendering::

    python -m pcapflow.report.golden            # rewrite tests/golden/**
    python -m pcapflow.report.golden --check    # exit 1 and list the files that differ

``tests/test_report_golden.py`` compares fresh output byte for byte with these files.  Capture
paths are given relative to the repository root, so the files hold no machine-specific path.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from pcapflow.model.result import AnalysisResult
from pcapflow.report.example import hairpin_example
from pcapflow.report.registry import RENDERERS, render

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path("tests") / "golden"


@dataclass(frozen=True, slots=True)
class Case:
    """One golden case: analyse ``captures`` against ``lb`` (paths relative to the repo root)."""

    name: str
    captures: tuple[str, ...]
    lb: tuple[str, ...] = ()


CASES: tuple[Case, ...] = (
    Case(
        "hairpin-two-backends-web01",
        ("sample_captures/hairpin-two-backends/web01-eth0.pcap",),
        ("sample_captures/hairpin-two-backends/lb.yaml",),
    ),
    Case(
        "single-backend-web01-and-client",
        (
            "sample_captures/single-backend/web01-eth0.pcapng",
            "sample_captures/single-backend/client-eth0.pcap",
        ),
        ("sample_captures/single-backend/lb.yaml",),
    ),
    Case(
        "mixed-three-capture-points",
        (
            "sample_captures/mixed/web01-eth0.pcapng",
            "sample_captures/mixed/web02-eth0.pcapng",
            "sample_captures/mixed/client-eth0.pcapng",
        ),
        ("sample_captures/mixed/lb.yaml",),
    ),
    Case(  # a VM's NIC and the balancer's side of it: the same packets at two points
        "mixed-web01-nic-and-balancer-side",
        (
            "sample_captures/mixed/web01-eth0.pcapng",
            "sample_captures/mixed/lb-web01-eth0.pcapng",
        ),
        ("sample_captures/mixed/lb.yaml",),
    ),
    Case(
        "udp-service-web01",
        ("sample_captures/udp-service/web01-eth0.pcap",),
        ("sample_captures/udp-service/lb.yaml",),
    ),
    # one sample per platform of issue 11 (AWS NLB, Google Cloud, Kubernetes)
    Case(
        "aws-nlb-preserve-client-ip-web01",
        ("sample_captures/aws-nlb-preserve-client-ip/web01-eth0.pcap",),
        ("sample_captures/aws-nlb-preserve-client-ip/lb.yaml",),
    ),
    Case(
        "gcp-ilb-local-route-service-down-web01",
        (
            "sample_captures/gcp-ilb-local-route-service-down/web01-eth0.pcap",
            "sample_captures/gcp-ilb-local-route-service-down/web01-lo.pcapng",
        ),
        ("sample_captures/gcp-ilb-local-route-service-down/lb.yaml",),
    ),
    Case(
        "k8s-hairpin-on-web1-and-node",
        (
            "sample_captures/k8s-hairpin-on/web1-eth0.pcap",
            "sample_captures/k8s-hairpin-on/lb-cni0.pcapng",
        ),
        ("sample_captures/k8s-hairpin-on/lb.yaml",),
    ),
)
EXAMPLE = "example"


def case_result(case: Case) -> AnalysisResult:
    """``analyze()`` of one case; call with the repository root as working directory."""
    from pcapflow.lbconfig import load
    from pcapflow.pipeline import analyze

    return analyze(list(case.captures), load(list(case.lb)) if case.lb else None)


def results() -> Iterator[tuple[str, AnalysisResult]]:
    yield EXAMPLE, hairpin_example()
    for case in CASES:
        yield case.name, case_result(case)


def outputs(name: str, result: AnalysisResult) -> dict[Path, str]:
    """Golden file path (relative to the repo root) -> expected content, for every format."""
    return {GOLDEN / name / f"report.{spec.extension}": render(result, fmt)
            for fmt, spec in sorted(RENDERERS.items())}  # fmt: skip


@click.command()
@click.option("--check", is_flag=True, help="Only compare; exit 1 when a file differs.")
def main(check: bool) -> None:
    """Regenerate (or --check) the golden report files under tests/golden/."""
    os.chdir(REPO)
    differ: list[str] = []
    for name, result in results():
        for path, content in outputs(name, result).items():
            old = path.read_text(encoding="utf-8") if path.exists() else None
            if old == content:
                continue
            differ.append(str(path))
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")
    verb = "differ" if check else "rewritten"
    click.echo(f"{len(differ)} golden file(s) {verb}" + "".join(f"\n  {p}" for p in differ))
    sys.exit(1 if check and differ else 0)


if __name__ == "__main__":
    main()
