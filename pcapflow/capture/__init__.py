"""Capture reading: a path (or ``-``) -> :class:`CaptureInfo` + batches of packet rows.

Backends sit behind one small interface (:class:`CaptureBackend`) and a registry keyed by name
("fast" = dpkt-based default, "tshark" = pyshark/tshark).
"""

from __future__ import annotations

from pcapflow.capture.base import BACKENDS, CaptureBackend, CaptureReader, get_backend

__all__ = ["BACKENDS", "CaptureBackend", "CaptureReader", "get_backend"]
