"""The live commands' shells: exit status, --json, --quiet, colour rules, one-line errors.

The capture-and-attempt part of ``probe`` and the engine behind ``explain`` are replaced by
hand-written fakes built on the reports' example result (web01 calling its own frontend: 8
attempts, 3 sent back to itself); the real thing runs in tests/test_live_netns.py.
"""

from __future__ import annotations

import json
import re
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from pcapflow.cli import main
from pcapflow.live import probe as probe_mod
from pcapflow.live.attempts import Attempt
from pcapflow.live.hostos import HostOs
from pcapflow.live.present import Style, diagnosis_lines, probe_lines, use_colour
from pcapflow.live.probe import ProbeRequest, ProbeRun, summarize
from pcapflow.live.target import Target
from pcapflow.model.lb import LbConfig
from pcapflow.model.result import AnalysisResult, Label
from pcapflow.report.example import hairpin_example, healthy_example

TARGET = Target("10.2.1.100", 80)
LINUX = HostOs("linux", "debian", "12", "Debian GNU/Linux 12 (bookworm)")
ANSI = "\x1b["


def _attempts(result: AnalysisResult) -> list[Attempt]:
    """What the sockets would have said for the example's attempts."""
    outbound = [f for f in result.flows if f.role == "outbound"]
    return [
        Attempt(
            n,
            "tcp",
            f.flow.orig_h,
            f.flow.orig_p,
            TARGET.address,
            TARGET.port,
            f.flow.ts,
            3.0 if f.label is Label.HAIRPIN_SELF else 0.001,
            "timeout" if f.label is Label.HAIRPIN_SELF else "connected",
        )
        for n, f in enumerate(outbound, 1)
    ]


def _fake_run(result: AnalysisResult):  # type: ignore[no-untyped-def]
    def run(request: ProbeRequest, notify: Callable[[str], None]) -> ProbeRun:
        assert request.target == TARGET
        notify("capturing on eth0, lo with dumpcap; 8 tcp attempts on 10.2.1.100:80...")
        return ProbeRun(summarize(_attempts(result), result, request.target, LINUX), result)

    return run


@pytest.fixture
def hairpin(monkeypatch: pytest.MonkeyPatch) -> AnalysisResult:
    result = hairpin_example()
    monkeypatch.setattr(probe_mod, "run_probe", _fake_run(result))
    return result


def _invoke(args: Sequence[str], **env: str) -> tuple[int, str, str]:
    done = CliRunner().invoke(main, list(args), env=env or None)
    return done.exit_code, done.stdout, done.stderr


# ---- probe ------------------------------------------------------------------------------------
def test_probe_finding_hairpins_exits_3_and_says_why(hairpin: AnalysisResult) -> None:
    code, out, _ = _invoke(["probe", "10.2.1.100:80"])
    assert code == 3
    assert "8 attempts, 3 failed" in out
    assert "HAIRPIN: 3 of 8 attempts failed, every one sent back to this host" in out
    assert "expected 1/2 = 50% with 2 pool members: consistent (p = 0.73)" in out
    assert "Remediation for this host (Debian GNU/Linux 12 (bookworm))" in out
    assert ANSI not in out


def test_probe_json_carries_the_attempts_and_the_result(hairpin: AnalysisResult) -> None:
    code, out, _ = _invoke(["probe", "10.2.1.100:80", "--json"])
    payload = json.loads(out)
    assert code == 3
    probe = payload["probe"]
    assert (probe["failed"], probe["hairpin_self"], probe["hairpin_signature"]) == (3, 3, True)
    assert [a["label"] for a in probe["attempts"]].count("hairpin_self") == 3
    assert payload["result"]["schema_version"] == hairpin.schema_version


def test_probe_quiet_is_one_line(hairpin: AnalysisResult) -> None:
    code, out, err = _invoke(["probe", "10.2.1.100:80", "--quiet"])
    assert code == 3
    assert out.count("\n") == 1 and out.startswith("HAIRPIN") and err == ""


def test_probe_reports_progress_on_stderr_only(hairpin: AnalysisResult) -> None:
    _, out, err = _invoke(["probe", "10.2.1.100:80", "--json"])
    assert err.startswith("pcapflow probe: capturing on eth0, lo with dumpcap")
    assert json.loads(out)["probe"]["target"] == "10.2.1.100:80"


def test_a_healthy_probe_exits_0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_mod, "run_probe", _fake_run(healthy_example()))
    code, out, _ = _invoke(["probe", "10.2.1.100:80", "-q"])
    assert (code, out.startswith("OK: all")) == (0, True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["probe", "10.2.1.100"], "is not VIP:PORT"),
        (["probe", "10.2.1.100:80", "--count", "0"], "--count"),
        (["probe", "10.2.1.100:80", "--timeout", "0"], "--timeout"),
        (["probe", "10.2.1.100:80", "--lb", "/nonexistent/lb.yaml"], "lb.yaml"),
    ],
)
def test_probe_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    code, out, err = _invoke(args)
    assert code == 2
    assert err.startswith("pcapflow: error:") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err + out


