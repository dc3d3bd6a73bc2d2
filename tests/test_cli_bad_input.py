"""Bad input never gives a traceback: every capture-taking command on broken and hostile files.

The project standard: a capture is read as far as it is valid (exit 0, or 3 when ``analyze`` finds
failures) or refused with ONE line ``pcapflow: error: ...`` naming the file and exit 2; never a
traceback, never a hang.  Inputs: every file of the public malformed corpus
(``../shared/corpus/malformed/manifest.csv``, outside the repository) and hostile files made here
(a directory, a missing file, an empty file, /dev/null, text, an impossible record length, a gzip
stream of zeros) and hostile load-balancer configs (binary, a YAML billion laughs, deep JSON,
10k members).  Most runs use click's CliRunner in this process; a few run the installed
``pcapflow`` console script for real.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pcapflow.cli import main

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
MANIFEST = CORPUS / "malformed" / "manifest.csv"
SAMPLE = REPO / "sample_captures" / "hairpin-two-backends"
GOOD = SAMPLE / "web01-eth0.pcap"
LB = SAMPLE / "lb.yaml"

needs_sample = pytest.mark.skipif(not GOOD.exists(), reason=f"sample captures absent: {SAMPLE}")


def _corpus_files() -> list[object]:
    if not MANIFEST.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"corpus absent: {MANIFEST}"))]
    with MANIFEST.open(newline="") as fh:
        files = [row["file"] for row in csv.DictReader(fh)]
    return [pytest.param(CORPUS / f, id=f) for f in files]


CORPUS_FILES = _corpus_files()


# ---- hostile captures, made in a temporary folder ------------------------------------------

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def _directory(d: Path) -> Path:
    (d / "folder").mkdir()
    return d / "folder"


def _missing(d: Path) -> Path:
    return d / "no-such-capture.pcap"


def _empty(d: Path) -> Path:
    (d / "empty.pcap").write_bytes(b"")
    return d / "empty.pcap"


def _dev_null(_d: Path) -> Path:
    return Path(os.devnull)


def _text(d: Path) -> Path:
    (d / "notes.pcap").write_text("GET / HTTP/1.1\nthis is a text file, not a capture\n")
    return d / "notes.pcap"


def _huge_record(d: Path) -> Path:
    """A valid header, then a record declaring a 4 GiB packet, then 64 bytes."""
    record = struct.pack("<IIII", 1, 0, 0xFFFFFFF0, 0xFFFFFFF0) + bytes(64)
    (d / "huge.pcap").write_bytes(PCAP_HEADER + record)
    return d / "huge.pcap"


def _pcapng_huge_block(d: Path) -> Path:
    """A pcapng section and interface, then a packet block declaring 4 GiB."""
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    idb = struct.pack("<IIHHI", 1, 20, 1, 0, 0) + struct.pack("<I", 20)
    block = struct.pack("<II", 6, 0xFFFFFFF0) + bytes(64)
    (d / "huge-block.pcapng").write_bytes(shb + idb + block)
    return d / "huge-block.pcapng"


def _gzip_zeros(d: Path) -> Path:
    """64 MiB of zeros, gzip'd to ~64 KiB: a bomb-ish stream with no capture magic."""
    with gzip.open(d / "zeros.pcap.gz", "wb", compresslevel=9) as fh:
        for _ in range(64):
            fh.write(bytes(1 << 20))
    return d / "zeros.pcap.gz"


def _gzip_zero_records(d: Path) -> Path:
    """A pcap header, then 32 MiB of zeros: two million empty records, gzip'd."""
    with gzip.open(d / "zero-records.pcap.gz", "wb", compresslevel=9) as fh:
        fh.write(PCAP_HEADER)
        for _ in range(32):
            fh.write(bytes(1 << 20))
    return d / "zero-records.pcap.gz"


