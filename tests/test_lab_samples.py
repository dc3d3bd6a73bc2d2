"""Committed lab samples: ground_truth.json is well-formed and agrees with its captures (dpkt).

These checks read the packets themselves, independently of pcapflow's analysis: every attempt's
client port is on the wire, connected attempts got a SYN-ACK, hairpins to self show the DNAT'd
copy of the caller's SYN coming back to the caller, and each pcapng holds the same frames.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import dpkt
import pytest
import yaml

from pcapflow.model.result import Label

# the committed samples, or a fresh lab output (CI: python -m pcapflow.lab.regen DIR)
SAMPLES = Path(
    os.environ.get("PCAPFLOW_SAMPLES_DIR")
    or Path(__file__).resolve().parents[1] / "sample_captures"
)
SCENARIOS = sorted(p.parent.name for p in SAMPLES.glob("*/ground_truth.json"))
OUTCOMES = {"connected", "refused", "timeout", "reply", "no_reply"}
ATTEMPT_KEYS = {
    "id": int,
    "proto": str,
    "client": str,
    "client_port": int,
    "frontend": str,
    "frontend_port": int,
    "start": float,
    "outcome": str,
    "expected_label": str,
}

pytestmark = pytest.mark.skipif(not SCENARIOS, reason=f"no lab samples under {SAMPLES}")


@dataclass(frozen=True)
class Pkt:
    proto: str
    src: str
    sport: int
    dst: str
    dport: int
    flags: int  # TCP flags, 0 for UDP
    seq: int


def _addr(raw: bytes) -> str:
    family = socket.AF_INET6 if len(raw) == 16 else socket.AF_INET
    return str(ipaddress.ip_address(socket.inet_ntop(family, raw)))


def _decode(frame: bytes) -> Pkt | None:
    ip = dpkt.ethernet.Ethernet(frame).data
    if not isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6):
        return None
    l4 = ip.data
    if isinstance(l4, dpkt.tcp.TCP):
        return Pkt("tcp", _addr(ip.src), l4.sport, _addr(ip.dst), l4.dport, l4.flags, l4.seq)
    if isinstance(l4, dpkt.udp.UDP):
        return Pkt("udp", _addr(ip.src), l4.sport, _addr(ip.dst), l4.dport, 0, 0)
    return None


@cache
def packets(path: Path) -> tuple[Pkt, ...]:
    with path.open("rb") as f:
        return tuple(p for _, buf in dpkt.pcap.Reader(f) if (p := _decode(buf)) is not None)


@cache
def truth(scenario: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / scenario / "ground_truth.json").read_text())
    return loaded


def all_packets(scenario: str) -> list[Pkt]:
    return [p for c in truth(scenario)["captures"] for p in packets(SAMPLES / scenario / c["file"])]


def caller_packets(scenario: str, caller: str) -> list[Pkt]:
    files = [c["file"] for c in truth(scenario)["captures"] if c["file"].startswith(f"{caller}-")]
    return [p for f in files for p in packets(SAMPLES / scenario / f)]


SYN, ACK = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_ground_truth_is_well_formed(scenario: str) -> None:
    t = truth(scenario)
    assert t["scenario"] == scenario
    assert t["description"] and t["generated"] and t["captures"] and t["attempts"]
    config = yaml.safe_load((SAMPLES / scenario / "lb.yaml").read_text())
    lb = config["load_balancers"][0]
    members = {m["address"] for pool in lb["pools"] for m in pool["members"]}
    frontends = {f["address"] for f in lb["frontends"]}
    assert [a["id"] for a in t["attempts"]] == list(range(1, len(t["attempts"]) + 1))
    for a in t["attempts"]:
        for key, kind in ATTEMPT_KEYS.items():
            assert isinstance(a[key], kind), (a["id"], key)
        assert a["outcome"] in OUTCOMES
        Label(a["expected_label"])  # raises for a label outside pcapflow's vocabulary
        assert a["member"] is None or a["member"] in members
        assert a["frontend"] in frontends
    for p in t.get("probes", []):
        assert p["member"] in members
        Label(p["expected_label"])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_capture_exists_in_pcap_and_pcapng_with_the_same_frames(scenario: str) -> None:
    base = SAMPLES / scenario
    cloud = yaml.safe_load((base / "lb.yaml").read_text())["load_balancers"][0]["cloud"]
    assert (base / "lb.az.json").is_file() == (cloud == "azure")  # Azure: the az CLI form too
    for c in truth(scenario)["captures"]:
        with (base / c["file"]).open("rb") as f:
            pcap = [bytes(buf) for _, buf in dpkt.pcap.Reader(f)]
        with (base / c["pcapng"]).open("rb") as f:
            pcapng = [bytes(buf) for _, buf in dpkt.pcapng.Reader(f)]
        assert pcap == pcapng, c["file"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_attempts_client_port_is_on_the_wire(scenario: str) -> None:
    seen = {(p.proto, p.src, p.sport) for p in all_packets(scenario)}
    missing = [
        a["id"]
        for a in truth(scenario)["attempts"]
        if (a["proto"], a["client"], a["client_port"]) not in seen
    ]
    assert not missing


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_client_outcomes_agree_with_what_came_back(scenario: str) -> None:
    """Only an answer from the frontend counts (IPv6 hairpins get a SYN-ACK from self on lo)."""
    pkts = all_packets(scenario)
    for a in truth(scenario)["attempts"]:
        back = [
            p
            for p in pkts
            if (p.src, p.dst, p.dport) == (a["frontend"], a["client"], a["client_port"])
        ]
        answered = [p for p in back if p.proto == "udp" or p.flags & (SYN | ACK) == SYN | ACK]
        # an idle session connected either way; its outcome is what came after the silence
        connected = a["outcome"] in ("connected", "reply") or "idle_s" in a
        assert bool(answered) == connected, a["id"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_hairpins_to_self_show_the_callers_syn_coming_back_dnatted(scenario: str) -> None:
    t = truth(scenario)
    for a in t["attempts"]:
        if a["expected_label"] != "hairpin_self" or a["proto"] != "tcp":
            continue
        pkts = caller_packets(scenario, a["caller"])
        mine = [p for p in pkts if (p.src, p.sport) == (a["client"], a["client_port"])]
        out = {p.seq for p in mine if p.flags == SYN and p.dst == a["frontend"]}
        back = {p.seq for p in mine if p.flags == SYN and p.dst == a["member"]}
        assert out and out == back, a["id"]
        answers = [p for p in pkts if p.src == a["frontend"] and p.dport == a["client_port"]]
        assert not answers, a["id"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_probe_counts_match_the_expected_probe_labels(scenario: str) -> None:
    for p in truth(scenario).get("probes", []):
        healthy = p["up_rounds"] == p["rounds"] > 0
        assert healthy == (p["expected_label"] == "ok"), p


@pytest.mark.skipif(
    "hairpin-two-backends" not in SCENARIOS, reason="no hairpin-two-backends sample"
)
def test_the_main_job_sample_shows_both_hairpin_outcomes() -> None:
    labels = {a["expected_label"] for a in truth("hairpin-two-backends")["attempts"]}
    assert {"hairpin_self", "hairpin_other_backend", "ok"} <= labels


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_idle_sessions_that_timed_out_sent_data_after_the_silence_unacknowledged(
    scenario: str,
) -> None:
    """The session's data after the idle gap leaves the client again and again and no packet
    of the frontend answers after it (the balancer forgot the flow and dropped it)."""
    pkts = caller_packets(scenario, "client")
    sessions = [a for a in truth(scenario)["attempts"] if a.get("idle_s")]
    for a in sessions:
        out = [p for p in pkts if (p.src, p.sport) == (a["client"], a["client_port"])]
        seqs = [p.seq for p in out if p.flags & dpkt.tcp.TH_PUSH]  # data segments
        retransmitted = len(seqs) != len(set(seqs))
        assert retransmitted == (a["outcome"] == "timeout"), a["id"]