def test_probe_without_a_capture_tool_says_so(tmp_path: Path) -> None:
    code, _, err = _invoke(["probe", "10.2.1.100:80"], PATH=str(tmp_path))
    assert code == 2
    assert "no capture tool: install dumpcap" in err


def test_without_a_declared_pool_one_in_n_is_not_guessed() -> None:
    """Without a pool the caller sees only itself as a member: N would wrongly be 1."""
    result = hairpin_example()
    summary = summarize(_attempts(result), result, TARGET, LINUX, pool_declared=False)
    assert summary.hairpin_signature
    assert summary.expected_rate is None and summary.rate_fits is None
    assert summary.to_dict()["p_value"] is None
    (rate,) = diagnosis_lines(summary, Style(False))[1:]
    assert "declare the backend pool (--lb or --backend)" in rate


# ---- colour -------------------------------------------------------------------------------------
class _Tty:
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    assert use_colour(_Tty(), {}) is True  # type: ignore[arg-type]
    assert use_colour(_Tty(), {"NO_COLOR": "1"}) is False  # type: ignore[arg-type]
    assert use_colour(None, {}) is False or sys.stdout.isatty()


def test_coloured_lines_differ_only_by_escapes() -> None:
    result = hairpin_example()
    summary = summarize(_attempts(result), result, TARGET, LINUX)
    plain, coloured = probe_lines(summary, Style(False)), probe_lines(summary, Style(True))
    assert ANSI not in "".join(plain) and ANSI in "".join(coloured)
    assert [_strip(line) for line in coloured] == plain
    assert diagnosis_lines(summary, Style(False))[0].startswith("HAIRPIN")


def _strip(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# ---- watch ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["watch", "--file", "x.pcap"], "--lb CONFIG"),
        (
            [
                "watch",
                "--file",
                "x.pcap",
                "--iface",
                "eth0",
                "--vip",
                "10.2.1.100:80",
                "--backend",
                "10.2.1.4",
            ],
            "not both",
        ),
        (
            [
                "watch",
                "--file",
                "x.pcap",
                "--interval",
                "0",
                "--vip",
                "10.2.1.100:80",
                "--backend",
                "10.2.1.4",
            ],
            "--interval",
        ),
    ],
)
def test_watch_bad_input_exits_2(args: list[str], message: str) -> None:
    code, _, err = _invoke(args)
    assert code == 2 and message in err


# ---- explain (engine faked) ---------------------------------------------------------------------
@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> AnalysisResult:
    result = hairpin_example()

    def analyze(captures: Sequence[str], lb: LbConfig | None = None, **_: object) -> AnalysisResult:
        assert list(captures) == ["web01-eth0.pcap"]
        return result

    fake = types.ModuleType("pcapflow.pipeline")
    fake.analyze = analyze  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pcapflow.pipeline", fake)
    return result


def _flow(result: AnalysisResult, label: Label) -> str:
    return next(f.id for f in result.flows if f.role == "outbound" and f.label is label)


def test_explain_a_hairpin_flow_exits_3_with_its_story(engine: AnalysisResult) -> None:
    flow = _flow(engine, Label.HAIRPIN_SELF)
    code, out, _ = _invoke(["explain", "web01-eth0.pcap", "--flow", flow])
    assert code == 3
    assert out.startswith(f"Connection {flow}:")
    assert "Leg 2 of 2, load balancer to member" in out


def test_explain_by_frame_finds_the_same_connection(engine: AnalysisResult) -> None:
    flow = next(f for f in engine.flows if f.label is Label.HAIRPIN_OTHER_BACKEND)
    frame = flow.flow.packets[2].frame
    code, out, _ = _invoke(["explain", "web01-eth0.pcap", "--frame", str(frame), "--json"])
    payload = json.loads(out)
    assert code == 0
    assert (payload["flow"], payload["label"]) == (flow.id, "hairpin_other_backend")
    assert payload["story"][0].startswith(f"Connection {flow.id}:")


def test_explain_quiet_prints_the_verdict(engine: AnalysisResult) -> None:
    code, out, _ = _invoke(
        ["explain", "web01-eth0.pcap", "-q", "--flow", _flow(engine, Label.HAIRPIN_SELF)]
    )
    assert code == 3 and out.startswith("Verdict: hairpin_self") and out.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --flow ID or --frame N; failed attempts here: 0:C"),
        (["--flow", "0:x", "--frame", "3"], "either --flow ID or --frame N, not both"),
        (["--frame", "x"], "--frame 'x'"),
        (["--flow", "0:Cnope"], "no flow '0:Cnope'"),
    ],
)
def test_explain_bad_input_exits_2(engine: AnalysisResult, args: list[str], message: str) -> None:
    code, _, err = _invoke(["explain", "web01-eth0.pcap", *args])
    assert code == 2 and message in err and "Traceback" not in err
