"""What a scenario run does, decided before anything runs (pure): attempts and capture points."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pcapflow.lab.kube import BRIDGE, veth
from pcapflow.lab.scenarios import Scenario, Step
from pcapflow.lab.topology import HOST, ports

SETTLE_S = 0.5  # pause before the first attempt, after services are up


@dataclass(frozen=True, slots=True)
class AttemptPlan:
    id: int
    step: Step
    caller: str
    source: str
    sport: int
    frontend: str
    dport: int
    proto: str
    delay_s: float
    timeout_s: float
    idle_s: float = 0.0

    @property
    def duration_s(self) -> float:
        """Upper bound of one attempt: its connect timeout; a session (``idle_s`` > 0) may also
        wait for each of its two echoes and stays idle in between."""
        return self.timeout_s if self.idle_s <= 0 else 3 * self.timeout_s + self.idle_s

    def agent_json(self) -> dict[str, Any]:
        idle = {"idle": self.idle_s} if self.idle_s > 0 else {}
        return {
            **idle,
            "id": self.id,
            "proto": self.proto,
            "src": self.source,
            "sport": self.sport,
            "dst": self.frontend,
            "dport": self.dport,
            "delay": round(self.delay_s, 3),
            "timeout": self.timeout_s,
        }

    @property
    def key(self) -> tuple[str, str, int, str, int]:
        return (self.proto, self.source, self.sport, self.frontend, self.dport)


def attempts(scenario: Scenario) -> tuple[AttemptPlan, ...]:
    """Every attempt of the scenario, numbered from 1; steps follow one another in time."""
    found: list[AttemptPlan] = []
    start = SETTLE_S
    for step in scenario.steps:
        for i, sport in enumerate(step.ports()):
            found.append(
                AttemptPlan(
                    id=len(found) + 1,
                    step=step,
                    caller=step.caller,
                    source=step.source,
                    sport=sport,
                    frontend=scenario.lb.vip,
                    dport=step.port,
                    proto=step.proto,
                    delay_s=start + i * step.gap_s,
                    timeout_s=step.timeout_s,
                    idle_s=step.idle_s,
                )
            )
        start += step.count * step.gap_s
    return tuple(found)


def traffic_duration(scenario: Scenario) -> float:
    """Upper bound of the traffic phase in seconds."""
    plans = attempts(scenario)
    return max((p.delay_s + p.duration_s for p in plans), default=0.0) + 2.0


@dataclass(frozen=True, slots=True)
class CapturePoint:
    ns: str  # logical namespace: a VM name or "host"
    iface: str
    stem: str  # file name without extension: "web01-eth0", "lb-web01-eth0"

    @property
    def point(self) -> str:
        who = "lb" if self.ns == HOST else self.ns
        iface = self.iface if self.ns != HOST else f"port {self.iface}"
        return f"{who} {iface}"


def capture_points(scenario: Scenario) -> tuple[CapturePoint, ...]:
    """Every VM NIC, each backend's lo, and every port of the host (balancer) namespace; on a
    Kubernetes node: every pod's eth0, the bridge and every bridge port."""
    if scenario.kube:
        pods = [CapturePoint(vm.name, "eth0", f"{vm.name}-eth0") for vm in scenario.vms]
        node = [CapturePoint(HOST, BRIDGE, f"lb-{BRIDGE}")]
        node += [CapturePoint(HOST, veth(vm.name), f"lb-{veth(vm.name)}") for vm in scenario.vms]
        return (*pods, *node)
    points: list[CapturePoint] = []
    for vm in scenario.vms:
        points.extend(CapturePoint(vm.name, nic.name, f"{vm.name}-{nic.name}") for nic in vm.nics)
        if vm.role == "backend":
            points.append(CapturePoint(vm.name, "lo", f"{vm.name}-lo"))
    points.extend(CapturePoint(HOST, p.name, f"lb-{p.name}") for p in ports(scenario))
    return tuple(points)
