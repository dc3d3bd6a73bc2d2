"""How loading an ``az network lb show`` pool grows with its members (NIC-based, with ``--nic``).

    python3 benchmarks/bench_lbconfig.py [--members 4000] [--repeat 3]

Loads the same pool with N and 4N members in this one process (the fixtures of
tests/fixtures/lbconfig, members renamed) and prints the seconds of each and their ratio: a
loader linear in the members gives about 4x, a quadratic one about 16x (each member compared with
every member before it, the bug fixed in 87f1552).  Not a test: a ratio to read, on any machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pcapflow.lbconfig import load

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "lbconfig"


def write_pool(folder: Path, members: int) -> tuple[Path, Path]:
    """An ``az network lb show`` document whose first pool has ``members`` NIC members, and the
    matching ``az network nic list`` document."""
    shown = json.loads((FIXTURES / "az-lb-show.json").read_text())
    balancer = shown[0] if isinstance(shown, list) else shown
    template = json.dumps(json.loads((FIXTURES / "az-nic-list.json").read_text())[0])
    nics, refs = [], []
    for i in range(members):
        nic = json.loads(template.replace("vm-we-02-web01-nic2", f"vm-nic{i}"))
        nic["ipConfigurations"][0]["privateIPAddress"] = f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}"
        nics.append(nic)
        refs.append({"id": nic["ipConfigurations"][0]["id"]})
    pool = balancer["backendAddressPools"][0]
    pool["backendIPConfigurations"], pool["loadBalancerBackendAddresses"] = refs, []
    lb, nic_list = folder / f"lb-{members}.json", folder / f"nics-{members}.json"
    lb.write_text(json.dumps(balancer))
    nic_list.write_text(json.dumps(nics))
    return lb, nic_list


def seconds_to_load(lb: Path, nics: Path, repeat: int) -> float:
    runs = []
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        config = load([str(lb)], nic_files=[str(nics)])
        runs.append(time.perf_counter() - started)
    assert config.load_balancers, "the pool did not load"
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        seconds_to_load(*write_pool(Path(tmp), 10), 1)  # imports and caches warmed up
        small = seconds_to_load(*write_pool(Path(tmp), args.members), args.repeat)
        large = seconds_to_load(*write_pool(Path(tmp), 4 * args.members), args.repeat)
    print(f"{args.members:>7} members: {small:.3f} s")
    print(f"{4 * args.members:>7} members: {large:.3f} s")
    print(f"ratio {large / small:.1f}x for 4x the members (linear ~4x, quadratic ~16x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
