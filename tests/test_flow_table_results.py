"""Background flows kept in tables: the same flows, the same JSON, as objects would give."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from pcapflow.flows import read_capture
from pcapflow.flows.records import _AddrCache
from pcapflow.flows.table import TableResults
from pcapflow.lbconfig import load
from pcapflow.pipeline import analyze, analyze_flows
from pcapflow.report import RENDERERS, render
from pcapflow.report.registry import render_chunks
from pcapflow.report.serialize import to_dict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import gen_capture  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "zeek" / "Traces"
SAMPLE = ROOT / "sample_captures" / "mixed"


def _cases(tmp: Path) -> list[Path]:
    synthetic = tmp / "mix.pcap"
    gen_capture.generate(synthetic, 800, 5)  # resets, refusals, unanswered SYNs, DNS
    found = [synthetic, SAMPLE / "web01-eth0.pcapng"]
    found += [p for p in (CORPUS / "ssh" / "ssh.pcap", CORPUS / "ipv6-http-atomic-frag.pcap")
              if p.exists()]  # fmt: skip
    return found


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return _cases(tmp_path_factory.mktemp("tables"))


def test_table_json_is_the_json_of_the_flow_objects(captures: list[Path]) -> None:
    cfg = load([str(SAMPLE / "lb.yaml")])
    tables = 0
    for path in captures:
        result = analyze([path], cfg)
        tables += isinstance(result.flows, TableResults)
        objects = replace(result, flows=tuple(result.flows))
        expected = json.dumps(to_dict(objects), indent=2, ensure_ascii=False) + "\n"
        assert render(result, "json") == expected, path
        for fmt in sorted(RENDERERS):  # every format: tables or objects, the same text
            assert "".join(render_chunks(result, fmt)) == render(objects, fmt), (path, fmt)
    assert tables >= 2  # the synthetic mix and the sample have background flows in tables


def test_background_flows_are_the_flows_read(captures: list[Path]) -> None:
    checked = 0
    for path in captures:
        result = analyze([path], None)
        _info, read = read_capture(path)
        by_uid = {f.uid: f for f in read}
        assert len(result.flows) == len(read)
        background = result.flows.background if isinstance(result.flows, TableResults) else ()
        compared = 0
        for b in background:
            for fr in b.results(0, len(b.table), _AddrCache()):
                assert replace(by_uid[fr.flow.uid], packets=(), packets_truncated=False) == fr.flow
                compared += 1
        assert compared == sum(len(b.table) for b in background)
        checked += compared
    assert checked > 100  # flows kept in tables were compared with the flows read


def test_background_flows_get_the_verdict_and_kind_the_diagnosis_gives(
    captures: list[Path],
) -> None:
    """Judged from their columns, healthy background flows carry what the full diagnosis (every
    flow reconciled with its packets) gives them: label, kind, reason, role and note."""
    cfg = load([str(SAMPLE / "lb.yaml")])
    judged = 0
    for path in captures:
        lean = analyze([path], cfg)
        full = analyze_flows([read_capture(path)], [str(path)], cfg)

        def verdicts(flows: object) -> dict[str, tuple[object, ...]]:
            return {
                f.id: (f.label, f.kind, f.reason, f.role, f.note, f.paired_with)
                for f in flows  # type: ignore[attr-defined]
            }

        assert verdicts(lean.flows) == verdicts(full.flows), path
        if isinstance(lean.flows, TableResults):
            judged += sum(len(b.table) for b in lean.flows.background)
    assert judged > 100  # the check covered flows judged from their columns


def test_flows_from_a_probe_source_range_are_judged_with_their_packets(
    captures: list[Path],
) -> None:
    """Probers with a range of addresses (Google Cloud): flows from the range are read in the
    second pass (pass 1 keeps no packets for ranges) and get what the full diagnosis gives."""
    from pcapflow.model.lb import LbConfig

    cfg = load([str(SAMPLE / "lb.yaml")])
    bal = cfg.load_balancers[0]
    probes = tuple(replace(p, source="", source_ranges=("10.1.0.0/16",)) for p in bal.probes)
    ranged = LbConfig((replace(bal, probes=probes),), cfg.sources)
    synthetic = captures[0]
    lean = analyze([synthetic], ranged)
    full = analyze_flows([read_capture(synthetic)], [str(synthetic)], ranged)
    got = {f.id: (f.label, f.kind, f.reason) for f in lean.flows}
    assert got == {f.id: (f.label, f.kind, f.reason) for f in full.flows}
    assert not isinstance(lean.flows, TableResults) or not any(
        len(b.table) for b in lean.flows.background
    )  # every flow comes from the range: none is judged from its columns alone
