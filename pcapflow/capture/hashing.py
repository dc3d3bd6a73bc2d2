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


def offloaded_checksum(raw: bytes, l3: int, l4: int, ip_end: int, proto: int, field: int) -> bool:
    """Is ``field`` (a wrong TCP/UDP checksum) the unfinished one of checksum offload?

    The sending stack leaves the folded sum of the pseudo-header (addresses, protocol, segment
    length) for the NIC to complete; a capture taken on that host or a veth shows it as is.
    ``raw[l3:]`` is the IP header, ``[l4, ip_end)`` the segment.  Same test as the fast
    engine's kernel.
    """
    if proto not in (6, 17) or l4 < l3 or len(raw) <= l3:
        return False
    addrs = raw[l3 + 12 : l3 + 20] if raw[l3] >> 4 == 4 else raw[l3 + 8 : l3 + 40]
    if len(addrs) not in (8, 32):
        return False
    seg = ip_end - l4
    acc = sum(int.from_bytes(addrs[i : i + 2], "big") for i in range(0, len(addrs), 2))
    acc += proto + (seg & 0xFFFF) + (seg >> 16)
    while acc > 0xFFFF:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return field == acc
