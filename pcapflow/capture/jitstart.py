"""Start numba's CPU target for the kernels without its BLAS probe (command-line start-up).

numba loads the registries of its CPU target before it compiles anything (and, for functions
other than pcapflow's kernels, before it loads one from its cache).  One of them
(``numba.np.arraymath``) probes for a BLAS by importing ``scipy.linalg.cython_blas``: with SciPy
installed that import (scipy.linalg, numpy.f2py, the array-API shims) is 0.2-0.4 s, a sixth of
``pcapflow flows`` on a 1 GB capture.  pcapflow's kernels use no BLAS (no ``np.dot``, no
``np.linalg``), so the command-line entry points load the registries with ``scipy.linalg`` out
of reach: numba then records "no BLAS" for this process, and SciPy stays importable afterwards
(``scipy.stats`` in the diagnosis is imported normally).  (``import numba`` itself imports the
top-level ``scipy`` package; that is cheap.)

A warm run loads no registry at all: pcapflow's kernels load from the cache without them
(:class:`pcapflow._jitdispatch.KernelCache`, 0.15 s saved).  So :func:`start` loads them only
when something will compile: now when there is no cache, else at the first cache miss.

Library users are not affected: only :func:`start` does this, and the CLI commands call it.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType


class _NoSciPy(importlib.abc.MetaPathFinder):
    """Refuses ``scipy.linalg`` while installed (numba's probe catches the ImportError)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname == "scipy.linalg" or fullname.startswith("scipy.linalg."):
            raise ImportError(f"{fullname}: not imported while numba starts (no BLAS needed)")
        return None


def start() -> None:
    """Have numba's registries loaded with ``scipy.linalg`` kept out, before the first compile:
    now if kernels are not cached, else at the first cache miss (a warm run loads none)."""
    from pcapflow import _jitcache

    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return
    if _jitcache.cache_dir() is None:  # every kernel compiles
        load_registries()
        return
    from pcapflow import _jitdispatch

    if load_registries not in _jitdispatch.before_compile:
        _jitdispatch.before_compile.append(load_registries)


def load_registries() -> None:
    """Load numba's typing and CPU target registries now, ``scipy.linalg`` kept out (see above).
    Does nothing when it is imported already (nothing to save) or numba's target is loaded."""
    if "scipy.linalg" in sys.modules or "numba.np.arraymath" in sys.modules:
        return
    from numba.core.registry import cpu_target

    finder = _NoSciPy()
    sys.meta_path.insert(0, finder)
    try:
        cpu_target.typing_context.refresh()
        cpu_target.target_context.refresh()
    finally:
        sys.meta_path.remove(finder)
