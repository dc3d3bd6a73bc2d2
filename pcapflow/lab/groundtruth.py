"""Ground truth of a scenario run (pure): what the design expects and what the kernel recorded.

Every attempt's outcome is what the client socket saw; its member is what the balancer chose, read
from the host's conntrack table; its expected label follows from the scenario design for that case.
Nothing here comes from pcapflow's own analysis.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from pcapflow.lab import conntrack
from pcapflow.lab.plan import AttemptPlan, CapturePoint
from pcapflow.lab.scenarios import Scenario, expectation
from pcapflow.lab.topology import member_marks


def _canon(address: str) -> str:
    return str(ipaddress.ip_address(address))


def case_of(scenario: Scenario, caller: str, member: str | None) -> str:
    """``self`` if the balancer chose the calling VM, ``member`` for another one, else ``none``."""
    if member is None:
        return "none"
    own = {_canon(a) for a in scenario.vm(caller).addresses()}
    return "self" if _canon(member) in own else "member"


def _served_by(result: Mapping[str, Any]) -> str | None:
    body = str(result.get("body", ""))
    return body.split()[1] if body.startswith("served-by ") and len(body.split()) > 1 else None


def attempt_record(
    scenario: Scenario,
    plan: AttemptPlan,
    result: Mapping[str, Any],
    table: Mapping[tuple[str, str, int, str, int], conntrack.CtEntry],
) -> dict[str, Any]:
    client = _canon(str(result.get("local") or plan.source))
    key = (plan.proto, client, plan.sport, _canon(plan.frontend), plan.dport)
    member = conntrack.chosen_member(table.get(key), member_marks(scenario))
    case = case_of(scenario, plan.caller, member)
    expect = expectation(plan.step, case)
    return {
        "id": plan.id,
        "proto": plan.proto,
        "client": client,
        "client_port": plan.sport,
        "frontend": plan.frontend,
        "frontend_port": plan.dport,
        "start": round(float(result["start"]), 6),
        "outcome": result["outcome"],
        "member": member,
        "expected_label": expect.label,
        "caller": plan.caller,
        "case": case,
        "expected_outcome": expect.outcome,
        "served_by": _served_by(result),
        **({"idle_s": plan.idle_s} if plan.idle_s > 0 else {}),
    }


def probe_records(scenario: Scenario, rounds: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    port = scenario.lb.probe_port
    if port is None:
        return []
    return [
        {
            "member": member,
            "port": port,
            "expected_label": scenario.probe_expect.get(member, "ok"),
            "rounds": len(rounds),
            "up_rounds": sum(1 for r in rounds if r["up"].get(member)),
        }
        for member in scenario.lb.members
    ]


def capture_records(
    points: Sequence[CapturePoint], netns: Mapping[str, str]
) -> list[dict[str, Any]]:
    return [
        {
            "file": f"{p.stem}.pcap",
            "pcapng": f"{p.stem}.pcapng",
            "point": p.point,
            "namespace": netns[p.ns],
            "iface": p.iface,
        }
        for p in points
    ]


def build(
    scenario: Scenario,
    plans: Sequence[AttemptPlan],
    results: Mapping[int, Mapping[str, Any]],
    entries: Sequence[conntrack.CtEntry],
    probe_rounds: Sequence[Mapping[str, Any]],
    captures: list[dict[str, Any]],
    *,
    generated: str,
    kernel: str,
) -> dict[str, Any]:
    table = conntrack.index(entries)
    records = [attempt_record(scenario, p, results[p.id], table) for p in plans]
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "generated": generated,
        "signature": scenario.signature,
        "remediation": scenario.remediation,
        "kernel": kernel,
        "lb_config": "lb.yaml",
        "captures": captures,
        "attempts": records,
        "probes": probe_records(scenario, probe_rounds),
        "design_ok": all(r["outcome"] == r["expected_outcome"] for r in records),
    }


def missing_cases(scenario: Scenario, truth: Mapping[str, Any]) -> list[str]:
    """Cases the scenario requires of a committed sample that this run did not produce."""
    seen = {a["case"] for a in truth["attempts"]}
    return [c for c in scenario.require_cases if c not in seen]
