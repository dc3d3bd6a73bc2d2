"""Which operating system this host runs, so that remediations come for the right OS."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

OS_RELEASE = Path("/etc/os-release")
# platform.system() -> the OS family names the remediation catalogue uses.
ANALYSIS_OSES = ("linux", "windows")
FAMILIES = {"Linux": "linux", "Windows": "windows", "Darwin": "macos", "FreeBSD": "freebsd"}


@dataclass(frozen=True, slots=True)
class HostOs:
    family: str  # "linux", "windows", "macos", ... (passed to analyze(os=...))
    distro: str | None = None  # os-release ID, e.g. "debian", "ubuntu", "rhel"
    version: str | None = None
    pretty: str = ""

    @property
    def analysis_os(self) -> str | None:
        """The guest OS for analyze(os=...): linux or windows, else None (inferred)."""
        return self.family if self.family in ANALYSIS_OSES else None

    @property
    def label(self) -> str:
        return self.pretty or self.family


def parse_os_release(text: str) -> dict[str, str]:
    """The KEY=value pairs of an os-release file (quotes removed, comments skipped)."""
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            pairs[key] = value.strip().strip("\"'")
    return pairs


def host_os(system: str | None = None, os_release: str | None = None) -> HostOs:
    """Detect the host OS (arguments only for tests: ``platform.system()`` and os-release text)."""
    system = system or platform.system()
    family = FAMILIES.get(system, system.lower() or "unknown")
    if family != "linux":
        return HostOs(family, pretty=f"{system} {platform.release()}".strip())
    if os_release is None:
        try:
            os_release = OS_RELEASE.read_text(encoding="utf-8", errors="replace")
        except OSError:
            os_release = ""
    info = parse_os_release(os_release)
    return HostOs(
        family,
        distro=info.get("ID"),
        version=info.get("VERSION_ID"),
        pretty=info.get("PRETTY_NAME", "Linux"),
    )
