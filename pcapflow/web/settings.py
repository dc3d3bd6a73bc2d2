"""Settings of `pcapflow serve`: one frozen value built by the CLI (flags or environment)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pcapflow.errors import InputError
from pcapflow.model.checksums import DEFAULT_POLICY

_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)

DEFAULT_MAX_UPLOAD = 512 << 20


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """Everything the web service is configured with."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2  # analysis worker processes
    max_upload: int = DEFAULT_MAX_UPLOAD  # bytes per request (all captures + config)
    retention_days: float = 30.0  # 0 = keep forever
    token: str | None = None  # bearer token protecting every endpoint
    job_timeout_s: float = 900.0  # a job running longer is killed and failed
    max_attempts: int = 3  # a job interrupted this many times by restarts is failed
    checksums: str = DEFAULT_POLICY  # checksum policy of an upload that does not choose one

    @property
    def db_path(self) -> Path:
        return self.data_dir / "pcapflow.sqlite3"

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    @property
    def staging_dir(self) -> Path:
        return self.data_dir / "staging"


def parse_size(text: str) -> int:
    """``"512M"`` -> 536870912.  Units K, M, G, T are binary (KiB, MiB, ...); no unit = bytes."""
    match = _SIZE_RE.match(text)
    if match is None:
        raise InputError(f"invalid size {text!r}: expected a number with an optional K, M, G or T")
    size = int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])
    if size <= 0:
        raise InputError(f"invalid size {text!r}: must be more than 0 bytes")
    return size


def format_size(size: int) -> str:
    """536870912 -> ``"512 MiB"`` (for messages)."""
    value, unit = float(size), "bytes"
    for bigger in ("KiB", "MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"
