"""``python -m pcapflow`` runs the command line (the form a checkout without an install uses)."""

import subprocess
import sys


def test_python_dash_m_pcapflow_prints_the_command_list() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pcapflow", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stdout.startswith("Usage: pcapflow ")
    assert "flows" in done.stdout and "analyze" in done.stdout
