"""analyze's first-pass sender kernels give what the numpy form they replaced gave: the distinct
(source, initial TTL) senders."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapflow.flows.evidence import (
    _FLOWING,
    _INITIAL,
    _Senders,
)
from pcapflow.flows.records import _AddrCache
from pcapflow.model.packet import PACKET_DTYPE, PF_FRAGMENT

ADDRS = [(4, 0, 0x0A020104), (4, 0, 0x0A020106), (4, 0, 0x0A020164), (4, 0, 0),
         (6, 0x20010DB800000000, 1), (6, 0x20010DB800000000, 0x64)]  # fmt: skip
TEXTS = ["10.2.1.4", "10.2.1.6", "10.2.1.100", "0.0.0.0", "2001:db8::1", "2001:db8::64"]

packet = st.tuples(
    st.sampled_from(range(len(ADDRS))),
    st.sampled_from(range(len(ADDRS))),
    st.sampled_from([0, 22, 80, 443, 8080, 65535]),
    st.sampled_from([0, 22, 80, 443, 8080, 65535]),
    st.sampled_from([1, 63, 64, 128, 255, 254]),
    st.sampled_from([1, 6, 17, 58, 50]),
    st.booleans(),
)


def batch_of(rows: list[tuple[int, int, int, int, int, int, bool]]) -> Any:
    batch = np.zeros(len(rows), dtype=PACKET_DTYPE)
    for i, (s, d, sp, dp, ttl, proto, frag) in enumerate(rows):
        batch[i]["ip_ver"], batch[i]["src_hi"], batch[i]["src_lo"] = ADDRS[s]
        batch[i]["dst_hi"], batch[i]["dst_lo"] = ADDRS[d][1:]
        if ADDRS[s][0] != ADDRS[d][0]:
            batch[i]["dst_hi"], batch[i]["dst_lo"] = ADDRS[s][1:]
        batch[i]["sport"], batch[i]["dport"], batch[i]["ttl"], batch[i]["proto"] = (
            sp,
            dp,
            ttl,
            proto,
        )
        batch[i]["pflags"] = PF_FRAGMENT if frag else 0
    return batch


def numpy_senders(batches: list[Any]) -> set[tuple[int, int, int, int]]:
    """The (version, hi, lo, ttl) the numpy observer found (before the kernels)."""
    found: set[tuple[int, int, int, int]] = set()
    for b in batches:
        mask = _INITIAL[b["ttl"]] & _FLOWING[b["proto"]]
        for row in b[mask]:
            hi = int(row["src_hi"]) if row["ip_ver"] == 6 else 0
            lo = int(row["src_lo"]) & (0xFFFFFFFF if row["ip_ver"] == 4 else (1 << 64) - 1)
            found.add((int(row["ip_ver"]), hi, lo, int(row["ttl"])))
    return found


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(packet, max_size=40), min_size=1, max_size=4))
def test_senders_are_the_distinct_sources_with_an_initial_ttl(rows: list[Any]) -> None:
    batches = [batch_of(r) for r in rows]
    senders = _Senders()
    for b in batches:
        senders.add(b)
    addrs = _AddrCache()
    expected = {(addrs.text(v, hi, lo), ttl) for v, hi, lo, ttl in numpy_senders(batches)}
    assert senders.texts(addrs) == expected


def test_the_sender_set_grows_past_its_first_size() -> None:
    n = 5000  # more distinct senders than half of the first table's 4096 slots
    batch = np.zeros(n, dtype=PACKET_DTYPE)
    batch["ip_ver"], batch["src_lo"], batch["ttl"], batch["proto"] = 4, np.arange(n) + 1, 64, 6
    senders = _Senders()
    senders.add(batch)
    senders.add(batch[::-1].copy())  # the same ones again: counted once
    assert senders.v4 == {(i + 1) | (64 << 32) for i in range(n)}
    assert senders.table.shape[0] >= 2 * n
