"""The capture backend interface and its registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from pcapflow.errors import InputError
from pcapflow.model.capture import CaptureInfo
from pcapflow.model.packet import PacketArray

DEFAULT_BATCH = 65536


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


def get_backend(name: str = "fast") -> CaptureBackend:
    """The backend registered under ``name`` (``fast`` or ``tshark``)."""
    _load_builtin_backends()
    try:
        return BACKENDS[name]()
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise InputError(f"unknown capture engine {name!r} (known: {known})") from None


def _load_builtin_backends() -> None:
    # Imported lazily so that importing pcapflow does not import every backend.
    from pcapflow.capture import fast, tshark  # noqa: F401
