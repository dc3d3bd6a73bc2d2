# ruff: noqa: SIM102, SIM108, SIM109  (numba kernels: explicit comparisons, C-like structure)
"""The flow-assembly state machine: Zeek's connection semantics over packet arrays, in numba.

One call of :func:`run` walks packet rows in capture order.  Each row carries a key id (from
:mod:`pcapflow.flows.keys`); ``key_cur[key]`` is the slot of the key's live flow or -1.  Per
packet the kernel

1. looks the packet's key hash up in an open-addressing table (position = key id);
   fires the flow's Zeek timers that are due (inactivity, attempt, close delay, expire) and, for
   TCP, checks for port reuse (``TCPSessionAdapter::IsReuse``): the old flow ends, a new begins;
2. creates a flow when the key has none, oriented as ``WantConnection`` decides
   (``likely_server_ports``), with ``^`` in the history when flipped;
3. updates the flow: for TCP the endpoint state machine, sequence bookkeeping and history of
   ``TCPSessionAdapter::Process``; for UDP/ICMP the activity, sizes and history of their
   session adapters; in all cases the ConnSize packet and IP-byte counters.

Every ``sweep`` interval of capture time the used part of the table (up to ``C_HIGH``) is
checked for due timers, so idle flows end and free their slot even when
no further packet of theirs arrives; a flow's own packets always check its timers first.
Ended flows get their ``conn_state`` and byte counts computed (:func:`finish`) and are listed
in ``fin_slots`` for the Python side to gather; their slots are not reused within the same call.

The code follows the structure of Zeek's C++ (names in the docstrings) so that it can be checked
against it; every function is plain Python that numba compiles (``NUMBA_DISABLE_JIT=1`` runs the
same code interpreted, which the parity test uses).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from pcapflow import _jitcache
from pcapflow.flows.layout import (
    A_HASH,
    A_OHI,
    A_OLO,
    A_RHI,
    A_RLO,
    CLOSED,
    CS_OTH,
    CS_REJ,
    CS_RSTO,
    CS_RSTOS0,
    CS_RSTR,
    CS_RSTRH,
    CS_S0,
    CS_S1,
    CS_S2,
    CS_S3,
    CS_SF,
    CS_SH,
    CS_SHR,
    E_ACK,
    E_AWRAP,
    E_BHI,
    E_BLO,
    E_CKC,
    E_CKT,
    E_DIDCLOSE,
    E_FINCNT,
    E_FINSEQ,
    E_GAPC,
    E_GAPT,
    E_HFIN,
    E_HRST,
    E_HSYN,
    E_LAST,
    E_PREV,
    E_RSEQ,
    E_RSTCNT,
    E_RXC,
    E_RXT,
    E_SKIP,
    E_START,
    E_STATE,
    E_SWRAP,
    E_SYN_IPID,
    E_SYN_OPTS,
    E_SYN_RXMT,
    E_SYN_SEQ,
    E_SYN_TSVAL,
    E_SYN_TTL,
    E_SYNACK_SEQ,
    E_TRIM,
    E_W0C,
    E_W0T,
    END_REUSE,
    END_TIMEOUT,
    ESTABLISHED,
    F_ACTIVE,
    F_ATTEMPT,
    F_CHKC0,
    F_CHKT0,
    F_DELETE,
    F_DUPS,
    F_END,
    F_EXPIRE_OFF,
    F_FIRST_FRAME,
    F_FLIP_CAND,
    F_FLIPPED,
    F_FPS,
    F_HLEN,
    F_HSEEN,
    F_IFACES,
    F_INACT,
    F_IPB0,
    F_KEY,
    F_LAST,
    F_LAST_FRAME,
    F_LASTPKT,
    F_MISSED,
    F_NPKTS,
    F_NSTORED,
    F_OBYTES,
    F_OPORT,
    F_PARTIAL,
    F_PKTS0,
    F_PROTO,
    F_RBYTES,
    F_REASM,
    F_RPORT,
    F_SIZE0,
    F_START,
    F_STATE,
    F_VER,
    INACTIVE,
    N_E,
    N_F,
    PARTIAL,
    RESET,
    SYN_ACK_SENT,
    SYN_SENT,
)

# Packet constants (numba needs module-level ints).

Arr = npt.NDArray[Any]
_F = TypeVar("_F", bound=Callable[..., Any])


def kernel_jit(*, entry: bool = False, **options: Any) -> Callable[[_F], _F]:
    """``njit`` for the kernel, without NRT reference counting; ``entry``: called from Python
    (compiled on first call and cached, see :mod:`pcapflow._jitcache`), else a helper compiled
    into its callers.

    The kernel never allocates arrays (it only indexes the ones passed in), so numba's
    reference counting of every array argument on every helper call is pure overhead (it cost
    two thirds of the run time); ``_nrt=False`` drops it.  ``nogil``: the capture reader's
    read-ahead thread decodes the next batches while the kernel runs.
    """
    jit = _jitcache.kernel if entry else _jitcache.helper
    return jit(_nrt=False, nogil=True, **options)


_FIN = 0x01
_SYN = 0x02
_RST = 0x04
_ACK = 0x10
_PF_FRAGMENT = 0x01
_PF_TRUNCATED = 0x02
_PF_BAD_CSUM = 0x04
_PF_DUPLICATE = 0x08
_PF_DUP_SEEN = 0x80  # the reader dropped a copy of this packet seen on another interface
_PF_HAS_TS = 0x10
_PF_CSUM_UNKNOWN = 0x40  # with _PF_BAD_CSUM: the unfinished checksum of checksum offload
_TCP = 6
_UDP = 17
_ICMP = 1
_ICMP6 = 58
_M32 = 0xFFFFFFFF
_TOO_LARGE_SEQ_DELTA = 1048576

# Indices of the parameter vector ``P`` (see pcapflow.flows.assembler.Params).
P_CSUM = 0  # checksum policy: CSUM_VERIFY, CSUM_IGNORE or CSUM_OFFLOAD_AWARE
P_KEEP = 1  # packets kept per flow
P_ATTEMPT_NS = 2  # tcp_attempt_delay
P_CLOSE_NS = 3  # tcp_close_delay
P_LINGER_NS = 4  # tcp_connection_linger
P_UDP_NS = 5  # udp_inactivity_timeout (also TCP during the handshake, as Zeek does)
P_ICMP_NS = 6  # icmp_inactivity_timeout
P_TCP_NS = 7  # tcp_inactivity_timeout
P_SWEEP_NS = 8  # how often all live flows are checked for due timers
P_REASM = 9  # 1: reassemble TCP payload (gap detection), as Zeek does for analysed flows
P_GAPS_PARTIAL = 10  # report_gaps_for_partial
P_ABOVE_HOLE = 11  # tcp_max_above_hole_without_any_acks (0 = off)
P_EXCESSIVE = 12  # tcp_excessive_data_without_further_acks (0 = off)
N_P = 13

# Indices of the counter vector ``C``.
C_FREE = 0  # free slots left in free_slots[:C_FREE]
C_FIN = 1  # ended slots in fin_slots[:C_FIN]
C_LIVE = 2  # live flows
C_NEXT_SWEEP = 3  # capture time of the next sweep, ns
C_NEW = 4  # flows created (all time)
C_HT_USED = 5  # keys in the hash table
C_HT_FILL = 6  # used + deleted (tombstone) entries
C_HIGH = 7  # slots used so far (free slots are handed out lowest first): sweeps stop here
C_CSUM_CHECKED = 8  # packets whose transport checksum was verified
C_CSUM_BAD = 9  # of them, wrong
C_CSUM_OFFLOADED = 10  # of the wrong ones, unfinished by checksum offload
N_C = 11

# Checksum policies (P_CSUM).
CSUM_VERIFY = 0  # every bad checksum keeps its packet out (Zeek without -C)
CSUM_IGNORE = 1  # checksums are not looked at (zeek -C)
CSUM_OFFLOAD_AWARE = 2  # bad checksums count unless they are offload's unfinished ones

HT_EMPTY = 0
HT_USED = 1
HT_DELETED = 2


@kernel_jit()
def seq_delta(a: int, b: int) -> int:
    """Zeek's ``seq_delta``: ``int32(a - b)``."""
    d = (a - b) & _M32
    if d >= 0x80000000:
        d -= 0x100000000
    return d


