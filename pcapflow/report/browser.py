"""Open reports in the system's headless Chromium (Debian ``/usr/bin/chromium``) via Playwright.

No browser is ever downloaded: Playwright drives the installed binary.  Used by the browser tests
and by :mod:`pcapflow.report.screenshot`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pcapflow.errors import InputError

CHROMIUM = os.environ.get("PCAPFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium_missing() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    if not Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is None:
        return f"chromium not found at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


@contextmanager
def chromium_context(width: int = 1100, height: int = 900) -> Iterator[Any]:
    """A fresh browser context (new temporary profile), closed on exit."""
    problem = chromium_missing()
    if problem:
        raise InputError(problem)
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="pcapflow-chromium-") as profile,
        sync_playwright() as pw,
    ):
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=list(CHROMIUM_ARGS),
            viewport={"width": width, "height": height},
        )
        try:
            yield context
        finally:
            context.close()
