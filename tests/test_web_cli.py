"""`pcapflow serve` options: flags and environment variables reach the settings; bad ones exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

from pcapflow._jitcache import SERVE_DATA_DIR_ENV
from pcapflow.cli import main
from pcapflow.cli.serve import lock_data_dir
from pcapflow.web.settings import ServeSettings

ENV_VARS = (
    "PCAPFLOW_HOST",
    "PCAPFLOW_PORT",
    "PCAPFLOW_DATA_DIR",
    "PCAPFLOW_WORKERS",
    "PCAPFLOW_MAX_UPLOAD",
    "PCAPFLOW_RETENTION_DAYS",
    "PCAPFLOW_TOKEN",
)


class FakeUvicorn:
    """Stands in for uvicorn.run: records what would be served instead of serving it."""

    def __init__(self) -> None:
        self.settings: ServeSettings | None = None
        self.options: dict[str, Any] = {}

    def __call__(self, app: Any, **options: Any) -> None:
        self.settings = app.state.pcapflow.settings
        self.options = options


@pytest.fixture
def fake_uvicorn(monkeypatch: pytest.MonkeyPatch) -> FakeUvicorn:
    fake = FakeUvicorn()
    monkeypatch.setattr(uvicorn, "run", fake)
    for name in (*ENV_VARS, SERVE_DATA_DIR_ENV):  # serve sets the latter: undone after the test
        monkeypatch.delenv(name, raising=False)
    return fake


def test_help_names_every_environment_variable() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for name in ENV_VARS:
        assert name in result.output


def test_flags_reach_the_settings(fake_uvicorn: FakeUvicorn, tmp_path: Path) -> None:
    flags = ["--port", "8123", "--data-dir", str(tmp_path), "--workers", "3"]
    flags += ["--max-upload-size", "20M", "--retention", "7", "--token", "t"]
    result = CliRunner().invoke(main, ["serve", *flags])
    assert result.exit_code == 0, result.output
    assert fake_uvicorn.settings == ServeSettings(
        data_dir=tmp_path.resolve(),
        port=8123,
        workers=3,
        max_upload=20 << 20,
        retention_days=7,
        token="t",
    )
    assert fake_uvicorn.options["host"] == "127.0.0.1" and fake_uvicorn.options["port"] == 8123


def test_environment_variables_reach_the_settings(
    fake_uvicorn: FakeUvicorn, tmp_path: Path
) -> None:
    env = {
        "PCAPFLOW_HOST": "127.0.0.2",
        "PCAPFLOW_PORT": "9001",
        "PCAPFLOW_DATA_DIR": str(tmp_path),
        "PCAPFLOW_WORKERS": "0",
        "PCAPFLOW_MAX_UPLOAD": "1G",
        "PCAPFLOW_RETENTION_DAYS": "0",
        "PCAPFLOW_TOKEN": "from-env",
    }
    result = CliRunner().invoke(main, ["serve"], env=env)
    assert result.exit_code == 0, result.output
    assert fake_uvicorn.settings == ServeSettings(
        data_dir=tmp_path.resolve(),
        host="127.0.0.2",
        port=9001,
        workers=0,
        max_upload=1 << 30,
        retention_days=0,
        token="from-env",
    )


def test_a_bad_size_is_one_line_and_exit_2(fake_uvicorn: FakeUvicorn, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["serve", "--data-dir", str(tmp_path), "--max-upload-size", "lots"]
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "pcapflow: error: invalid size 'lots': expected a number with an optional K, M, G or T"
    ]
    assert fake_uvicorn.settings is None


def test_one_server_per_data_directory(fake_uvicorn: FakeUvicorn, tmp_path: Path) -> None:
    held = lock_data_dir(tmp_path)
    try:
        result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path)])
    finally:
        held.close()
    assert result.exit_code == 2
    assert "another pcapflow serve is already using" in result.output
    assert fake_uvicorn.settings is None


def test_exposing_the_server_without_a_token_warns(
    fake_uvicorn: FakeUvicorn, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        main, ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path), "--workers", "0"]
    )
    assert result.exit_code == 0
    assert "without --token" in result.output


@pytest.mark.parametrize(
    ("flags", "policy"),
    [
        ((), "offload-aware"),
        (("-C",), "ignore"),
        (("--ignore-checksums",), "ignore"),
        (("--validate-checksums",), "verify"),
        (("--checksums", "verify"), "verify"),
    ],
)
def test_the_checksum_options_set_the_servers_default_policy(
    fake_uvicorn: FakeUvicorn, tmp_path: Path, flags: tuple[str, ...], policy: str
) -> None:
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path), *flags])
    assert result.exit_code == 0, result.output
    assert fake_uvicorn.settings == ServeSettings(data_dir=tmp_path.resolve(), checksums=policy)
    assert ("checksum policy" in result.output) == (policy != "offload-aware")


def test_an_unknown_checksum_policy_is_exit_2(fake_uvicorn: FakeUvicorn, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["serve", "--data-dir", str(tmp_path), "--checksums", "sometimes"]
    )
    assert result.exit_code == 2 and fake_uvicorn.settings is None
