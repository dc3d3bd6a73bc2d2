# ruff: noqa: SIM102  (numba kernel: C-like structure)
"""Connection keys: which packets belong to the same Zeek connection, as 64-bit hashes.

Zeek keys a connection by the unordered pair of (address, port) endpoints plus the protocol.
ICMP uses (type, counterpart type) as ports so that an echo reply finds its request; one-way
ICMP messages (errors, unknown types) use (type, code) and are keyed by direction.  The hash
is a 64-bit mix of the canonical key (collisions are possible in principle; at 10^6 live keys
the chance of one is about 3e-8).  ``likely_server_ports`` decides orientation when the first
packet is not a SYN (Zeek's ``WantConnection``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from pcapflow._jitcache import helper, kernel
from pcapflow.model.packet import PacketArray

Arr = npt.NDArray[Any]

# Zeek's ICMP counterpart types (ICMP4_counterpart / ICMP6_counterpart).
_ICMP4_PAIRS = ((8, 0), (13, 14), (15, 16), (10, 9), (17, 18))
_ICMP6_PAIRS = ((128, 129), (133, 134), (135, 136), (130, 131), (139, 140), (144, 145))


def _counterpart_table(pairs: tuple[tuple[int, int], ...]) -> npt.NDArray[np.int32]:
    table = np.full(256, -1, dtype=np.int32)
    for a, b in pairs:
        table[a] = b
        table[b] = a
    return table


ICMP4_COUNTERPART = _counterpart_table(_ICMP4_PAIRS)
ICMP6_COUNTERPART = _counterpart_table(_ICMP6_PAIRS)

# Ports of the analyzers Zeek's default scripts register (they feed likely_server_ports).
LIKELY_SERVER_TCP = (
    21, 22, 23, 25, 53, 80, 81, 88, 102, 110, 111, 135, 139, 143, 179, 389, 443, 445, 502,
    513, 514, 563, 585, 587, 614, 631, 636, 749, 750, 989, 990, 992, 993, 994, 995, 1080,
    1433, 1434, 1723, 2049, 2811, 3128, 3268, 3306, 3389, 5222, 5223, 5269, 5432, 5900, 6379,
    6666, 6667, 6668, 6669, 8000, 8080, 8888, 20000,
)  # fmt: skip
LIKELY_SERVER_UDP = (
    53, 67, 69, 88, 111, 123, 137, 138, 161, 162, 443, 500, 514, 750, 1812, 1813, 2049,
    2123, 2152, 3389, 3544, 3478, 4500, 4789, 5060, 5072, 5353, 5355, 6081, 20000,
)  # fmt: skip


# The same, per Zeek protocol script (for emulating bare-mode runs that load only some).
SERVER_PORTS_BY_SCRIPT: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "http": ((80, 81, 631, 1080, 3128, 8000, 8080, 8888), ()),
    "ftp": ((21, 2811), ()),
    "ssh": ((22,), ()),
    "dns": ((53,), (53, 137, 5353, 5355)),
    "dhcp": ((), (67,)),
    "pop3": ((110,), ()),
    "smtp": ((25, 587), ()),
    "irc": ((6666, 6667, 6668, 6669), ()),
    "ssl": ((443, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223), ()),
    "krb": ((88, 750), (88, 750)),
    "ldap": ((389, 3268), (389,)),
    "mysql": ((1434, 3306), ()),
    "redis": ((6379,), ()),
    "ntp": ((), (123,)),
    "rdp": ((3389,), (3389,)),
    "syslog": ((), (514,)),
    "modbus": ((502,), ()),
}


def port_table(ports: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    table = np.zeros(65536, dtype=np.bool_)
    table[list(ports)] = True
    return table


@helper()
def _mix(h: np.uint64, v: np.uint64) -> np.uint64:
    h ^= v + np.uint64(0x9E3779B97F4A7C15) + (h << np.uint64(6)) + (h >> np.uint64(2))
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    return h


@kernel()
def key_hashes(
    pk: Arr,
    icmp4: Arr,
    icmp6: Arr,
    out_hash: Arr,
    out_valid: Arr,
    out_icmp_port: Arr,
) -> None:
    """Per packet: the connection-key hash, whether it can belong to a flow, ICMP resp port."""
    for i in range(pk.shape[0]):
        row = pk[i]
        proto = int(row["proto"])
        out_icmp_port[i] = 0
        if int(row["pflags"]) & 0x01 or int(row["ip_ver"]) == 0:
            out_valid[i] = False
            out_hash[i] = np.uint64(0)
            continue
        out_valid[i] = True
        a_hi = np.uint64(row["src_hi"])
        a_lo = np.uint64(row["src_lo"])
        b_hi = np.uint64(row["dst_hi"])
        b_lo = np.uint64(row["dst_lo"])
        pa = int(row["sport"])
        pb = int(row["dport"])
        one_way = False
        if proto == 1 or proto == 58:
            t = pa & 0xFF
            cp = icmp4[t] if proto == 1 else icmp6[t]
            if cp < 0:
                one_way = True
                pb = int(row["dport"])
            else:
                pb = int(cp)
            out_icmp_port[i] = pb
        swap = False
        if not one_way:
            if a_hi > b_hi or (a_hi == b_hi and (a_lo > b_lo or (a_lo == b_lo and pa > pb))):
                swap = True
        if swap:
            a_hi, b_hi = b_hi, a_hi
            a_lo, b_lo = b_lo, a_lo
            pa, pb = pb, pa
        h = np.uint64(0x243F6A8885A308D3)
        h = _mix(h, np.uint64(proto | (int(row["ip_ver"]) << 8) | (int(one_way) << 16)))
        h = _mix(h, a_hi)
        h = _mix(h, a_lo)
        h = _mix(h, b_hi)
        h = _mix(h, b_lo)
        h = _mix(h, np.uint64((pa << 16) | pb))
        out_hash[i] = h


def packet_keys(
    batch: PacketArray,
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """(key hash, valid, ICMP responder port) for every row of ``batch``."""
    n = batch.shape[0]
    hashes = np.empty(n, dtype=np.uint64)
    valid = np.empty(n, dtype=np.bool_)
    icmp_port = np.empty(n, dtype=np.int64)
    key_hashes(batch, ICMP4_COUNTERPART, ICMP6_COUNTERPART, hashes, valid, icmp_port)
    return hashes, valid, icmp_port