@kernel_jit()
def is_handshake(state: int) -> bool:
    return state == INACTIVE or state == SYN_SENT or state == SYN_ACK_SENT


# --- history ---------------------------------------------------------------------------------


@kernel_jit()
def add_history(FL: Arr, HIST: Arr, s: int, code: int) -> None:
    n = FL[s, F_HLEN]
    if n < HIST.shape[1]:
        HIST[s, n] = code
        FL[s, F_HLEN] = n + 1


@kernel_jit()
def check_history(FL: Arr, HIST: Arr, s: int, mask: int, code: int) -> bool:
    """``Connection::CheckHistory``: record ``code`` once; True if it had been seen before."""
    if (FL[s, F_HSEEN] & mask) == 0:
        FL[s, F_HSEEN] |= mask
        add_history(FL, HIST, s, code)
        return False
    return True


@kernel_jit()
def ep_check_history(FL: Arr, HIST: Arr, s: int, e: int, mask: int, code: int) -> bool:
    """``TCP_Endpoint::CheckHistory``: responder bits sit 16 higher, its letters lower-case."""
    if e == 1:
        return check_history(FL, HIST, s, mask << 16, code + 32)
    return check_history(FL, HIST, s, mask, code)


@kernel_jit()
def ep_add_history(FL: Arr, HIST: Arr, s: int, e: int, code: int) -> None:
    add_history(FL, HIST, s, code + 32 if e == 1 else code)


@kernel_jit()
def scaled_history(
    FL: Arr,
    HIST: Arr,
    s: int,
    cnt: Arr,
    ci: int,
    ti: int,
    code: int,
) -> None:
    """``Connection::ScaledHistoryEntry``: letters at the 1st, 10th, 100th ... occurrence."""
    cnt[ci] += 1
    if cnt[ci] == cnt[ti]:
        add_history(FL, HIST, s, code)
        cnt[ti] *= 10


# --- flow creation / flipping -------------------------------------------------------------------


@kernel_jit()
def init_slot(FL: Arr, EP: Arr, HIST: Arr, s: int) -> None:
    for j in range(N_F):
        FL[s, j] = 0
    for j in range(HIST.shape[1]):
        HIST[s, j] = 0
    for e in range(2):
        for j in range(N_E):
            EP[s, e, j] = 0
        EP[s, e, E_RXT] = 1
        EP[s, e, E_W0T] = 1
        EP[s, e, E_CKT] = 1
        EP[s, e, E_SYN_SEQ] = -1
        EP[s, e, E_SYN_TSVAL] = -1
        EP[s, e, E_SYNACK_SEQ] = -1
        EP[s, e, E_RSEQ] = 1
        EP[s, e, E_GAPT] = 1
    FL[s, F_SIZE0] = -1
    FL[s, F_SIZE0 + 1] = -1
    FL[s, F_CHKT0] = 1
    FL[s, F_CHKT0 + 1] = 1
    FL[s, F_ATTEMPT] = -1
    FL[s, F_DELETE] = -1


@kernel_jit()
def flip_roles(FL: Arr, ADDR: Arr, EP: Arr, HIST: Arr, s: int, rewrite: bool) -> None:
    """``Connection::FlipRoles``: swap the endpoints and their counters; ``^`` in the history.

    ``rewrite`` (the flip of a connection that began with a SYN-ACK, Zeek #2191): the letters
    recorded so far change case and ``^`` goes in front, so the history reads as if the roles had
    been known from the start (Zeek logs ``^haf``).  Otherwise ``^`` is appended where the flip
    happened (Zeek logs ``Hs^ADadFf`` for a SYN/SYN-ACK reversal).
    """
    for a, b in ((A_OHI, A_RHI), (A_OLO, A_RLO)):
        t = ADDR[s, a]
        ADDR[s, a] = ADDR[s, b]
        ADDR[s, b] = t
    t = FL[s, F_OPORT]
    FL[s, F_OPORT] = FL[s, F_RPORT]
    FL[s, F_RPORT] = t
    for base in (F_PKTS0, F_IPB0, F_SIZE0, F_CHKC0, F_CHKT0):
        t = FL[s, base]
        FL[s, base] = FL[s, base + 1]
        FL[s, base + 1] = t
    for j in range(N_E):
        t = EP[s, 0, j]
        EP[s, 0, j] = EP[s, 1, j]
        EP[s, 1, j] = t
    FL[s, F_FLIPPED] += 1
    if not rewrite:
        add_history(FL, HIST, s, 94)  # '^' appended, as Connection::FlipRoles does
        return
    seen = FL[s, F_HSEEN]
    FL[s, F_HSEEN] = ((seen & 0xFFFF) << 16) | ((seen >> 16) & 0xFFFF)
    n = FL[s, F_HLEN]
    if n >= HIST.shape[1]:
        n = HIST.shape[1] - 1
    for j in range(n, 0, -1):
        c = HIST[s, j - 1]
        if 65 <= c <= 90:
            c += 32
        elif 97 <= c <= 122:
            c -= 32
        HIST[s, j] = c
    HIST[s, 0] = 94  # '^'
    FL[s, F_HLEN] = n + 1
    fps = FL[s, F_FPS]
    FL[s, F_FPS] = ((fps & 1) << 1) | ((fps & 2) >> 1)
    FL[s, F_PARTIAL] = 0