HOSTILE: dict[str, Callable[[Path], Path]] = {
    "directory": _directory,
    "missing": _missing,
    "empty": _empty,
    "dev-null": _dev_null,
    "text": _text,
    "huge-record-length": _huge_record,
    "pcapng-huge-block": _pcapng_huge_block,
    "gzip-zeros": _gzip_zeros,
    "gzip-zero-records": _gzip_zero_records,
}

# Inputs that cannot be read at all: the command must refuse them (exit 2), not report "healthy".
UNREADABLE = {"directory", "missing", "empty", "dev-null", "text", "gzip-zeros"}


# ---- running and judging -------------------------------------------------------------------


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_clean(result: Result, capture: Path, allowed: set[int], *, about: str = "") -> None:
    """No traceback; an allowed exit; exit 2 = one ``pcapflow: error:`` line naming the file.

    ``about`` is a regex-free list of words an error may name instead of the file (an error about
    the --flow / --frame argument rather than the capture).
    """
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert "Traceback" not in output, output
    assert result.exit_code in allowed, f"exit {result.exit_code}: {output}"
    if result.exit_code == 2:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, f"expected one error line, got: {lines}"
        assert lines[0].startswith("pcapflow: error:"), lines
        named = capture.name in lines[0] or any(word in lines[0] for word in about.split())
        assert named, f"the error does not name {capture.name}: {lines[0]}"


# ---- the malformed corpus ------------------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("capture", CORPUS_FILES)
def test_analyze_reads_or_refuses_every_malformed_file(capture: Path) -> None:
    assert_clean(invoke("analyze", capture), capture, {0, 2, 3})


@pytest.mark.timeout(30)
@pytest.mark.parametrize("capture", CORPUS_FILES)
def test_analyze_json_of_every_malformed_file_is_json(capture: Path) -> None:
    result = invoke("analyze", capture, "--format", "json")
    assert_clean(result, capture, {0, 2, 3})
    if result.exit_code != 2:
        doc = json.loads(result.stdout)
        assert doc["captures"][0]["path"].endswith(capture.name)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("capture", CORPUS_FILES)
def test_flows_reads_or_refuses_every_malformed_file(capture: Path) -> None:
    assert_clean(invoke("flows", capture, "--format", "json"), capture, {0, 2})


@pytest.mark.timeout(30)
@pytest.mark.parametrize("capture", CORPUS_FILES)
def test_explain_first_frame_of_every_malformed_file(capture: Path) -> None:
    result = invoke("explain", capture, "--frame", "1")
    assert_clean(result, capture, {0, 2, 3}, about="frame flow")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("capture", CORPUS_FILES)
def test_slice_of_every_malformed_file(capture: Path, tmp_path: Path) -> None:
    result = invoke("slice", capture, "--flow", "F1", "-o", tmp_path / "s.pcap")
    assert_clean(result, capture, {0, 2}, about="F1 flow finding")


@pytest.mark.timeout(60)
@needs_sample
@pytest.mark.skipif(not MANIFEST.exists(), reason=f"corpus absent: {MANIFEST}")
def test_report_batch_over_the_whole_corpus_and_good_captures(tmp_path: Path) -> None:
    """One batch: every malformed file plus two good captures; all finish, none is lost."""
    with MANIFEST.open(newline="") as fh:
        bad = [CORPUS / row["file"] for row in csv.DictReader(fh)]
    good = [GOOD, SAMPLE / "client-eth0.pcap"]
    out = tmp_path / "out"
    result = invoke("report", *good, *bad, "--lb", LB, "-o", out, "-j", "1")
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1, 3), result.output
    summary = json.loads((out / "summary.json").read_text())
    rows = summary["reports"]
    assert len(rows) == len(good) + len(bad)
    by_capture = {Path(row["captures"][0]).name: row for row in rows}
    assert by_capture["web01-eth0.pcap"]["verdict"] == "hairpin failure"
    assert by_capture["client-eth0.pcap"]["verdict"] == "healthy"
    for row in rows:
        assert row["error"] or row["reports"], row
        for name in row["reports"]:
            assert (out / name).stat().st_size > 0
        if row["error"]:
            assert "\n" not in row["error"] and Path(row["captures"][0]).name in row["error"]
    assert (out / "index.html").exists()


