"""The capture backend interface and its registry."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Protocol

from pcapflow.errors import InputError
from pcapflow.model.capture import CaptureInfo
from pcapflow.model.packet import PacketArray

DEFAULT_BATCH = 65536
ENGINES: tuple[str, ...] = ("fast", "tshark")  # the built-in backends (see _load_builtin_backends)


class CaptureReader(Protocol):
    """An open capture.  Iterate :meth:`batches` once; :meth:`info` is complete afterwards."""

    def batches(self) -> Iterator[PacketArray]:
        """Packet rows (``PACKET_DTYPE``) in capture order, in chunks of bounded size."""
        ...

    def info(self) -> CaptureInfo:
        """What was read; counts are final once :meth:`batches` is exhausted."""
        ...


class CaptureBackend(Protocol):
    """Opens a capture file (``-`` = standard input) for reading; raises ``CaptureError``."""

    name: str

    def open(
        self, path: str, file_idx: int = 0, *, batch_size: int = DEFAULT_BATCH
    ) -> CaptureReader: ...


BACKENDS: dict[str, Callable[[], CaptureBackend]] = {}


def register(name: str) -> Callable[[Callable[[], CaptureBackend]], Callable[[], CaptureBackend]]:
    """Class decorator / factory registration: ``@register("fast")``."""

    def deco(factory: Callable[[], CaptureBackend]) -> Callable[[], CaptureBackend]:
        BACKENDS[name] = factory
        return factory

    return deco


# Built-in engines: name -> module that registers it (imported only when asked for).
BUILTIN_MODULES = {"fast": "pcapflow.capture.fast", "tshark": "pcapflow.capture.tshark"}


def get_backend(name: str = "fast") -> CaptureBackend:
    """The backend registered under ``name`` (``fast`` or ``tshark``)."""
    if name not in BACKENDS and name in BUILTIN_MODULES:
        importlib.import_module(BUILTIN_MODULES[name])
    try:
        return BACKENDS[name]()
    except KeyError:
        for module in BUILTIN_MODULES.values():
            importlib.import_module(module)
        known = ", ".join(sorted(BACKENDS))
        raise InputError(f"unknown capture engine {name!r} (known: {known})") from None