# --- TCP --------------------------------------------------------------------------------------


@kernel_jit()
def set_state(FL: Arr, EP: Arr, s: int, e: int, new: int, P: Arr) -> None:
    """``TCP_Endpoint::SetState``; leaving the handshake switches to the TCP inactivity timeout."""
    old = EP[s, e, E_STATE]
    if new != old:
        if not is_handshake(new) and is_handshake(old) and is_handshake(EP[s, 1 - e, E_STATE]):
            FL[s, F_INACT] = P[P_TCP_NS]
        EP[s, e, E_PREV] = old
        EP[s, e, E_STATE] = new


@kernel_jit()
def get_relative_seq(EP: Arr, s: int, e: int, cur: int, last: int, wraps: int) -> tuple[int, bool]:
    delta = seq_delta(cur, last)
    if delta < 0:
        if wraps and cur > last:
            wraps -= 1
    elif delta > 0:
        if cur < last:
            wraps += 1
    if wraps == 0:
        d = seq_delta(cur, EP[s, e, E_START])
        return d, d < 0
    return ((wraps << 32) | cur) - EP[s, e, E_START], False


@kernel_jit()
def update_last_seq_value(EP: Arr, s: int, e: int, v: int) -> None:
    if v < EP[s, e, E_LAST]:
        EP[s, e, E_SWRAP] += 1
    EP[s, e, E_LAST] = v


@kernel_jit()
def init_endpoint(EP: Arr, s: int, e: int, flags: int, first: int, last: int) -> None:
    st = EP[s, e, E_STATE]
    syn = (flags & _SYN) != 0
    if st == INACTIVE:
        if syn:
            EP[s, e, E_ACK] = first
            EP[s, e, E_START] = first
        else:
            EP[s, e, E_ACK] = (first - 1) & _M32
            EP[s, e, E_START] = (first - 1) & _M32
            last = first
        EP[s, e, E_LAST] = last
    elif st == SYN_SENT or st == SYN_ACK_SENT:
        if syn and first != EP[s, e, E_START]:
            EP[s, e, E_START] = first
            EP[s, e, E_ACK] = first
            EP[s, e, E_LAST] = last
    elif st == ESTABLISHED or st == PARTIAL:
        if syn:
            EP[s, e, E_START] = first
            EP[s, e, E_ACK] = first
            EP[s, e, E_LAST] = last
    elif st == RESET:
        if syn and EP[s, e, E_PREV] == INACTIVE:
            EP[s, e, E_START] = first
            EP[s, e, E_ACK] = first
            EP[s, e, E_LAST] = last


@kernel_jit()
def update_history(
    FL: Arr,
    HIST: Arr,
    EP: Arr,
    s: int,
    e: int,
    flags: int,
    rel_seq: int,
    length: int,
) -> None:
    syn = (flags & _SYN) != 0
    fin = (flags & _FIN) != 0
    rst = (flags & _RST) != 0
    bits = int(syn) + int(fin) + int(rst)
    if bits > 1:
        if fin and rst:
            ep_check_history(FL, HIST, s, e, 0x8, 73)  # 'I'
        else:
            ep_check_history(FL, HIST, s, e, 0x40, 81)  # 'Q'
    elif bits == 1:
        if syn:
            code = 72 if (flags & _ACK) else 83  # 'H' / 'S'
            if ep_check_history(FL, HIST, s, e, 0x1, code) and rel_seq != EP[s, e, E_HSYN]:
                ep_add_history(FL, HIST, s, e, code)
            EP[s, e, E_HSYN] = rel_seq
        if fin:
            if ep_check_history(FL, HIST, s, e, 0x2, 70) and rel_seq + length != EP[s, e, E_HFIN]:
                ep_add_history(FL, HIST, s, e, 70)
            EP[s, e, E_HFIN] = rel_seq + length
        if rst:
            if ep_check_history(FL, HIST, s, e, 0x4, 82) and rel_seq != EP[s, e, E_HRST]:
                ep_add_history(FL, HIST, s, e, 82)
            EP[s, e, E_HRST] = rel_seq
    else:
        if length:
            ep_check_history(FL, HIST, s, e, 0x10, 68)  # 'D'
        elif flags & _ACK:
            ep_check_history(FL, HIST, s, e, 0x20, 65)  # 'A'


@kernel_jit()
def connection_closed(FL: Arr, EP: Arr, s: int, e: int, P: Arr) -> None:
    """``TCPSessionAdapter::ConnectionClosed`` (timers only; no reassembly is modelled)."""
    if EP[s, e, E_DIDCLOSE]:
        return
    EP[s, e, E_DIDCLOSE] = 1
    p = 1 - e
    complete = (
        EP[s, e, E_STATE] == RESET or EP[s, p, E_DIDCLOSE] != 0 or EP[s, p, E_STATE] == INACTIVE
    )
    if complete:
        FL[s, F_ATTEMPT] = -1
        FL[s, F_EXPIRE_OFF] = 1
        FL[s, F_DELETE] = FL[s, F_LAST] + P[P_CLOSE_NS]


