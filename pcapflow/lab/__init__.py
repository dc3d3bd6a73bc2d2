"""The kernel lab: load-balancer scenarios reproduced in network namespaces, with ground truth.

    from pcapflow.lab import Lab, SCENARIOS, run_scenario
    with Lab("hairpin-two-backends") as lab:
        lab.exec("web01", ["ip", "-br", "addr"])

See docs/lab.md.  Running a lab needs root on Linux; the rest of the package is pure.
"""

from __future__ import annotations

from pcapflow.lab.lab import Lab, check_environment, clean
from pcapflow.lab.runner import run_scenario, run_until_complete
from pcapflow.lab.scenarios import REMEDIATIONS, SCENARIOS, Remediation, Scenario, get_scenario

__all__ = [
    "REMEDIATIONS",
    "SCENARIOS",
    "Lab",
    "Remediation",
    "Scenario",
    "check_environment",
    "clean",
    "get_scenario",
    "run_scenario",
    "run_until_complete",
]
