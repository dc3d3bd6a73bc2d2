"""Take the README screenshot of a report: ``python -m pcapflow.report.screenshot OUT.png``.

By default the report is made by ``analyze()`` on the lab's hairpin sample capture
(``sample_captures/hairpin-two-backends/web01-eth0.pcap``, the first case of
:mod:`pcapflow.report.golden`); ``--html FILE`` shoots an existing report instead.
The shot is the top of the page (verdict, summary and the first ladder diagram), as a small PNG.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from pcapflow.report.browser import chromium_context
from pcapflow.report.golden import case_result


def sample_report() -> str:
    """The HTML report of the first golden case (the lab's hairpin capture), paths relative."""
    from pcapflow.report import render
    from pcapflow.report.golden import CASES, REPO

    here = Path.cwd()
    os.chdir(REPO)
    try:
        return render(case_result(CASES[0]), "html")
    finally:
        os.chdir(here)


def shoot(html_file: Path, out: Path, width: int = 960, height: int = 1200) -> None:
    with chromium_context(width, height) as context:
        page = context.new_page()
        page.goto(html_file.resolve().as_uri())
        page.screenshot(path=str(out), full_page=False)


@click.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--html", "html_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="shoot this report instead of the sample capture's")  # fmt: skip
def main(out: Path, html_file: Path | None) -> None:
    """Write a PNG screenshot of a pcapflow HTML report to OUT."""
    if html_file is not None:
        shoot(html_file, out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(sample_report(), encoding="utf-8")
        shoot(page, out)
    click.echo(f"wrote {out}", err=True)


if __name__ == "__main__":
    sys.exit(main())