# ---- hostile captures ----------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_analyze_hostile_capture(kind: str, tmp_path: Path) -> None:
    capture = HOSTILE[kind](tmp_path)
    result = invoke("analyze", capture)
    assert_clean(result, capture, {2} if kind in UNREADABLE else {0, 2, 3})


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_flows_hostile_capture(kind: str, tmp_path: Path) -> None:
    capture = HOSTILE[kind](tmp_path)
    result = invoke("flows", capture)
    assert_clean(result, capture, {2} if kind in UNREADABLE else {0, 2})


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_explain_and_slice_hostile_capture(kind: str, tmp_path: Path) -> None:
    capture = HOSTILE[kind](tmp_path)
    codes = {2} if kind in UNREADABLE else {0, 2, 3}
    assert_clean(invoke("explain", capture, "--frame", "1"), capture, codes, about="frame")
    sliced = invoke("slice", capture, "--flow", "F1", "-o", tmp_path / "s.pcap")
    assert_clean(sliced, capture, codes, about="F1")


@pytest.mark.timeout(60)
@needs_sample
def test_report_batch_mixing_good_and_hostile_captures(tmp_path: Path) -> None:
    """A folder of good and hostile captures: the batch finishes, lists the bad ones in its
    index with their one-line error, and keeps every good report."""
    folder = tmp_path / "in"
    folder.mkdir()
    for make in (_empty, _text, _huge_record, _gzip_zeros):
        made = make(folder)
        assert made.parent == folder
    shutil.copy(GOOD, folder / "web01-eth0.pcap")
    shutil.copy(SAMPLE / "client-eth0.pcap", folder / "client-eth0.pcap")
    out = tmp_path / "out"
    result = invoke("report", folder, "--lb", LB, "-o", out, "-j", "1")
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output  # some capture could not be analysed
    rows = {
        Path(r["captures"][0]).name: r
        for r in json.loads((out / "summary.json").read_text())["reports"]
    }
    assert set(rows) == {
        "empty.pcap",
        "notes.pcap",
        "huge.pcap",
        "zeros.pcap.gz",
        "web01-eth0.pcap",
        "client-eth0.pcap",
    }
    for bad in ("empty.pcap", "notes.pcap", "zeros.pcap.gz"):
        assert rows[bad]["error"] and bad in rows[bad]["error"], rows[bad]
    assert rows["web01-eth0.pcap"]["verdict"] == "hairpin failure"
    assert rows["client-eth0.pcap"]["verdict"] == "healthy"
    for good in ("web01-eth0.pcap", "client-eth0.pcap"):
        (report,) = rows[good]["reports"]
        assert "<html" in (out / report).read_text().lower()
    index = (out / "index.html").read_text()
    assert "notes.pcap" in index and "web01-eth0" in index


# ---- hostile load-balancer configs ---------------------------------------------------------


def _binary_config(d: Path) -> Path:
    (d / "lb.yaml").write_bytes(bytes(range(256)) * 16)
    return d / "lb.yaml"


def _billion_laughs(d: Path) -> Path:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    previous = "a"
    for name in "bcdefghi":
        text += f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
        previous = name
    (d / "lb.yaml").write_text(text)
    return d / "lb.yaml"


def _laughs_inside_a_config(d: Path) -> Path:
    """A valid pcapflow config whose member carries an exploding alias tree."""
    text = "x0: &x0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
    for i in range(1, 8):
        text += f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10)}]\n"
    (d / "lb.yaml").write_text(text + LB.read_text())
    return d / "lb.yaml"


def _deep_json(d: Path) -> Path:
    nested: object = {"value": 1}
    for _ in range(50):
        nested = {"nested": nested}
    (d / "lb.json").write_text(json.dumps(nested))
    return d / "lb.json"


