"""The dispatchers of pcapflow's kernels and kernel helpers (this module imports numba, so that
:mod:`pcapflow._jitcache` does not have to).

Helpers: one compile per argument type, not per constant value.

numba types a constant argument as its literal (``Literal[int](94)``) and compiles the callee
once per literal value: ``add_history(..., ord("^"))`` and ``add_history(..., 83)`` were two
compiles, 36 of the 85 that a first run made (a quarter of its compile time).  This dispatcher
types a call's arguments by their plain type, so each helper compiles once per type signature;
LLVM still sees the constants once the helper is linked into its caller.

Kernels: loaded from the on-disk cache without numba's CPU target registries.  numba's cache
refreshes the target context before every load (``FunctionCache.load_overload``): the first
refresh imports and registers every typing and lowering registry (``numba.np.arraymath``,
``npyimpl``, the typed containers, ...), 0.15 s of a warm ``pcapflow flows``.  A cached
kernel is object code: linking it needs numba's runtime (NRT), not the registries.  A kernel
dispatcher therefore loads with the runtime started only, until something has to compile:
a cache miss runs :data:`before_compile` (the command line loads the registries there, see
:mod:`pcapflow.capture.jitstart`) and numba's compiler refreshes the context itself, as always.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from numba.core import types
from numba.core.caching import FunctionCache
from numba.core.registry import CPUDispatcher
from numba.core.runtime.nrt import rtsys

_unliteral: Any = types.unliteral  # untyped

# run once before the first compile of a kernel whose cached code is missing (a cache miss)
before_compile: list[Callable[[], None]] = []


class PlainArgumentDispatcher(CPUDispatcher):
    def get_call_template(self, args: Any, kws: Any) -> Any:
        plain_args = tuple(_unliteral(a) for a in args)
        plain_kws = {k: _unliteral(v) for k, v in kws.items()}
        return super().get_call_template(plain_args, plain_kws)


def registries_loaded() -> bool:
    """numba's CPU target has loaded its typing and lowering registries in this process."""
    return "numba.np.arraymath" in sys.modules


class KernelCache(FunctionCache):
    """numba's on-disk cache of a kernel, loaded without the CPU target's registries."""

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        numba_cache: Any = super()  # untyped
        if registries_loaded():
            return numba_cache.load_overload(sig, target_context)  # numba's own path: cheap now
        runtime: Any = rtsys
        runtime.initialize(target_context)  # what cached object code needs: numba's runtime
        with numba_cache._guard_against_spurious_io_errors():
            loaded = numba_cache._load_overload(sig, target_context)
            if loaded is None:  # a miss: numba compiles the kernel next
                while before_compile:
                    before_compile.pop(0)()
            return loaded
        return None  # (numba's guard swallowed an I/O error, Windows only: compile)


class KernelDispatcher(CPUDispatcher):
    """A kernel's dispatcher: cached on disk in :class:`KernelCache`."""

    def enable_caching(self) -> None:
        cache: Any = KernelCache
        self._cache = cache(self.py_func)
