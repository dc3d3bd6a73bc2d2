"""Regenerate lab captures: ``python -m pcapflow.lab.regen OUTDIR [SCENARIO ...]``.

``python -m pcapflow.lab.regen --check`` only tells (exit 0 or 2) whether the lab can run here.

Runs every scenario (or the named ones; ``SCENARIO+REMEDIATION`` for a remediated run, as in
:data:`REMEDIATED`) into ``OUTDIR/<scenario>/``, re-running a scenario (a few
times at most) until it shows every case its committed sample needs.  Exit 0 on success, 2 with a
one-line error when the lab cannot run here (not root, no namespaces, missing tools).
"""

from __future__ import annotations

import sys
from pathlib import Path

from pcapflow.errors import PcapflowError
from pcapflow.lab.runner import run_until_complete
from pcapflow.lab.scenarios import SCENARIOS, get_scenario
from pcapflow.lab.shell import check_environment, check_namespaces

GEN_PREFIX = "pfl-gen"
# committed "after" samples of a remediation, named as `pcapflow lab run` names their directory
REMEDIATED = ("hairpin-two-backends+loopback-vip-floating-ip",)


def regenerate(out_dir: Path, names: list[str] | None = None) -> list[Path]:
    check_environment(nginx=True, iptables=True)
    check_namespaces()
    written = []
    for name in names or [*SCENARIOS, *REMEDIATED]:
        base, _, remediation = name.partition("+")
        scenario = get_scenario(base, remediation or None)
        target = out_dir / scenario.name
        truth = run_until_complete(scenario, target, prefix=GEN_PREFIX, log=_log)
        labels = sorted({a["expected_label"] for a in truth["attempts"]})
        _log(f"{scenario.name}: {len(truth['attempts'])} attempts, labels {', '.join(labels)}")
        written.append(target)
    return written


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    try:
        if args[0] == "--check":
            check_environment(nginx=True, iptables=True)
            check_namespaces()
            return 0
        regenerate(Path(args[0]), args[1:] or None)
    except PcapflowError as exc:
        print(f"pcapflow: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