@kernel_jit()
def update_state_machine(
    FL: Arr,
    ADDR: Arr,
    EP: Arr,
    HIST: Arr,
    s: int,
    e: int,
    flags: int,
    base_seq: int,
    length: int,
    now: int,
    P: Arr,
) -> tuple[int, bool]:
    """``TCPSessionAdapter::UpdateStateMachine``; returns (endpoint index, do_close).

    The endpoint index changes when a SYN/SYN-ACK reversal flips the connection.
    """
    p = 1 - e
    syn = (flags & _SYN) != 0
    fin = (flags & _FIN) != 0
    rst = (flags & _RST) != 0
    ack = (flags & _ACK) != 0
    do_close = False
    st = EP[s, e, E_STATE]
    if st == INACTIVE:
        if syn:
            if e == 0:
                set_state(FL, EP, s, e, SYN_ACK_SENT if ack else SYN_SENT, P)
                if P[P_ATTEMPT_NS] > 0 and FL[s, F_ATTEMPT] < 0 and FL[s, F_EXPIRE_OFF] == 0:
                    FL[s, F_ATTEMPT] = now + P[P_ATTEMPT_NS]
            else:
                if not ack and EP[s, p, E_STATE] == SYN_ACK_SENT and base_seq == EP[s, e, E_START]:
                    # SYN/SYN-ACK reversal: flip the endpoints and establish the connection.
                    flip_roles(FL, ADDR, EP, HIST, s, False)
                    e = 1 - e
                    p = 1 - p
                    set_state(FL, EP, s, p, ESTABLISHED, P)
                    FL[s, F_FPS] |= 1
                if EP[s, p, E_STATE] == SYN_SENT:
                    set_state(FL, EP, s, p, ESTABLISHED, P)
                set_state(FL, EP, s, e, ESTABLISHED, P)
        if fin:
            set_state(FL, EP, s, e, CLOSED, P)
            do_close = True
        if rst:
            set_state(FL, EP, s, e, RESET, P)
            do_close = True
        if EP[s, e, E_STATE] == INACTIVE:
            if e == 1 and length == 0 and EP[s, 0, E_STATE] == SYN_SENT:
                pass  # an ACK of the SYN before the SYN-ACK: not a partial connection
            elif ack and EP[s, p, E_STATE] == ESTABLISHED:
                set_state(FL, EP, s, e, ESTABLISHED, P)
                FL[s, F_PARTIAL] = 0
                FL[s, F_FPS] |= 1 if e == 0 else 2
            else:
                set_state(FL, EP, s, e, PARTIAL, P)
    elif st == SYN_SENT or st == SYN_ACK_SENT:
        if fin:
            set_state(FL, EP, s, e, CLOSED, P)
            do_close = True
        if rst:
            set_state(FL, EP, s, e, RESET, P)
            do_close = True
    elif st == ESTABLISHED or st == PARTIAL:
        if syn and st == PARTIAL and EP[s, p, E_STATE] == INACTIVE and not ack:
            set_state(FL, EP, s, e, SYN_SENT, P)
        if fin and not rst:
            set_state(FL, EP, s, e, CLOSED, P)
            if EP[s, p, E_STATE] == RESET and EP[s, p, E_PREV] == CLOSED:
                set_state(FL, EP, s, p, CLOSED, P)
            do_close = True
        if rst:
            set_state(FL, EP, s, e, RESET, P)
            do_close = True
    elif st == CLOSED:
        if rst and EP[s, p, E_STATE] != CLOSED:
            set_state(FL, EP, s, e, RESET, P)
            if not EP[s, e, E_DIDCLOSE]:
                do_close = True
    return e, do_close


@kernel_jit()
def is_clean(EP: Arr, s: int, e: int) -> bool:
    st = EP[s, e, E_STATE]
    return bool(st == ESTABLISHED or (st == CLOSED and EP[s, e, E_PREV] == ESTABLISHED))


@kernel_jit()
def content_gap(FL: Arr, EP: Arr, HIST: Arr, s: int, e: int, length: int, P: Arr) -> None:
    """``TCP_Reassembler::Gap``: 'G' only in clean states; missed_bytes as content_gap does."""
    clean = is_clean(EP, s, e) and is_clean(EP, s, 1 - e)
    if clean:
        scaled_history(FL, HIST, s, EP[s, e], E_GAPC, E_GAPT, 71 + (32 if e == 1 else 0))
    if clean or P[P_GAPS_PARTIAL]:
        FL[s, F_MISSED] += length


@kernel_jit()
def undelivered(FL: Arr, EP: Arr, HIST: Arr, s: int, e: int, up_to: int, P: Arr) -> None:
    """``TCP_Reassembler::Undelivered``: the peer acknowledged data never seen: a gap."""
    if up_to <= 2 and FL[s, F_PARTIAL]:
        return
    r = EP[s, e, E_RSEQ]
    if not EP[s, e, E_SKIP]:
        blo = EP[s, e, E_BLO]
        bhi = EP[s, e, E_BHI]
        if bhi > 0 and blo < up_to:
            if blo > r:
                content_gap(FL, EP, HIST, s, e, blo - r, P)
            if bhi > r:
                r = bhi
            EP[s, e, E_BLO] = 0
            EP[s, e, E_BHI] = 0
        if up_to > r:
            content_gap(FL, EP, HIST, s, e, up_to - r, P)
    if up_to > r:
        r = up_to
    EP[s, e, E_RSEQ] = r


@kernel_jit()
def ack_received(FL: Arr, EP: Arr, HIST: Arr, s: int, e: int, seq: int, P: Arr) -> None:
    """``TCP_Reassembler::AckReceived`` for endpoint ``e`` (its data was acknowledged)."""
    if not FL[s, F_REASM]:
        return
    if EP[s, e, E_FINCNT] > 0 and seq >= EP[s, e, E_FINSEQ]:
        seq = EP[s, e, E_FINSEQ] - 1
    if seq <= EP[s, e, E_TRIM]:
        return
    if seq > EP[s, e, E_RSEQ]:
        undelivered(FL, EP, HIST, s, e, seq, P)
    EP[s, e, E_TRIM] = seq
    if EP[s, e, E_BHI] > 0:
        if EP[s, e, E_BHI] <= seq:
            EP[s, e, E_BLO] = 0
            EP[s, e, E_BHI] = 0
        elif EP[s, e, E_BLO] < seq:
            EP[s, e, E_BLO] = seq


