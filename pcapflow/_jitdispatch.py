"""The dispatcher of kernel helpers: one compile per argument type, not per constant value.

numba types a constant argument as its literal (``Literal[int](94)``) and compiles the callee
once per literal value: ``add_history(..., ord("^"))`` and ``add_history(..., 83)`` were two
compiles, 36 of the 85 that a first run made (a quarter of its compile time).  This dispatcher
types a call's arguments by their plain type, so each helper compiles once per type signature;
LLVM still sees the constants once the helper is linked into its caller.  (Its own module, which
imports numba, so that :mod:`pcapflow._jitcache` does not have to.)
"""

from __future__ import annotations

from typing import Any

from numba.core import types
from numba.core.registry import CPUDispatcher

_unliteral: Any = types.unliteral  # untyped


class PlainArgumentDispatcher(CPUDispatcher):
    def get_call_template(self, args: Any, kws: Any) -> Any:
        plain_args = tuple(_unliteral(a) for a in args)
        plain_kws = {k: _unliteral(v) for k, v in kws.items()}
        return super().get_call_template(plain_args, plain_kws)
