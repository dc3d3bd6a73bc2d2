"""Capture reading: a path (or ``-``) -> :class:`CaptureInfo` + batches of packet rows.

Backends sit behind one small interface (:class:`CaptureBackend`) and a registry keyed by name
("fast" = the default chunked numba reader, "tshark" = Wireshark's dissectors via pyshark).
See docs/capture.md for formats, link types, column semantics and duplicate handling.
"""

from __future__ import annotations

from pcapflow.capture.base import BACKENDS, CaptureBackend, CaptureReader, get_backend

__all__ = ["BACKENDS", "CaptureBackend", "CaptureReader", "get_backend"]