@kernel_jit()
def data_sent(FL: Arr, EP: Arr, s: int, e: int, seq: int, length: int, P: Arr) -> None:
    """``TCP_Reassembler::DataSent``: payload [seq, seq+length) joins the stream (one hole kept)."""
    if not FL[s, F_REASM] or EP[s, e, E_SKIP]:
        return
    start = EP[s, e, E_START]
    ack = ((EP[s, e, E_AWRAP] << 32) | EP[s, e, E_ACK]) - start
    upper = seq + length
    if seq < ack:
        if upper <= ack:
            return
        seq = ack
    trim = EP[s, e, E_TRIM]
    if upper <= trim:
        return
    if seq < trim:
        seq = trim
    r = EP[s, e, E_RSEQ]
    if seq <= r:
        if upper > r:
            r = upper
        if EP[s, e, E_BHI] > 0 and EP[s, e, E_BLO] <= r:
            if EP[s, e, E_BHI] > r:
                r = EP[s, e, E_BHI]
            EP[s, e, E_BLO] = 0
            EP[s, e, E_BHI] = 0
        EP[s, e, E_RSEQ] = r
    elif EP[s, e, E_BHI] == 0:
        EP[s, e, E_BLO] = seq
        EP[s, e, E_BHI] = upper
    else:
        if seq < EP[s, e, E_BLO]:
            EP[s, e, E_BLO] = seq
        if upper > EP[s, e, E_BHI]:
            EP[s, e, E_BHI] = upper
    above = EP[s, e, E_BHI] - r if EP[s, e, E_BHI] > r else 0
    no_data_acked = ack == 0 or ack == 1
    if (no_data_acked and P[P_ABOVE_HOLE] > 0 and above > P[P_ABOVE_HOLE]) or (
        P[P_EXCESSIVE] > 0 and max(r, EP[s, e, E_BHI]) - EP[s, e, E_TRIM] > P[P_EXCESSIVE]
    ):
        EP[s, e, E_SKIP] = 1
        EP[s, e, E_BLO] = 0
        EP[s, e, E_BHI] = 0


@kernel_jit()
def tcp_packet(
    FL: Arr,
    ADDR: Arr,
    EP: Arr,
    HIST: Arr,
    s: int,
    e: int,
    flags: int,
    seq: int,
    ack_seq: int,
    length: int,
    win: int,
    now: int,
    complete: bool,
    P: Arr,
) -> int:
    """``TCPSessionAdapter::Process`` for one packet from endpoint ``e``; returns final ``e``."""
    p = 1 - e
    syn = (flags & _SYN) != 0
    fin = (flags & _FIN) != 0
    rst = (flags & _RST) != 0
    # SetPartialStatus
    if e == 0:
        if not (FL[s, F_FPS] & 1):
            FL[s, F_PARTIAL] = int((not syn) or (flags & _ACK) != 0)
    elif not (FL[s, F_FPS] & 2) and not FL[s, F_PARTIAL]:
        FL[s, F_PARTIAL] = int(not syn)
    seg_len = length + int(syn) + int(fin)
    if rst:
        seg_len -= length
    past = (seq + seg_len) & _M32
    init_endpoint(EP, s, e, flags, seq, past)
    rel_seq, underflow = get_relative_seq(EP, s, e, seq, EP[s, e, E_LAST], EP[s, e, E_SWRAP])
    update_history(FL, HIST, EP, s, e, flags, rel_seq, length)
    # update_window: zero-window advertisements.
    if win == 0 and not rst and EP[s, p, E_STATE] != CLOSED and EP[s, e, E_STATE] != RESET:
        scaled_history(FL, HIST, s, EP[s, e], E_W0C, E_W0T, 87 + (32 if e == 1 else 0))
    if not (EP[s, 0, E_DIDCLOSE] and EP[s, 1, E_DIDCLOSE]):
        FL[s, F_LAST] = now
    if fin:
        EP[s, e, E_FINCNT] += 1
        EP[s, e, E_FINSEQ] = rel_seq + seg_len
    if rst:
        EP[s, e, E_RSTCNT] += 1
    rel_ack = 0
    if flags & _ACK:
        if EP[s, p, E_STATE] == INACTIVE:
            rel_ack = 1
            # init_peer: number the peer's sequence space as if its SYN had been seen.
            v = (ack_seq - 1) & _M32
            EP[s, p, E_START] = v
            EP[s, p, E_ACK] = v
            EP[s, p, E_LAST] = v
        else:
            rel_ack, under = get_relative_seq(EP, s, p, ack_seq, EP[s, p, E_ACK], EP[s, p, E_AWRAP])
            if under:
                rel_ack = 0
            elif not rst:
                d = seq_delta(ack_seq, EP[s, p, E_ACK])
                if ack_seq == 0 and d > _TOO_LARGE_SEQ_DELTA:
                    pass
                elif d > 0:
                    if ack_seq < EP[s, p, E_ACK]:
                        EP[s, p, E_AWRAP] += 1
                    EP[s, p, E_ACK] = ack_seq
    # update_last_seq
    delta_last = seq_delta(past, EP[s, e, E_LAST])
    if (syn or rst) and (delta_last > _TOO_LARGE_SEQ_DELTA or delta_last < -_TOO_LARGE_SEQ_DELTA):
        pass
    elif fin and EP[s, e, E_LAST] == ((EP[s, e, E_START] + 1) & _M32):
        update_last_seq_value(EP, s, e, past)
    elif EP[s, e, E_STATE] == RESET:
        pass
    elif delta_last > 0:
        update_last_seq_value(EP, s, e, past)
    elif length > 0:
        scaled_history(FL, HIST, s, EP[s, e], E_RXC, E_RXT, 84 + (32 if e == 1 else 0))
    e, do_close = update_state_machine(FL, ADDR, EP, HIST, s, e, flags, seq, length, now, P)
    if flags & _ACK:
        ack_received(FL, EP, HIST, s, 1 - e, rel_ack, P)
    if length > 0 and not rst and not underflow and complete:
        data_sent(FL, EP, s, e, rel_seq + 1 if syn else rel_seq, length, P)
    FL[s, F_FPS] |= 1 if e == 0 else 2
    if do_close:
        connection_closed(FL, EP, s, e, P)
    return e


