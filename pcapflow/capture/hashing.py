"""The 32-bit content hash of ``opts_hash`` / ``payload_hash``, in plain Python.

Same function as the numba kernel :func:`pcapflow.capture.kernels.hash32`: FNV-1a over
big-endian 32-bit words (then the tail bytes one by one), xor the length, murmur3 ``fmix32``.
Stable across runs and platforms; equal bytes give equal values.  Not a CRC.
"""

from __future__ import annotations

_M32 = 0xFFFFFFFF
_FNV_PRIME = 0x01000193


def hash32_py(data: bytes) -> int:
    """The 32-bit hash of ``data`` (``0`` is an ordinary value, not "empty")."""
    h = 0x811C9DC5
    n = len(data)
    whole = n - n % 4
    for i in range(0, whole, 4):
        h = ((h ^ int.from_bytes(data[i : i + 4], "big")) * _FNV_PRIME) & _M32
    for byte in data[whole:]:
        h = ((h ^ byte) * _FNV_PRIME) & _M32
    h ^= n & _M32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h
