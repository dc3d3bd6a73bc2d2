"""``pcapflow warmup``: compile every packet kernel now, into this user's cache.

For images and shared hosts: run it as the user that will run pcapflow (or with
``NUMBA_CACHE_DIR`` set where that user can read and write), and its first analysis starts warm.
"""

from __future__ import annotations

import click

from pcapflow.cli import main


@main.command()
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="Print nothing but errors and warnings (no compile notice, no 'kernels ready').",
)
def warmup(quiet: bool) -> None:
    """Compile the packet kernels ahead of time (the first run does it otherwise)."""
    from pcapflow import _jitnotice
    from pcapflow.warm import warm

    report = warm()
    _jitnotice.end_line()  # the compile notice's line ends before the result is printed
    if report.cache_dir is None:
        click.echo(
            f"pcapflow: kernels compiled in {report.seconds:.1f} s but not cached: no writable "
            "cache directory (set NUMBA_CACHE_DIR)",
            err=True,
        )
        return
    if not quiet:
        click.echo(f"kernels ready ({report.seconds:.1f} s), cached in {report.cache_dir}")