@kernel_jit()
def tcp_is_reuse(EP: Arr, s: int, flags: int, seq: int) -> bool:
    """``TCPSessionAdapter::IsReuse``: does this SYN start a new connection on the 5-tuple?"""
    if not (flags & _SYN):
        return False
    conn_orig = 0
    if flags & _ACK:
        if EP[s, 0, E_STATE] != INACTIVE:
            return False
        conn_orig = 1
    closed = EP[s, 0, E_DIDCLOSE] != 0 or EP[s, 1, E_DIDCLOSE] != 0
    if not closed:
        if seq == EP[s, conn_orig, E_START]:
            return False
        if (
            not (flags & _ACK)
            and EP[s, conn_orig, E_STATE] == SYN_ACK_SENT
            and EP[s, 1, E_STATE] == INACTIVE
            and seq == EP[s, 1, E_START]
        ):
            return False
    return True


@kernel_jit()
def endpoint_size(EP: Arr, s: int, e: int) -> int:
    """``TCP_Endpoint::Size``: payload bytes from sequence numbers."""
    p = 1 - e
    start = EP[s, e, E_START]
    ack64 = (EP[s, e, E_AWRAP] << 32) | EP[s, e, E_ACK]
    if (
        EP[s, e, E_PREV] == SYN_SENT
        and EP[s, e, E_STATE] == RESET
        and EP[s, p, E_STATE] == INACTIVE
        and not (ack64 == start or ack64 == start + 1)
    ):
        return 0
    last64 = (EP[s, e, E_SWRAP] << 32) | EP[s, e, E_LAST]
    size = (last64 if last64 > ack64 else ack64) - start
    if size != 0:
        size -= 1
    if EP[s, e, E_FINCNT] > 0 and size != 0:
        size -= 1
    return int(size)


@kernel_jit()
def rstos0_history(FL: Arr, HIST: Arr, s: int) -> bool:
    """Does the history match Zeek's ``/^?S[^HAFGIQ]*R.*/`` (whole string)?"""
    n = FL[s, F_HLEN]
    j = 0
    if j < n and HIST[s, j] == 94:
        j += 1
    if j >= n or HIST[s, j] != 83:
        return False
    j += 1
    while j < n:
        c = HIST[s, j]
        if c == 82:
            return True
        if c == 72 or c == 65 or c == 70 or c == 71 or c == 73 or c == 81:
            return False
        j += 1
    return False


@kernel_jit()
def tcp_conn_state(FL: Arr, EP: Arr, HIST: Arr, s: int) -> int:
    """``conn_state()`` of base/protocols/conn/main.zeek for TCP."""
    os_ = EP[s, 0, E_STATE]
    rs = EP[s, 1, E_STATE]
    o_inactive = os_ == INACTIVE or os_ == PARTIAL
    r_inactive = rs == INACTIVE or rs == PARTIAL
    if rs == RESET:
        if (
            os_ == SYN_SENT
            or os_ == SYN_ACK_SENT
            or (os_ == RESET and FL[s, F_OBYTES] == 0 and FL[s, F_RBYTES] == 0)
        ):
            return CS_REJ
        if o_inactive:
            return CS_RSTRH
        return CS_RSTR
    if os_ == RESET:
        if r_inactive:
            if rstos0_history(FL, HIST, s):
                return CS_RSTOS0
            return CS_OTH
        return CS_RSTO
    if rs == CLOSED and os_ == CLOSED:
        return CS_SF
    if os_ == CLOSED:
        return CS_SH if r_inactive else CS_S2
    if rs == CLOSED:
        return CS_SHR if o_inactive else CS_S3
    if os_ == SYN_SENT and rs == INACTIVE:
        return CS_S0
    if os_ == ESTABLISHED and rs == ESTABLISHED:
        return CS_S1
    return CS_OTH


@kernel_jit()
def finish(
    FL: Arr,
    EP: Arr,
    HIST: Arr,
    s: int,
    reason: int,
    key_cur: Arr,
    ht_state: Arr,
    fin_slots: Arr,
    C: Arr,
) -> None:
    """End flow ``s``: compute conn_state and byte counts, list it for gathering."""
    proto = FL[s, F_PROTO]
    if proto == _TCP:
        FL[s, F_OBYTES] = endpoint_size(EP, s, 0)
        FL[s, F_RBYTES] = endpoint_size(EP, s, 1)
        FL[s, F_STATE] = tcp_conn_state(FL, EP, HIST, s)
    else:
        o = FL[s, F_SIZE0]
        r = FL[s, F_SIZE0 + 1]
        FL[s, F_OBYTES] = o if o > 0 else 0
        FL[s, F_RBYTES] = r if r > 0 else 0
        if proto == _UDP:
            if o >= 0:
                FL[s, F_STATE] = CS_SF if r >= 0 else CS_S0
            else:
                FL[s, F_STATE] = CS_SHR if r >= 0 else CS_OTH
        else:
            FL[s, F_STATE] = CS_OTH
    FL[s, F_END] = reason
    FL[s, F_ACTIVE] = 0
    k = FL[s, F_KEY]
    if key_cur[k] == s:
        key_cur[k] = -1
        ht_state[k] = HT_DELETED
        C[C_HT_USED] -= 1
    fin_slots[C[C_FIN]] = s
    C[C_FIN] += 1
    C[C_LIVE] -= 1


@kernel_jit()
def timer_due(FL: Arr, EP: Arr, s: int, now: int, P: Arr) -> bool:
    """Would one of Zeek's timers have removed flow ``s`` by capture time ``now``?"""
    last = FL[s, F_LAST]
    if now - last >= FL[s, F_INACT]:
        return True  # Connection::InactivityTimer
    if FL[s, F_PROTO] != _TCP:
        return False
    if FL[s, F_DELETE] >= 0 and now >= FL[s, F_DELETE]:
        return True  # ConnDeleteTimer after a complete close (tcp_close_delay)
    o = EP[s, 0, E_STATE]
    r = EP[s, 1, E_STATE]
    if FL[s, F_ATTEMPT] >= 0 and now >= FL[s, F_ATTEMPT]:
        if (o == SYN_SENT or o == SYN_ACK_SENT) and r == INACTIVE:
            return True  # AttemptTimer: an unanswered connection attempt
        FL[s, F_ATTEMPT] = -1
    if FL[s, F_EXPIRE_OFF] == 0 and now - last > P[P_LINGER_NS]:
        # ExpireTimer (approximated: evaluated whenever checked, not on its 6 s grid).
        oc = EP[s, 0, E_DIDCLOSE] != 0
        rc = EP[s, 1, E_DIDCLOSE] != 0
        if oc or rc:
            if (oc and rc) or o == RESET or r == RESET or o == INACTIVE or r == INACTIVE:
                return True
        if o == INACTIVE and r == INACTIVE:
            return True
    return False