def _deep_az_json(d: Path) -> Path:
    """An `az network lb show`-shaped document with a 50-deep tag value."""
    doc = json.loads((SAMPLE / "lb.az.json").read_text())
    nested: object = "leaf"
    for _ in range(50):
        nested = {"n": nested}
    (doc[0] if isinstance(doc, list) else doc)["tags"] = {"deep": nested}
    (d / "lb.json").write_text(json.dumps(doc))
    return d / "lb.json"


def _deep_yaml(d: Path) -> Path:
    (d / "lb.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    return d / "lb.yaml"


def _ten_thousand_members(d: Path) -> Path:
    members = "\n".join(f"          - 10.3.{i >> 8}.{i & 255}" for i in range(10_000))
    (d / "lb.yaml").write_text(
        "version: 1\nload_balancers:\n  - name: big\n"
        "    frontends:\n      - {name: fe, address: 10.2.1.100}\n"
        f"    pools:\n      - name: pool\n        members:\n{members}\n"
        "    rules:\n      - {name: http, protocol: tcp, frontend_port: 80}\n"
    )
    return d / "lb.yaml"


ARM_SEED = REPO / "tests" / "fixtures" / "lbconfig" / "arm-seed-template.json"


def _arm(d: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    template = json.loads(ARM_SEED.read_text())
    change(template)
    (d / "template.json").write_text(json.dumps(template))
    return d / "template.json"


def _balancer(template: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in template["resources"] if r["type"].endswith("/loadBalancers"))


def _arm_copy_count(d: Path) -> Path:
    return _arm(d, lambda t: _balancer(t).update(copy={"name": "c", "count": 10**9}))


def _arm_range(d: Path) -> Path:
    def change(t: dict[str, Any]) -> None:
        t["variables"]["big"] = "[range(0, 1000000000)]"
        t["variables"]["lbName"] = "[concat('ilb', string(length(variables('big'))))]"

    return _arm(d, change)


def _arm_doubling(d: Path) -> Path:
    def change(t: dict[str, Any]) -> None:
        t["variables"]["s0"] = "x" * 16
        for i in range(1, 60):
            t["variables"][f"s{i}"] = f"[concat(variables('s{i - 1}'), variables('s{i - 1}'))]"
        t["variables"]["lbName"] = "[concat('ilb', string(length(variables('s59'))))]"

    return _arm(d, change)


def _arm_exponential_parameters(d: Path) -> Path:
    def change(t: dict[str, Any]) -> None:
        t["parameters"]["p0"] = {"type": "string", "defaultValue": "a"}
        for i in range(1, 61):
            twice = f"parameters('p{i - 1}')"
            t["parameters"][f"p{i}"] = {
                "type": "string",
                "defaultValue": f"[if(equals({twice}, {twice}), 'a', 'b')]",
            }
        t["variables"]["lbName"] = "[concat('ilb', parameters('p60'))]"

    return _arm(d, change)


CONFIGS: dict[str, Callable[[Path], Path]] = {
    "arm-copy-count-1e9": _arm_copy_count,
    "arm-range-1e9": _arm_range,
    "arm-string-doubling": _arm_doubling,
    "arm-exponential-parameters": _arm_exponential_parameters,
    "binary": _binary_config,
    "billion-laughs": _billion_laughs,
    "laughs-inside-a-config": _laughs_inside_a_config,
    "deep-json": _deep_json,
    "deep-az-json": _deep_az_json,
    "deep-yaml": _deep_yaml,
    "ten-thousand-members": _ten_thousand_members,
}
REFUSED_CONFIGS = {
    "arm-copy-count-1e9",
    "arm-range-1e9",
    "arm-string-doubling",
    "binary",
    "billion-laughs",
    "laughs-inside-a-config",
    "deep-json",
    "deep-yaml",
}


@pytest.mark.timeout(30)
@needs_sample
@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_analyze_with_hostile_config(kind: str, tmp_path: Path) -> None:
    config = CONFIGS[kind](tmp_path)
    result = invoke("analyze", GOOD, "--lb", config)
    assert_clean(result, config, {2} if kind in REFUSED_CONFIGS else {0, 3})


@pytest.mark.timeout(30)
@needs_sample
@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_lb_validate_hostile_config(kind: str, tmp_path: Path) -> None:
    config = CONFIGS[kind](tmp_path)
    result = invoke("lb", "validate", config)
    output = result.output
    assert "Traceback" not in output
    if kind in REFUSED_CONFIGS:
        # 2: cannot be read (one error line); 1: read, and its problems are listed
        assert result.exit_code in (1, 2) and config.name in output, output
        assert all(line.startswith("pcapflow: error:") for line in result.stderr.splitlines())
    else:
        assert result.exit_code in (0, 1), output


@pytest.mark.timeout(60)
@needs_sample
def test_ten_thousand_members_are_all_understood(tmp_path: Path) -> None:
    config = _ten_thousand_members(tmp_path)
    result = invoke("lb", "show", config, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    (balancer,) = doc["load_balancers"]
    assert len(balancer["pools"][0]["members"]) == 10_000


# ---- the real console script ---------------------------------------------------------------


def _console_script() -> str | None:
    beside = Path(sys.executable).with_name("pcapflow")
    return str(beside) if beside.exists() else shutil.which("pcapflow")


SCRIPT = _console_script()
# the script imports this checkout's package, wherever (or whether) it was installed editable
SCRIPT_ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
}


@pytest.mark.timeout(60)
@pytest.mark.skipif(SCRIPT is None, reason="the pcapflow console script is not installed")
@pytest.mark.parametrize("kind", ["directory", "missing", "text", "huge-record-length"])
def test_console_script_on_hostile_capture(kind: str, tmp_path: Path) -> None:
    assert SCRIPT is not None
    capture = HOSTILE[kind](tmp_path)
    done = subprocess.run(
        [SCRIPT, "analyze", str(capture)],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
        env=SCRIPT_ENV,
    )
    assert "Traceback" not in done.stdout + done.stderr
    if kind in UNREADABLE:
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("pcapflow: error:")
        assert capture.name in done.stderr
    else:
        assert done.returncode in (0, 3), done.stderr


@pytest.mark.timeout(60)
@pytest.mark.skipif(SCRIPT is None, reason="the pcapflow console script is not installed")
@pytest.mark.skipif(not MANIFEST.exists(), reason=f"corpus absent: {MANIFEST}")
def test_console_script_on_corpus_files_and_stdin(tmp_path: Path) -> None:
    """Real processes: a bad-magic file, a truncated one and garbage on stdin."""
    assert SCRIPT is not None
    bad_magic = CORPUS / "malformed" / "pcap-parser" / "assets" / "err-eof.bin"
    truncated = CORPUS / "malformed" / "dpkt" / "examples" / "data" / "truncated_dns_2.pcap"
    for capture, codes in ((bad_magic, {2}), (truncated, {0})):
        done = subprocess.run(
            [SCRIPT, "flows", str(capture)],
            capture_output=True,
            text=True,
            timeout=50,
            check=False,
            env=SCRIPT_ENV,
        )
        assert "Traceback" not in done.stdout + done.stderr
        assert done.returncode in codes, done.stderr
        if done.returncode == 2:
            assert done.stderr.startswith("pcapflow: error:") and capture.name in done.stderr
    garbage = subprocess.run(
        [SCRIPT, "analyze", "-"],
        input=b"\x00garbage" * 1000,
        capture_output=True,
        timeout=50,
        check=False,
        env=SCRIPT_ENV,
    )
    assert garbage.returncode == 2 and b"Traceback" not in garbage.stderr
    assert garbage.stderr.startswith(b"pcapflow: error:")


# ---- a capture read only in part says so -----------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_analyze_says_when_a_capture_was_read_only_in_part(fmt: str, tmp_path: Path) -> None:
    """The reader stops at an impossible record length and records a warning; a text report
    that says HEALTHY without it misleads (flows prints it; JSON and HTML carry it)."""
    capture = _huge_record(tmp_path)
    result = invoke("analyze", capture, "--format", fmt)
    assert result.exit_code in (0, 3)
    assert "impossible length" in result.output, result.output


# ---- hostile batch manifests -------------------------------------------------------------------

MANIFESTS: dict[str, tuple[str, bytes]] = {
    "binary": ("incidents.yaml", bytes(range(256)) * 4),
    "deep-yaml": ("incidents.yaml", b"INC: " + b"[" * 5000 + b"]" * 5000 + b"\n"),
    "huge-csv-field": ("incidents.csv", b'incident,file\nINC,"' + b"x" * 200_000 + b'"\n'),
    "nul-in-file-name": ("incidents.csv", b"incident,file\nINC,web01\x00eth0.pcap\n"),
    "nested-aliases": ("incidents.yaml", b"a: &a [x, x, x]\nb: &b [*a, *a, *a]\nINC: *b\n"),
    "not-a-mapping": ("incidents.yaml", b"- just\n- a list\n"),
    "missing-header": ("incidents.csv", b"web01-eth0.pcap\n"),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", sorted(MANIFESTS))
def test_report_with_hostile_manifest(kind: str, tmp_path: Path) -> None:
    name, content = MANIFESTS[kind]
    manifest = tmp_path / name
    manifest.write_bytes(content)
    out = tmp_path / "o"
    result = CliRunner().invoke(main, ["report", "--manifest", str(manifest), "-o", str(out)])
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, f"{type(result.exception).__name__}: {result.exception}"
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("pcapflow: error:") and name in lines[0], lines


# ---- pcapflow watch --file on a hostile file ---------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["text", "huge-record-length", "gzip-zeros"])
def test_watch_file_refuses_a_hostile_capture(kind: str, tmp_path: Path) -> None:
    capture = HOSTILE[kind](tmp_path)
    result = invoke(
        "watch", "-f", capture, "--duration", "5", "--quiet", "--vip", "10.2.1.100:80",
        "--backend", "10.2.1.4",
    )  # fmt: skip
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("pcapflow: error:")]
    assert len(errors) == 1 and capture.name in errors[0], result.stderr


# ---- pcapflow serve: an address or data folder it cannot use -----------------------------------


@pytest.mark.timeout(30)
def test_serve_refuses_unusable_data_dir_and_taken_port(tmp_path: Path) -> None:
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = {
            "is a file, not a directory": ["--data-dir", str(a_file)],
            "cannot use it": ["--data-dir", "/proc/no-such-dir/web"],
            "Address already in use": ["--port", str(port), "--data-dir", str(tmp_path / "d")],
        }
        for expected, args in cases.items():
            result = invoke("serve", "--workers", "0", *args)
            assert "Traceback" not in result.output
            assert result.exit_code == 2, result.output
            assert result.stderr.startswith("pcapflow: error:") and expected in result.stderr


# ---- output paths that cannot be written -------------------------------------------------------


WATCH_FILE = ["watch", "-f", str(GOOD), "--duration", "1", "--quiet"]
DECLARED = ["--vip", "10.2.1.100:80", "--backend", "10.2.1.4"]
UNWRITABLE_OUTPUTS = {
    "analyze-text": ["analyze", str(GOOD), "-o", "{missing}/report.txt"],
    "analyze-html": ["analyze", str(GOOD), "--format", "html", "-o", "{missing}/report.html"],
    "flows": ["flows", str(GOOD), "-o", "{missing}/flows.csv"],
    "slice": ["slice", str(GOOD), "--lb", str(LB), "--flow", "F1", "-o", "{missing}/f1.pcap"],
    "report": ["report", str(GOOD), "-o", "{missing}/out", "-j", "1"],
    "watch-write": [*WATCH_FILE, "-w", "{missing}/w.pcapng", *DECLARED],
}


@pytest.mark.timeout(60)
@needs_sample
@pytest.mark.parametrize("case", sorted(UNWRITABLE_OUTPUTS))
def test_output_in_a_folder_that_cannot_exist(case: str, tmp_path: Path) -> None:
    """-o under a regular file: one error line naming the path, exit 2."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    argv = [a.format(missing=blocker) for a in UNWRITABLE_OUTPUTS[case]]
    result = invoke(*argv)
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("pcapflow: error:")]
    assert len(lines) == 1 and str(blocker) in lines[0], result.stderr


# ---- a large terraform state loads in linear time ------------------------------------------------


@pytest.mark.timeout(20)
def test_terraform_state_with_two_thousand_balancers_loads_quickly(tmp_path: Path) -> None:
    """22,000 resources (2,000 copies of a state's balancer, rules, pools, NICs): every resource
    used to be matched against every balancer (25 s); indexed, it takes about a second."""
    state = json.loads((REPO / "tests" / "fixtures" / "lbconfig" / "tf-state.json").read_text())
    resources = state["values"]["root_module"]["resources"]
    state["values"]["root_module"]["resources"] = resources * 2000
    config = tmp_path / "state.json"
    config.write_text(json.dumps(state))
    result = invoke("lb", "validate", config)
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1), result.output


@pytest.mark.timeout(120)  # a hang guard only: benchmarks/bench_lbconfig.py measures the growth
def test_az_pool_of_fifteen_thousand_nic_members_loads(tmp_path: Path) -> None:
    """`az network lb show` with 15,000 NIC-based members and the matching `az network nic list`
    loads every member once (each member used to be compared with every member before it:
    quadratic, ~17 s; benchmarks/bench_lbconfig.py prints how loading grows with the pool)."""
    fixtures = REPO / "tests" / "fixtures" / "lbconfig"
    shown = json.loads((fixtures / "az-lb-show.json").read_text())
    balancer = shown[0] if isinstance(shown, list) else shown
    template = json.dumps(json.loads((fixtures / "az-nic-list.json").read_text())[0])
    nics, members = [], []
    for i in range(15_000):
        nic = json.loads(template.replace("vm-we-02-web01-nic2", f"vm-nic{i}"))
        nic["ipConfigurations"][0]["privateIPAddress"] = f"10.2.{i >> 8}.{i & 255}"
        nics.append(nic)
        members.append({"id": nic["ipConfigurations"][0]["id"]})
    pool = balancer["backendAddressPools"][0]
    pool["backendIPConfigurations"], pool["loadBalancerBackendAddresses"] = members, []
    (tmp_path / "lb.json").write_text(json.dumps(balancer))
    (tmp_path / "nics.json").write_text(json.dumps(nics))
    result = invoke("lb", "show", tmp_path / "lb.json", "--nic", tmp_path / "nics.json",
                    "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    (lb,) = json.loads(result.stdout)["load_balancers"]
    assert len(lb["pools"][0]["members"]) == 15_000


# ---- a config on stdin -------------------------------------------------------------------------


@pytest.mark.timeout(30)
@needs_sample
def test_config_on_stdin_binary_or_utf16() -> None:
    """`--lb -` with a capture piped in by mistake is one line; PowerShell's UTF-16 works."""
    piped = CliRunner().invoke(
        main, ["analyze", str(GOOD), "--lb", "-"], input=GOOD.read_bytes(), catch_exceptions=False
    )
    assert piped.exit_code == 2, piped.output
    assert piped.stderr == "pcapflow: error: <stdin>: not a text file (expected YAML or JSON)\n"
    utf16 = (SAMPLE / "lb.az.json").read_text().encode("utf-16")
    shown = CliRunner().invoke(main, ["lb", "show", "-"], input=utf16, catch_exceptions=False)
    assert shown.exit_code == 0 and "10.2.1.100" in shown.stdout, shown.output
