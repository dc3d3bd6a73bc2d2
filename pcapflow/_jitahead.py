"""A cold start's two halves in parallel: reader kernels here, flow kernels in a child process.

An analysis needs the capture reader's kernels first (walk, decode) and the flow kernels next
(key hashes, the flow state machine); compiling each takes about half of a cold start.  When the
flow kernels are not in the cache yet, :func:`start` has a child process compile them into the
same cache while this process compiles the reader's; the flow assembler calls :func:`wait`
before its first batch and then loads them from the cache.  With a core free the first run
takes about half as long; with none it costs the child's start-up (about a second of CPU).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pcapflow import _jitcache

if TYPE_CHECKING:  # imported when a child is started (a cold start), not on every run
    import subprocess

CHILD_ENV = "PCAPFLOW_COMPILE_AHEAD_CHILD"  # set in the child: it must not start another
WAIT_S = 900.0  # a compile that takes longer than this is stuck: compile here instead

_children: list[subprocess.Popen[bytes]] = []

_CHILD_CODE = (
    "import sys; sys.path.insert(0, {root!r}); "
    "from pcapflow._jitahead import compile_flow_kernels; compile_flow_kernels()"
)


def start() -> None:
    """Start compiling the flow kernels in a child, if they are not cached yet."""
    if _children or os.environ.get(CHILD_ENV) or os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return
    cache = _jitcache.cache_dir()
    if cache is None:  # nothing to share the result through
        return
    if all(_jitcache.is_cached(k) for k in flow_kernels()):
        return
    import subprocess

    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), CHILD_ENV: "1"}
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD_CODE.format(root=root)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return
    _children.append(child)


def compiling_ahead() -> int:
    """Kernels a child is compiling for this process now."""
    return len(flow_kernels()) if _children else 0


def flow_kernels() -> list[Any]:
    """What the child compiles: the kernels of the flow assembler."""
    from pcapflow.flows import kernel, keys

    return [keys.key_hashes, kernel.run, kernel.finish_all]


def wait() -> None:
    """Let the child finish (the flow kernels are then loaded from the cache, not compiled)."""
    if not _children:
        return
    import subprocess

    while _children:
        child = _children.pop()
        try:
            child.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def compile_flow_kernels() -> None:
    """In the child: run the flow assembler once over a few synthetic packets (numba started
    without its BLAS probe, as the commands start it: :mod:`pcapflow.capture.jitstart`)."""
    from pcapflow.capture import jitstart
    from pcapflow.flows.api import assemble

    jitstart.start()
    from pcapflow.flows.synthetic import syn_flood

    assemble([syn_flood(4)], file_idx=0)