@kernel_jit()
def sweep(
    FL: Arr,
    EP: Arr,
    HIST: Arr,
    now: int,
    P: Arr,
    key_cur: Arr,
    ht_state: Arr,
    fin_slots: Arr,
    C: Arr,
) -> None:
    for s in range(C[C_HIGH]):
        if FL[s, F_ACTIVE] and timer_due(FL, EP, s, now, P):
            finish(FL, EP, HIST, s, END_TIMEOUT, key_cur, ht_state, fin_slots, C)


@kernel_jit()
def ht_find(ht_hash: Arr, ht_state: Arr, h: Any) -> tuple[int, int]:
    """Open-addressing lookup of key hash ``h``: (position or -1, where to insert it)."""
    mask = np.int64(ht_hash.shape[0] - 1)
    pos = np.int64(np.uint64(h) & np.uint64(mask))
    free = np.int64(-1)
    while True:
        st = ht_state[pos]
        if st == HT_EMPTY:
            return -1, int(free if free >= 0 else pos)
        if st == HT_USED and ht_hash[pos] == h:
            return int(pos), int(pos)
        if st == HT_DELETED and free < 0:
            free = pos
        pos = (pos + 1) & mask


@kernel_jit()
def rehash(FL: Arr, ADDR: Arr, ht_hash: Arr, ht_state: Arr, key_cur: Arr, C: Arr) -> None:
    """Insert every live flow's key into fresh (empty) table arrays."""
    used = 0
    for s in range(C[C_HIGH]):
        if FL[s, F_ACTIVE]:
            h = ADDR[s, A_HASH]
            _k, ins = ht_find(ht_hash, ht_state, h)
            ht_state[ins] = HT_USED
            ht_hash[ins] = h
            key_cur[ins] = s
            FL[s, F_KEY] = ins
            used += 1
    C[C_HT_USED] = used
    C[C_HT_FILL] = used


@kernel_jit()
def csum_bad(pflags: int, mode: int, C: Arr) -> bool:
    """Does the packet's checksum keep it out of its connection?  (Counts checksums too.)"""
    wrong = (pflags & _PF_BAD_CSUM) != 0
    offloaded = wrong and (pflags & _PF_CSUM_UNKNOWN) != 0
    if wrong or (pflags & _PF_CSUM_UNKNOWN) == 0:
        C[C_CSUM_CHECKED] += 1
    if wrong:
        C[C_CSUM_BAD] += 1
    if offloaded:
        C[C_CSUM_OFFLOADED] += 1
    if mode == CSUM_IGNORE:
        return False
    return wrong and not (mode == CSUM_OFFLOAD_AWARE and offloaded)


