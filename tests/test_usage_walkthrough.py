"""A network engineer's first hour with pcapflow, as the README and docs/*.md tell it.

Each test is one step of the walkthrough, run with click's CliRunner on the committed sample
captures: the README's main job, every analyze and flows format, the config commands, explain,
slice, a batch report, the lab list, and every offline command of the docs' code blocks, run as
written (in a copy of one scenario's folder, so relative names like ``web01-eth0.pcap`` resolve).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from pcapflow.cli import main

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_captures"
SCENARIO = SAMPLES / "hairpin-two-backends"
CAPTURE = SCENARIO / "web01-eth0.pcap"
LB = SCENARIO / "lb.yaml"

pytestmark = pytest.mark.skipif(not CAPTURE.exists(), reason=f"sample captures absent: {SAMPLES}")


def run(*args: str | Path, cwd: Path | None = None) -> Result:
    argv = [str(a) for a in args]
    if cwd is None:
        return CliRunner().invoke(main, argv, catch_exceptions=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        return CliRunner().invoke(main, argv, catch_exceptions=False)


@pytest.fixture
def scenario_copy(tmp_path: Path) -> Path:
    """A writable copy of the hairpin scenario: docs examples name its files bare."""
    folder = tmp_path / "hairpin-two-backends"
    shutil.copytree(SCENARIO, folder)
    return folder


# ---- the README's main job -----------------------------------------------------------------


@pytest.mark.timeout(60)
def test_readme_main_job_says_hairpin_in_the_first_lines_and_gives_the_fix() -> None:
    result = run(
        "analyze",
        "sample_captures/hairpin-two-backends/web01-eth0.pcap",
        "--lb",
        "sample_captures/hairpin-two-backends/lb.yaml",
        cwd=REPO,
    )
    assert result.exit_code == 3, result.output
    head = result.stdout.splitlines()[:8]
    assert head[0] == "Verdict: HAIRPIN FAILURE"
    assert any("calls to a load-balancer frontend: 16, 8 failed" in line for line in head), head
    assert any(re.match(r"\s+8\s+hairpin_self\s", line) for line in head), head
    assert "az network lb rule update" in result.stdout and "--floating-ip true" in result.stdout
    assert "Traceback" not in result.output


# ---- every format ----------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_analyze_every_format_parses(tmp_path: Path) -> None:
    outputs = {}
    for fmt in ("text", "json", "markdown", "html", "csv", "zeek"):
        target = tmp_path / f"report.{fmt}"
        result = run("analyze", CAPTURE, "--lb", LB, "--format", fmt, "-o", target)
        assert result.exit_code == 3, (fmt, result.output)
        assert result.stdout == "", f"{fmt}: -o must keep stdout empty"
        outputs[fmt] = target.read_text()
    doc = json.loads(outputs["json"])
    assert {f["label"] for f in doc["findings"]} == {"hairpin_self", "hairpin_other_backend"}
    assert outputs["markdown"].startswith("# pcapflow: hairpin failure")
    assert outputs["html"].lstrip().lower().startswith("<!doctype html")
    rows = list(csv.DictReader(io.StringIO(outputs["csv"])))
    failed = [r for r in rows if r["label"] == "hairpin_self" and r["role"] == "outbound"]
    assert len(failed) == 8
    zeek = outputs["zeek"].splitlines()
    assert zeek[0] == "#separator \\x09" and zeek[6].startswith("#fields\tts\tuid")
    assert outputs["text"].startswith("Verdict: HAIRPIN FAILURE")


@pytest.mark.timeout(60)
def test_analyze_output_named_html_is_html(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    result = run("analyze", CAPTURE, "--lb", LB, "-o", target)
    assert result.exit_code == 3
    assert target.read_text().lstrip().lower().startswith("<!doctype html")


@pytest.mark.timeout(60)
def test_flows_every_format() -> None:
    table = run("flows", CAPTURE)
    assert table.exit_code == 0 and table.stdout.splitlines()[-1] == "28 flows"
    csv_rows = list(csv.DictReader(io.StringIO(run("flows", CAPTURE, "--format", "csv").stdout)))
    json_rows = [
        json.loads(line) for line in run("flows", CAPTURE, "--format", "json").stdout.splitlines()
    ]
    zeek = run("flows", CAPTURE, "--format", "zeek").stdout.splitlines()
    assert len(csv_rows) == len(json_rows) == 28
    assert len([line for line in zeek if not line.startswith("#")]) == 28
    assert {r["uid"] for r in csv_rows} == {r["uid"] for r in json_rows}
    filtered = run("flows", CAPTURE, "--filter", "host 10.2.1.100 and port 80")
    assert filtered.exit_code == 0 and "16 flows" in filtered.stdout


@pytest.mark.timeout(60)
def test_bad_filter_is_one_actionable_line() -> None:
    result = run("flows", CAPTURE, "--filter", "hots 10.2.1.4")
    assert result.exit_code == 2
    assert (
        result.stderr.startswith("pcapflow: error: bad filter") and result.stderr.count("\n") == 1
    )


# ---- config commands ---------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_lb_show_and_validate_the_sample_configs() -> None:
    shown = run("lb", "show", LB)
    assert shown.exit_code == 0
    assert "10.2.1.100" in shown.stdout and "2 member(s)" in shown.stdout
    for config in (LB, SCENARIO / "lb.az.json"):
        checked = run("lb", "validate", config)
        assert checked.exit_code == 0, checked.output
    as_yaml = run("lb", "show", SCENARIO / "lb.az.json", "--format", "yaml")
    assert as_yaml.exit_code == 0 and "10.2.1.100" in as_yaml.stdout
    assert json.loads(run("lb", "schema").stdout)["$schema"]


SAMPLE_CONFIGS = sorted([*SAMPLES.glob("*/lb.yaml"), *SAMPLES.glob("*/lb.az.json")])


@pytest.mark.parametrize(
    "config", [pytest.param(c, id=f"{c.parent.name}/{c.name}") for c in SAMPLE_CONFIGS]
)
def test_every_sample_config_is_valid_and_shows(config: Path) -> None:
    checked = run("lb", "validate", config)
    assert checked.exit_code == 0, checked.output
    shown = run("lb", "show", config)
    assert shown.exit_code == 0 and "frontend" in shown.stdout


# ---- explain and slice -------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_explain_a_failed_flow_taken_from_the_csv() -> None:
    rows = csv.DictReader(
        io.StringIO(run("analyze", CAPTURE, "--lb", LB, "--format", "csv").stdout)
    )
    failed = next(r["id"] for r in rows if r["label"] == "hairpin_self" and r["role"] == "outbound")
    result = run("explain", CAPTURE, "--lb", LB, "--flow", failed)
    assert result.exit_code == 3, result.output
    assert "Verdict: hairpin_self" in result.stdout
    assert "The chosen member 10.2.1.4 is the caller itself" in result.stdout
    quiet = run("explain", CAPTURE, "--lb", LB, "--flow", failed, "--quiet")
    assert quiet.stdout.count("\n") == 1


@pytest.mark.timeout(60)
def test_explain_errors_say_what_to_give() -> None:
    bare = run("explain", CAPTURE, "--lb", LB)
    assert bare.exit_code == 2 and "failed attempts here: 0:" in bare.stderr
    suggested = re.search(r"(0:C\w+) \(hairpin_self, frame (\d+)\)", bare.stderr)
    assert suggested, bare.stderr
    copied = run("explain", CAPTURE, "--lb", LB, "--flow", suggested[1], "-q")
    assert copied.exit_code == 3 and copied.stdout.startswith("Verdict: hairpin_self")
    by_frame = run("explain", CAPTURE, "--lb", LB, "--frame", suggested[2], "-q")
    assert by_frame.stdout == copied.stdout
    beyond = run("explain", CAPTURE, "--frame", "5:1")
    assert beyond.exit_code == 2
    assert beyond.stderr == (
        "pcapflow: error: --frame '5:1': no capture 5; captures count from 0 in the order given "
        "(1 given)\n"
    )
    second = run("explain", CAPTURE, SCENARIO / "web02-eth0.pcap", "--lb", LB, "--frame", "1:31")
    assert second.exit_code == 0 and "Verdict: hairpin_other_backend" in second.stdout


@pytest.mark.timeout(60)
def test_slice_writes_a_pcap_that_pcapflow_reads_back(tmp_path: Path) -> None:
    out = tmp_path / "F1.pcap"
    result = run("slice", CAPTURE, "--lb", LB, "--flow", "F1", "-o", out)
    assert result.exit_code == 0, result.output
    assert "wrote 48 packet(s) of 16 flow(s)" in result.output
    back = run("flows", out)
    assert back.exit_code == 0 and back.stdout.splitlines()[-1] == "16 flows"


# ---- batch, lab, web -------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_report_batch_over_one_scenario(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = run("report", SCENARIO, "--lb", LB, "--out", out, "-j", "1")
    assert result.exit_code == 3, result.output
    rows = json.loads((out / "summary.json").read_text())["reports"]
    captures = sorted(SCENARIO.glob("*.pcap*"))
    assert len(rows) == len(captures)
    assert all(row["error"] is None for row in rows)
    verdicts = {Path(r["captures"][0]).name: r["verdict"] for r in rows}
    assert verdicts["web01-eth0.pcap"] == "hairpin failure"
    assert verdicts["client-eth0.pcap"] == "healthy"
    again = run("report", SCENARIO, "--lb", LB, "--out", out, "-j", "1")
    assert f"{len(rows)} up to date" in again.output


@pytest.mark.timeout(60)
def test_lab_list_names_every_sample_scenario() -> None:
    result = run("lab", "list")
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.stdout.splitlines() if line and line[0] != " "}
    scenarios = {d.name for d in SAMPLES.iterdir() if d.is_dir() and "+" not in d.name}
    assert scenarios <= listed, scenarios - listed


@pytest.mark.timeout(60)
def test_web_reports_name_captures_as_uploaded(tmp_path: Path) -> None:
    """A web upload is stored as capture-1.pcap; its reports must still say web01-eth0.pcap."""
    from pcapflow.pipeline import analyze
    from pcapflow.report import render
    from pcapflow.web.store import Job, Status, UploadedCapture
    from pcapflow.web.worker import with_upload_names

    shutil.copy(CAPTURE, tmp_path / "capture-1.pcap")
    upload = UploadedCapture("capture-1.pcap", "web01-eth0.pcap", CAPTURE.stat().st_size, "pcap")
    job = Job(id="j", created=0.0, updated=0.0, status=Status.RUNNING, captures=(upload,))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        result = analyze(["capture-1.pcap"], None, capture_points=["web01-eth0"])
    assert "capture-1" in render(result, "text")  # what the engine saw
    shown = with_upload_names(result, job)
    for fmt in ("text", "html", "json", "markdown", "csv"):
        rendered = render(shown, fmt)
        assert "capture-1" not in rendered and "web01-eth0.pcap" in rendered, fmt


# ---- help texts --------------------------------------------------------------------------------


def _commands(command: click.Command, path: tuple[str, ...]) -> list[tuple[str, click.Command]]:
    found = [(" ".join(path), command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):  # the group loads its modules on demand
            sub = command.get_command(ctx, name)
            assert sub is not None, f"{' '.join(path)} lists {name} but cannot load it"
            found += _commands(sub, (*path, name))
    return found


@pytest.mark.parametrize(
    ("path", "command"), [pytest.param(p, c, id=p) for p, c in _commands(main, ("pcapflow",))]
)
def test_every_command_and_option_has_help(path: str, command: click.Command) -> None:
    assert command.help or command.short_help, f"{path}: no help text"
    undocumented = [
        "/".join(p.opts)
        for p in command.params
        if isinstance(p, click.Option) and not p.hidden and not p.help
    ]
    assert not undocumented, f"{path}: options without help: {undocumented}"
    result = run(*path.split()[1:], "--help")
    assert result.exit_code == 0 and "Usage: " in result.stdout


@pytest.mark.timeout(60)
def test_british_spelling_and_typos() -> None:
    """`analyse` works as `analyze`; a mistyped command gets a suggestion."""
    british = run("analyse", CAPTURE, "--lb", LB)
    assert british.exit_code == 3 and british.stdout.startswith("Verdict: HAIRPIN FAILURE")
    typo = run("flow", CAPTURE)
    assert typo.exit_code == 2 and "Did you mean 'flows'?" in typo.stderr
    nothing_close = run("zzz")
    assert nothing_close.exit_code == 2 and "No such command 'zzz'." in nothing_close.stderr
    assert "analyse" not in run("--help").stdout


# ---- every command of the docs' code blocks ---------------------------------------------------

DOC_FILES = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md", SAMPLES / "README.md"]

# Exit statuses a documented command may end with when it works (3 = failures found: the samples
# hold hairpins). 2 (bad input) and 1 (a capture could not be analysed) mean the docs are wrong.
WORKS = {"analyze": {0, 3}, "explain": {0, 3}, "report": {0, 3}, "flows": {0}, "slice": {0},
         "lb": {0}, "lab": {0}}  # fmt: skip
# The README's main job must find the hairpin.
EXACT = {
    "pcapflow analyze sample_captures/hairpin-two-backends/web01-eth0.pcap "
    "--lb sample_captures/hairpin-two-backends/lb.yaml": 3,
}
# Documented commands that cannot run here, by prefix, and why.
NOT_HERE = {
    "pcapflow analyze CAPTURE...": "synopsis",
    "pcapflow flows CAPTURE...": "synopsis",
    "pcapflow analyze web01-eth0.pcap [web02-eth0.pcap ...]": "synopsis",
    "pcapflow lab run": "needs root and network namespaces",
    "pcapflow lab clean": "needs root and network namespaces",
    "pcapflow analyze /tmp/": "needs a lab run first",
    "pcapflow lb show lb.json --nic nics.json": "example az files not shipped",
    "pcapflow lb validate template.json": "example ARM files not shipped",
    "pcapflow lb validate azuredeploy.json": "example ARM files not shipped",
    "pcapflow slice web01-eth0.pcap web02-eth0.pcap --lb lb.yaml --flow 0:CxY...": "placeholder id",
    "pcapflow report captures/ --lb lb.yaml --out reports/ --scheduler": "needs a Dask cluster",
    "pcapflow report /mnt/captures": "needs a Dask cluster",
    "pcapflow serve": "a server (tested in test_web_*)",
    "pcapflow probe": "live capture (tested in test_live_*)",
    "pcapflow watch": "live capture (tested in test_live_*)",
}


def documented_commands() -> list[str]:
    """``pcapflow ...`` lines of the fenced or indented code blocks, comments and prompts off."""
    found: list[str] = []
    for md in DOC_FILES:
        fenced = False
        for line in md.read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            text = line.strip().removeprefix("$ ")
            if (fenced or line.startswith("    ")) and text.startswith("pcapflow "):
                found.append(re.sub(r"\s+#.*$", "", text).rstrip(" \\"))
    return list(dict.fromkeys(found))


def _runnable() -> list[object]:
    return [
        pytest.param(c, id=c[9:70])
        for c in documented_commands()
        if not any(c.startswith(prefix) for prefix in NOT_HERE)
    ]


def _setup(folder: Path) -> None:
    """What the docs' batch examples assume: captures/, more/**/*.pcapng, incident-*/ and a
    manifest."""
    (folder / "captures").mkdir()
    for name in ("web01-eth0.pcap", "client-eth0.pcap"):
        shutil.copy(folder / name, folder / "captures" / name)
    for sub in ("more/siteA", "incident-1042"):
        (folder / sub).mkdir(parents=True)
        shutil.copy(folder / "web02-eth0.pcapng", folder / sub / "web02-eth0.pcapng")
    (folder / "incidents.csv").write_text(
        "incident,file\nINC-1042,web01-eth0.pcap\nINC-1042,web02-eth0.pcap\n"
    )


def shell_words(command: str, cwd: Path) -> tuple[list[str], str | None]:
    """What a POSIX shell would pass: quotes removed, unquoted globs expanded, ``[--opt ...]``
    optional parts given, and the ``> FILE`` redirection split off."""
    command = re.sub(r"\[(--[^]]*)\]", r"\1", command)
    words: list[str] = []
    redirect = None
    raw = re.findall(r"'[^']*'|\"[^\"]*\"|\S+", command)
    for i, token in enumerate(raw):
        if token == ">" or (i and raw[i - 1] == ">"):
            redirect = token if token != ">" else redirect
            continue
        (word,) = shlex.split(token)
        quoted = token[0] in "'\""
        matches = [] if quoted or not re.search(r"[*?]", word) else sorted(cwd.glob(word))
        words += [str(m.relative_to(cwd)) for m in matches] or [word]
    return words[1:], redirect


def test_every_documented_command_is_known() -> None:
    commands = documented_commands()
    assert any(c in EXACT for c in commands), "the README's main job is no longer documented"
    for command in commands:
        assert command.split()[1] in WORKS or any(command.startswith(p) for p in NOT_HERE), command


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", _runnable())
def test_documented_command_runs_as_written(command: str, scenario_copy: Path) -> None:
    _setup(scenario_copy)
    cwd = REPO if "sample_captures/" in command else scenario_copy
    argv, redirect = shell_words(command, cwd)
    result = run(*argv, cwd=cwd)
    assert "Traceback" not in result.output
    expected = {EXACT[command]} if command in EXACT else WORKS[argv[0]]
    assert result.exit_code in expected, f"{command}\n{result.output}"
    if redirect:
        assert result.stdout, f"{command}: nothing to write to {redirect}"


@pytest.mark.timeout(120)
def test_readme_python_api_runs_as_written(scenario_copy: Path) -> None:
    """The README's Python API block, run as is in a folder holding its files."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block, "no python block under '## Python API'"
    code = block[1].replace("    ...\n", "    pass\n")
    namespace: dict[str, object] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(scenario_copy)
        exec(compile(code, "README.md", "exec"), namespace)  # our own README
    result = namespace["result"]
    assert getattr(result, "verdict", None) == "hairpin failure"
    assert str(namespace["html"]).lstrip().lower().startswith("<!doctype html")
