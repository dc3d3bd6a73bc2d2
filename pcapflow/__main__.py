"""``python -m pcapflow``: the same command line as the ``pcapflow`` script."""

from pcapflow.cli import main

main(prog_name="pcapflow")