@kernel_jit(entry=True)
def run(
    pk: Arr,
    hashes: Arr,
    valid: Arr,
    start: int,
    FL: Arr,
    ADDR: Arr,
    EP: Arr,
    HIST: Arr,
    key_cur: Arr,
    ht_hash: Arr,
    ht_state: Arr,
    free_slots: Arr,
    fin_slots: Arr,
    C: Arr,
    P: Arr,
    server_tcp: Arr,
    server_udp: Arr,
    icmp_port: Arr,
    pkt_slot: Arr,
    pkt_keep: Arr,
) -> int:
    """Process packets ``start..`` of ``pk``; returns the index where it stopped.

    It stops early (returning < len) when no free slot is left; the caller then grows the
    table or evicts flows and calls again from the returned index.
    """
    n = pk.shape[0]
    i = start
    csum_mode = P[P_CSUM]
    keep = P[P_KEEP]
    while i < n:
        now = pk[i]["ts_ns"]
        if now >= C[C_NEXT_SWEEP]:
            sweep(FL, EP, HIST, now, P, key_cur, ht_state, fin_slots, C)
            C[C_NEXT_SWEEP] = now + P[P_SWEEP_NS]
        pkt_slot[i] = -1
        pkt_keep[i] = False
        if not valid[i]:
            i += 1
            continue
        if C[C_HT_FILL] * 10 >= ht_hash.shape[0] * 7:
            return i  # the key table needs rehashing
        h = hashes[i]
        k, ins = ht_find(ht_hash, ht_state, h)
        row = pk[i]
        proto = int(row["proto"])
        flags = int(row["tcp_flags"])
        seq = int(row["seq"])
        pflags = int(row["pflags"])
        s = key_cur[k] if k >= 0 else -1
        if s >= 0 and timer_due(FL, EP, s, now, P):
            finish(FL, EP, HIST, s, END_TIMEOUT, key_cur, ht_state, fin_slots, C)
            s = -1
        if s >= 0 and proto == _TCP and tcp_is_reuse(EP, s, flags, seq):
            finish(FL, EP, HIST, s, END_REUSE, key_cur, ht_state, fin_slots, C)
            s = -1
        duplicate = (pflags & _PF_DUPLICATE) != 0
        if s < 0:
            if duplicate:
                i += 1
                continue
            if C[C_FREE] == 0:
                return i
            k, ins = ht_find(ht_hash, ht_state, h)
            if ht_state[ins] == HT_EMPTY:
                C[C_HT_FILL] += 1
            ht_state[ins] = HT_USED
            ht_hash[ins] = h
            C[C_HT_USED] += 1
            k = ins
            C[C_FREE] -= 1
            s = free_slots[C[C_FREE]]
            if s >= C[C_HIGH]:
                C[C_HIGH] = s + 1
            init_slot(FL, EP, HIST, s)
            FL[s, F_ACTIVE] = 1
            FL[s, F_KEY] = k
            FL[s, F_PROTO] = proto
            FL[s, F_VER] = row["ip_ver"]
            FL[s, F_START] = now
            FL[s, F_LAST] = now
            FL[s, F_FIRST_FRAME] = row["frame"]
            ADDR[s, A_OHI] = row["src_hi"]
            ADDR[s, A_OLO] = row["src_lo"]
            ADDR[s, A_RHI] = row["dst_hi"]
            ADDR[s, A_RLO] = row["dst_lo"]
            ADDR[s, A_HASH] = h
            sp = int(row["sport"])
            dp = int(row["dport"])
            if proto == _ICMP or proto == _ICMP6:
                FL[s, F_OPORT] = sp
                FL[s, F_RPORT] = icmp_port[i]
                FL[s, F_INACT] = P[P_ICMP_NS]
            else:
                FL[s, F_OPORT] = sp
                FL[s, F_RPORT] = dp
                FL[s, F_INACT] = P[P_UDP_NS]
            FL[s, F_REASM] = P[P_REASM]
            key_cur[k] = s
            C[C_LIVE] += 1
            C[C_NEW] += 1
            flip = False
            if proto == _TCP:
                if not (flags & _SYN) or (flags & _ACK):
                    if server_tcp[sp]:
                        if server_tcp[dp]:
                            flip = not (flags & _SYN) and sp < dp
                        else:
                            flip = True
                    if (flags & _SYN) and not flip:
                        FL[s, F_FLIP_CAND] = 1
            elif proto == _UDP:
                flip = server_udp[sp] and not server_udp[dp]
            if flip and not (row["dst_hi"] == 0 and row["dst_lo"] == 0xFFFFFFFF):
                flip_roles(FL, ADDR, EP, HIST, s, False)
        # --- the packet belongs to flow s ------------------------------------------------
        pkt_slot[i] = s
        FL[s, F_NPKTS] += 1
        if FL[s, F_NSTORED] < keep:
            FL[s, F_NSTORED] += 1
            pkt_keep[i] = True
        FL[s, F_LAST_FRAME] = row["frame"]
        FL[s, F_LASTPKT] = now
        iface = int(row["iface"])
        FL[s, F_IFACES] |= np.int64(1) << (iface if iface < 63 else 63)
        if pflags & _PF_DUP_SEEN:
            FL[s, F_DUPS] += 1
        if duplicate:
            FL[s, F_DUPS] += 1
            i += 1
            continue
        if pflags & _PF_FRAGMENT:
            i += 1
            continue
        is_orig = (
            row["src_hi"] == ADDR[s, A_OHI]
            and row["src_lo"] == ADDR[s, A_OLO]
            and int(row["sport"]) == FL[s, F_OPORT]
        )
        if proto == _ICMP or proto == _ICMP6:
            is_orig = row["src_hi"] == ADDR[s, A_OHI] and row["src_lo"] == ADDR[s, A_OLO]
            if ADDR[s, A_OHI] == ADDR[s, A_RHI] and ADDR[s, A_OLO] == ADDR[s, A_RLO]:
                is_orig = int(row["sport"]) == FL[s, F_OPORT]
        bad = csum_bad(pflags, csum_mode, C)
        e = 0 if is_orig else 1
        length = int(row["payload_len"])
        if proto == _TCP:
            if bad:
                scaled_history(FL, HIST, s, EP[s, e], E_CKC, E_CKT, 67 + (32 if e == 1 else 0))
                i += 1
                continue
            if (
                FL[s, F_FLIP_CAND]
                and FL[s, F_HLEN] == 1
                and HIST[s, 0] == 72
                and not (flags & (_SYN | _RST))
                and ((flags & _ACK) or length > 0)
            ):
                # Zeek #2191: a connection that began with a SYN-ACK (history just "H") and
                # goes on with an ACK or data was seen from the responder's side: flip it.
                FL[s, F_FLIP_CAND] = 0
                flip_roles(FL, ADDR, EP, HIST, s, True)
                e = 1 - e
            record_syn(EP, s, e, row, flags, seq)
            FL[s, F_PKTS0 + e] += 1
            FL[s, F_IPB0 + e] += row["ip_len"]
            tcp_packet(
                FL,
                ADDR,
                EP,
                HIST,
                s,
                e,
                flags,
                seq,
                int(row["ack"]),
                length,
                int(row["win"]),
                now,
                (pflags & _PF_TRUNCATED) == 0,
                P,
            )
        elif proto == _UDP:
            if bad:
                scaled_history(FL, HIST, s, FL[s], F_CHKC0 + e, F_CHKT0 + e, 67 + (32 if e else 0))
                i += 1
                continue
            FL[s, F_PKTS0 + e] += 1
            FL[s, F_IPB0 + e] += row["ip_len"]
            FL[s, F_LAST] = now
            check_history(FL, HIST, s, 0x1 if e == 0 else 0x2, 68 if e == 0 else 100)
            if FL[s, F_SIZE0 + e] < 0:
                FL[s, F_SIZE0 + e] = length
            else:
                FL[s, F_SIZE0 + e] += length
        else:
            if bad:
                i += 1
                continue
            FL[s, F_PKTS0 + e] += 1
            FL[s, F_IPB0 + e] += row["ip_len"]
            FL[s, F_LAST] = now
            if proto != _ICMP and proto != _ICMP6:
                pass  # unknown transport: activity and ConnSize counters only
            elif FL[s, F_SIZE0 + e] < 0:
                FL[s, F_SIZE0 + e] = length
            else:
                FL[s, F_SIZE0 + e] += length
        i += 1
    return int(n)


@kernel_jit()
def record_syn(EP: Arr, s: int, e: int, row: Any, flags: int, seq: int) -> None:
    """pcapflow additions: the first SYN's header facts and same-ISN SYN retransmissions."""
    if not (flags & _SYN):
        return
    if flags & _ACK:
        if EP[s, e, E_SYNACK_SEQ] < 0:
            EP[s, e, E_SYNACK_SEQ] = seq
        return
    if EP[s, e, E_SYN_SEQ] < 0:
        EP[s, e, E_SYN_SEQ] = seq
        EP[s, e, E_SYN_IPID] = row["ip_id"]
        EP[s, e, E_SYN_TTL] = row["ttl"]
        EP[s, e, E_SYN_OPTS] = row["opts_hash"]
        if int(row["pflags"]) & _PF_HAS_TS:
            EP[s, e, E_SYN_TSVAL] = row["tsval"]
    elif EP[s, e, E_SYN_SEQ] == seq:
        EP[s, e, E_SYN_RXMT] += 1


@kernel_jit(entry=True)
def finish_all(
    FL: Arr,
    EP: Arr,
    HIST: Arr,
    slots: Arr,
    reason: int,
    key_cur: Arr,
    ht_state: Arr,
    fin_slots: Arr,
    C: Arr,
) -> None:
    """End the given live flows (end of input, eviction)."""
    for s in slots:
        if FL[s, F_ACTIVE]:
            finish(FL, EP, HIST, s, reason, key_cur, ht_state, fin_slots, C)
