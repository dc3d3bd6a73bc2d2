"""Take the README screenshot of a report: ``python -m pcapflow.report.screenshot OUT.png``.

By default the report is made by ``analyze()`` on the lab's hairpin sample capture
(``sample_captures/hairpin-two-backends``); ``--html FILE`` shoots an existing report instead.
The shot is the top of the page (verdict, summary and the first ladder diagram), as a small PNG.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from pcapflow.report.browser import chromium_context

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_captures" / "hairpin-two-backends"


def sample_report() -> str:
    """The HTML report of the hairpin sample capture."""
    from pcapflow.lbconfig import load
    from pcapflow.pipeline import analyze
    from pcapflow.report import render

    result = analyze([SAMPLE / "web01-eth0.pcap"], load([str(SAMPLE / "lb.yaml")]))
    return render(result, "html")


def shoot(html_file: Path, out: Path, width: int = 1000, height: int = 1250) -> None:
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
