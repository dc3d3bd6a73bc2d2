"""How `pcapflow serve` starts its workers: the server's own pcapflow, warm-up readiness files."""

from __future__ import annotations

import json
import os
import site
from pathlib import Path

import pytest

from pcapflow.web import supervisor
from pcapflow.web.worker import ready_file


def test_a_source_checkout_is_put_on_the_workers_path_first() -> None:
    root = os.path.realpath(supervisor.PACKAGE_ROOT)
    if root in {os.path.realpath(p) for p in site.getsitepackages()}:
        pytest.skip("pcapflow is installed in site-packages here")
    env = supervisor.worker_pythonpath("/elsewhere")
    assert env["PYTHONPATH"].split(os.pathsep) == [supervisor.PACKAGE_ROOT, "/elsewhere"]


def test_an_installed_pcapflow_leaves_the_path_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(site, "getsitepackages", lambda: [supervisor.PACKAGE_ROOT])
    assert supervisor.worker_pythonpath("/elsewhere") == {}


def test_each_worker_has_its_own_ready_file(tmp_path: Path) -> None:
    one, other = ready_file(tmp_path, "abc-w1"), ready_file(tmp_path, "abc-w2")
    assert one != other and one.parent == other.parent == tmp_path / "workers"


@pytest.mark.parametrize(("warm", "status"), [(0, 503), (1, 503), (2, 200)])
def test_ready_answers_503_until_every_worker_is_warm(warm: int, status: int) -> None:
    from types import SimpleNamespace

    from pcapflow.web.api import ready

    pool = SimpleNamespace(alive=2, warm=warm, ready=warm == 2)
    answer = ready(SimpleNamespace(pool=pool))  # type: ignore[arg-type]
    assert answer.status_code == status
    assert json.loads(answer.body) == {"ready": warm == 2, "workers": 2, "workers_warm": warm}
