"""The web upload takes the new configuration formats: a set of several config files (AWS CLI,
gcloud, kubectl outputs) is checked at upload and read together by the worker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_web_support import HAIRPIN, hairpin_pcap, running, wait_finished
from test_web_upload import app_client

FIX = Path(__file__).resolve().parent / "fixtures" / "lbconfig"


def _files(folder: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [
        ("lb", (p.name, p.read_bytes(), "application/json"))
        for p in sorted((FIX / folder).glob("*.json"))
    ]


@pytest.mark.parametrize("folder", ["aws", "gcloud", "kubectl"])
def test_a_set_of_config_files_is_accepted_and_kept_together(tmp_path: Path, folder: str) -> None:
    client = app_client(tmp_path)
    answer = client.post(
        "/api/v1/analyses",
        files=[("captures", ("a.pcap", hairpin_pcap(), "x/y")), *_files(folder)],
    )
    assert answer.status_code == 202, answer.text
    job = answer.json()
    names = sorted(p.name for p in (FIX / folder).glob("*.json"))
    assert job["lb"]["name"] == ", ".join(names)
    stored = json.loads((tmp_path / "data" / "jobs" / job["id"] / "lb-set.json").read_text())
    assert [name for name, _ in stored] == names


def test_a_broken_set_is_refused_at_upload_with_the_located_problem(tmp_path: Path) -> None:
    files = _files("aws")
    listeners = json.loads((FIX / "aws" / "describe-listeners.json").read_text())
    listeners["Listeners"][1]["DefaultActions"][0]["TargetGroupArn"] += "-gone"
    files = [f for f in files if f[1][0] != "describe-listeners.json"]
    files.append(("lb", ("describe-listeners.json", json.dumps(listeners).encode(), "x/y")))
    client = app_client(tmp_path)
    answer = client.post(
        "/api/v1/analyses", files=[("captures", ("a.pcap", hairpin_pcap(), "x/y")), *files]
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "bad_config"
    assert "describe-listeners.json" in error["message"]
    assert "/Listeners/1/DefaultActions/0/TargetGroupArn" in error["message"]
    assert list((tmp_path / "data" / "jobs").iterdir()) == []


def test_the_worker_analyses_with_a_kubectl_set(tmp_path: Path) -> None:
    capture = HAIRPIN / "web01-eth0.pcap"
    if not capture.exists():
        pytest.skip("sample_captures/hairpin-two-backends is missing")
    with running(tmp_path / "data", workers=1) as server, server.client() as client:
        answer = client.post(
            "/api/v1/analyses",
            files=[
                ("captures", (capture.name, capture.read_bytes(), "x/y")),
                *_files("kubectl"),
            ],
        )
        assert answer.status_code == 202, answer.text
        job = wait_finished(client, answer.json()["id"])
    assert job["status"] == "done", job["error"]
