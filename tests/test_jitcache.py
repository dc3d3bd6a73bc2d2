"""Where compiled kernels are cached: the choice as a pure function, and the private-dir checks."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from pcapflow._jitcache import (
    CacheDir,
    CacheEnv,
    candidates,
    choose_cache_dir,
    is_cached,
    usable,
)

REPO = Path(__file__).resolve().parents[1]

ENV = CacheEnv(
    numba_cache_dir=None,
    xdg_cache_home=None,
    home="/home/ana",
    serve_data_dir=None,
    temp_dir="/tmp",
    uid=1000,
)


def everything_usable(_: CacheDir) -> bool:
    return True


def only(*paths: str) -> object:
    def check(candidate: CacheDir) -> bool:
        return str(candidate.path) in paths

    return check


def test_a_user_with_a_home_caches_in_its_xdg_cache() -> None:
    chosen = choose_cache_dir(ENV, everything_usable)
    assert chosen == CacheDir(Path("/home/ana/.cache/pcapflow/numba"), "~/.cache")


def test_numba_cache_dir_comes_first() -> None:
    env = replace(ENV, numba_cache_dir="/var/cache/pf", xdg_cache_home="/x")
    chosen = choose_cache_dir(env, everything_usable)
    assert chosen is not None and chosen.path == Path("/var/cache/pf")


def test_xdg_cache_home_replaces_the_home_default() -> None:
    env = replace(ENV, xdg_cache_home="/srv/cache")
    assert [c.path for c in candidates(env)][:1] == [Path("/srv/cache/pcapflow/numba")]


def test_a_relative_xdg_cache_home_is_ignored_as_the_spec_says() -> None:
    env = replace(ENV, xdg_cache_home="cache")
    assert candidates(env)[0].path == Path("/home/ana/.cache/pcapflow/numba")


def test_a_service_account_without_a_home_uses_the_serve_data_dir() -> None:
    env = replace(ENV, home="/nonexistent", serve_data_dir="/var/lib/pcapflow", uid=65534)
    chosen = choose_cache_dir(env, only("/var/lib/pcapflow/cache/numba"))
    assert chosen == CacheDir(Path("/var/lib/pcapflow/cache/numba"), "serve data dir")


def test_no_writable_dir_but_tmp_gives_a_private_per_user_temp_dir() -> None:
    env = replace(ENV, home="/nonexistent", uid=65534)
    chosen = choose_cache_dir(env, only("/tmp/pcapflow-65534/numba"))
    assert chosen == CacheDir(Path("/tmp/pcapflow-65534/numba"), "temp dir", private=True)


def test_no_home_at_all_or_root_as_home_is_not_a_candidate() -> None:
    for home in (None, "/", "relative"):
        env = replace(ENV, home=home)
        assert [c.source for c in candidates(env)] == ["temp dir"]


def test_nothing_writable_means_no_cache() -> None:
    assert choose_cache_dir(ENV, lambda _: False) is None


def test_each_user_gets_its_own_temp_dir() -> None:
    one = candidates(replace(ENV, uid=1000))[-1].path
    other = candidates(replace(ENV, uid=1001))[-1].path
    assert one != other


def test_usable_creates_a_private_dir_mode_0700(tmp_path: Path) -> None:
    candidate = CacheDir(tmp_path / "pcapflow-1" / "numba", "temp dir", private=True)
    assert usable(candidate)
    assert (tmp_path / "pcapflow-1").stat().st_mode & 0o777 == 0o700
    assert candidate.path.is_dir()


def test_a_private_dir_others_can_enter_is_refused(tmp_path: Path) -> None:
    parent = tmp_path / "pcapflow-1"
    parent.mkdir(mode=0o755)
    parent.chmod(0o755)
    assert not usable(CacheDir(parent / "numba", "temp dir", private=True))


def test_a_symlink_planted_as_the_private_dir_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (tmp_path / "pcapflow-1").symlink_to(target)
    assert not usable(CacheDir(tmp_path / "pcapflow-1" / "numba", "temp dir", private=True))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_a_read_only_dir_is_not_usable(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        assert not usable(CacheDir(tmp_path / "numba", "~/.cache"))
    finally:
        tmp_path.chmod(0o700)


def test_a_dir_under_a_file_is_not_usable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert not usable(CacheDir(tmp_path / "file" / "numba", "~/.cache"))


def test_from_process_reads_the_environment() -> None:
    env = CacheEnv.from_process(
        {"NUMBA_CACHE_DIR": "/a", "HOME": "/h", "PCAPFLOW_SERVE_DATA_DIR": "/d"}
    )
    assert (env.numba_cache_dir, env.home, env.serve_data_dir) == ("/a", "/h", "/d")
    assert env.xdg_cache_home is None


def test_the_compile_ahead_child_starts_no_child_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pcapflow import _jitahead

    monkeypatch.setenv(_jitahead.CHILD_ENV, "1")
    _jitahead.start()
    assert _jitahead.compiling_ahead() == 0


def test_no_child_when_the_flow_kernels_are_compiled_already() -> None:
    from pcapflow import _jitahead
    from pcapflow.flows.api import assemble
    from pcapflow.flows.synthetic import syn_flood

    assemble([syn_flood(4)], file_idx=0)  # compiled (or loaded) in this process now
    assert all(is_cached(k) for k in _jitahead.flow_kernels())
    _jitahead.start()
    assert _jitahead.compiling_ahead() == 0


def test_warm_up_runs_every_kernel_called_from_python() -> None:
    """``pcapflow warmup`` and the serve workers' warm-up leave no kernel for a job to compile
    (a kernel added to a module, e.g. the CSV writer's, must be reached by :func:`warm`)."""
    import pcapflow.capture.kernels
    import pcapflow.flows.csvwrite
    import pcapflow.flows.kernel
    import pcapflow.flows.keys  # noqa: F401  (every module with kernels)
    from pcapflow._jitcache import ENTRY_KERNELS
    from pcapflow.warm import warm

    warm()
    missed = [d.py_func.__qualname__ for d in ENTRY_KERNELS if not d.overloads]
    assert missed == []


TINY_KERNEL = """
from pcapflow._jitcache import kernel


@kernel()
def total(values):
    acc = values[0] * 0
    for value in values:
        acc += value
    return acc
"""

# the kernel once on ints (compiled in a cold cache, loaded in a warm one), then on floats of a
# type the cache lacks (compiled in this process, after the load); which registries are in
_RUN_TINY_KERNEL = """
import sys
import numpy as np
import tiny_kernel
from pcapflow.capture import jitstart
if sys.argv[1] == "cli":
    jitstart.start()
ints = tiny_kernel.total(np.arange(10))
loaded = "numba.np.arraymath" in sys.modules
floats = tiny_kernel.total(np.arange(4, dtype=sys.argv[2]))
print(ints, loaded, floats, "numba.np.arraymath" in sys.modules, "scipy.linalg" in sys.modules)
"""


def run_tiny_kernel(folder: Path, mode: str, float_type: str) -> list[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(folder / "cache")}
    env["PYTHONPATH"] = os.pathsep.join([str(folder), str(REPO), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-c", _RUN_TINY_KERNEL, mode, float_type]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.parametrize("mode", ["cli", "library"])
def test_a_cached_kernel_loads_without_numbas_registries(tmp_path: Path, mode: str) -> None:
    """A warm run loads its kernels without numba's typing/lowering registries (0.15 s of
    start-up); a compile (cold cache, or a signature the cache lacks) still loads them first,
    in the command line without ``scipy.linalg`` (numba's BLAS probe, see jitstart)."""
    (tmp_path / "tiny_kernel.py").write_text(TINY_KERNEL)
    cold = run_tiny_kernel(tmp_path, mode, "float64")
    warm = run_tiny_kernel(tmp_path, mode, "float32")
    assert cold[:4] == ["45", "True", "6.0", "True"]
    assert warm[:4] == ["45", "False", "6.0", "True"]
    if mode == "cli":
        assert cold[4] == warm[4] == "False"
