"""Lab sample scenarios: each lb.yaml and lb.az.json loads, validates and means the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcapflow.lbconfig import load, validate
from pcapflow.model.lb import LbConfig

SAMPLES = Path(__file__).resolve().parents[1] / "sample_captures"
SCENARIOS = (
    sorted(p for p in SAMPLES.glob("*") if (p / "lb.yaml").exists()) if SAMPLES.is_dir() else []
)
AZURE = [p for p in SCENARIOS if (p / "lb.az.json").exists()]  # AWS/GCP/Kubernetes: YAML only


def _summary(cfg: LbConfig) -> list[tuple[object, ...]]:
    return [
        (
            tuple(f.address for f in lb.frontends),
            tuple(sorted(m.address for p in lb.pools for m in p.members)),
            tuple(
                (r.protocol, r.frontend_port, r.backend_port, r.floating_ip, r.distribution)
                for r in lb.rules
            ),
        )
        for lb in cfg.load_balancers
    ]


@pytest.mark.skipif(not AZURE, reason="sample_captures/ has no Azure scenarios")
@pytest.mark.parametrize("scenario", AZURE, ids=lambda p: p.name)
def test_yaml_and_az_forms_agree(scenario: Path) -> None:
    yaml_cfg = load([str(scenario / "lb.yaml")])
    az_cfg = load([str(scenario / "lb.az.json")])
    assert _summary(yaml_cfg) == _summary(az_cfg)
    for name in ("lb.yaml", "lb.az.json"):
        assert [p for p in validate([str(scenario / name)]) if p.severity.value == "error"] == []


@pytest.mark.skipif(not SCENARIOS, reason="sample_captures/ has no scenarios")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_every_samples_yaml_validates_and_names_its_platform(scenario: Path) -> None:
    (lb,) = load([str(scenario / "lb.yaml")]).load_balancers
    assert lb.cloud in ("azure", "aws", "gcp", "kubernetes")
    assert (lb.cloud == "azure") == (scenario / "lb.az.json").exists()
    assert [p for p in validate([str(scenario / "lb.yaml")]) if p.severity.value == "error"] == []
