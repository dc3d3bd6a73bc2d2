"""Column layout of the flow table that the assembly kernel keeps, and the codes it uses.

The live flow table is three arrays indexed by *slot* (one slot per live flow):

* ``FL[slot, F_*]`` (int64): connection-level facts (times, counters, timers, pcapflow additions);
* ``ADDR[slot, A_*]`` (uint64): the originator's and responder's addresses (hi/lo halves) and
  the key hash;
* ``EP[slot, e, E_*]`` (int64): per-endpoint TCP state, ``e`` 0 = originator, 1 = responder
  (swapped when Zeek's heuristics flip the connection);
* ``HIST[slot, :]`` (uint8): the Zeek history letters, ``FL[slot, F_HLEN]`` of them.

Keeping the layout in one module lets the kernel (numba, module-level integer constants) and the
Python side that gathers finished flows agree on every index.
"""

from __future__ import annotations

# --- FL columns --------------------------------------------------------------------------
F_ACTIVE = 0  # 1 while the slot holds a live flow
F_KEY = 1  # key id (index into the key table)
F_PROTO = 2  # 6, 17, 1 or 58
F_VER = 3  # 4 or 6
F_OPORT = 4  # originator port (ICMP: type)
F_RPORT = 5  # responder port (ICMP: counterpart type or code)
F_START = 6  # first packet, ns (Zeek start_time)
F_LAST = 7  # Zeek's last_time, ns (not advanced after both sides closed)
F_LASTPKT = 8  # last packet of any kind, ns
F_FIRST_FRAME = 9
F_LAST_FRAME = 10
F_IFACES = 11  # bitmask of interface ids (ids >= 63 share bit 63)
F_DUPS = 12  # cross-interface duplicates seen for this flow
F_HLEN = 13  # number of history letters
F_HSEEN = 14  # Zeek's hist_seen bitmask
F_PKTS0 = 15  # ConnSize: packets / IP bytes per direction (0 orig, 1 resp)
F_PKTS1 = 16
F_IPB0 = 17
F_IPB1 = 18
F_SIZE0 = 19  # UDP/ICMP endpoint sizes (-1 = endpoint inactive)
F_SIZE1 = 20
F_ATTEMPT = 21  # TCP attempt-timer deadline, ns (-1 = none)
F_DELETE = 22  # TCP close-delay deadline, ns (-1 = none)
F_EXPIRE_OFF = 23  # 1 once the analyzer's expire timer was cancelled (close complete)
F_INACT = 24  # inactivity timeout, ns
F_FLIP_CAND = 25  # began with a SYN-ACK and was not flipped yet (Zeek #2191 heuristic)
F_CHKC0 = 26  # UDP checksum-error counters and thresholds (connection level)
F_CHKC1 = 27
F_CHKT0 = 28
F_CHKT1 = 29
F_NSTORED = 30  # packets kept as evidence so far
F_STATE = 31  # final conn_state code (CS_*), set when the flow ends
F_OBYTES = 32  # final orig_bytes / resp_bytes
F_RBYTES = 33
F_END = 34  # why the flow ended (END_*)
F_FLIPPED = 35  # number of role flips
F_NPKTS = 36  # every packet assigned (incl. bad checksum), for packets_truncated
F_MISSED = 37  # missed_bytes: sum of content gaps
F_PARTIAL = 38  # TCPSessionAdapter::is_partial
F_FPS = 39  # first_packet_seen bits (1 orig, 2 resp)
F_REASM = 40  # 1 when payload reassembly (and so gap detection) is on for this flow
N_F = 41

# --- ADDR columns ------------------------------------------------------------------------
A_OHI = 0
A_OLO = 1
A_RHI = 2
A_RLO = 3
A_HASH = 4  # the connection-key hash (see pcapflow.flows.keys)
N_A = 5

# --- EP columns (per endpoint) -----------------------------------------------------------
E_STATE = 0
E_PREV = 1
E_START = 2  # start_seq (uint32 in int64)
E_LAST = 3  # last_seq
E_ACK = 4  # ack_seq
E_SWRAP = 5
E_AWRAP = 6
E_FINCNT = 7
E_RSTCNT = 8
E_DIDCLOSE = 9
E_HSYN = 10  # hist_last_SYN / FIN / RST (relative sequence numbers)
E_HFIN = 11
E_HRST = 12
E_RXC = 13  # retransmission counter / threshold ('T')
E_RXT = 14
E_W0C = 15  # zero-window counter / threshold ('W')
E_W0T = 16
E_CKC = 17  # checksum-error counter / threshold ('C')
E_CKT = 18
E_SYN_SEQ = 19  # pcapflow additions: first SYN (no ACK) sent by this endpoint (-1 none)
E_SYN_IPID = 20
E_SYN_TTL = 21
E_SYN_OPTS = 22
E_SYN_TSVAL = 23  # -1 when the SYN had no timestamp option
E_SYN_RXMT = 24  # further SYNs with the same sequence number
E_SYNACK_SEQ = 25  # first SYN-ACK sent by this endpoint (-1 none)
E_RSEQ = 26  # TCP_Reassembler: last_reassem_seq (relative, starts at 1)
E_TRIM = 27  # trim_seq
E_BLO = 28  # data buffered above a hole, merged into one block [BLO, BHI) (BHI 0 = none)
E_BHI = 29
E_SKIP = 30  # skip_deliveries
E_FINSEQ = 31  # FIN_seq (relative)
E_GAPC = 32  # content-gap counter / threshold ('G')
E_GAPT = 33
N_E = 34

HIST_MAX = 48  # history letters kept per flow (Zeek's logarithmic letters keep it short)

# --- TCP endpoint states (Zeek's TCP_ENDPOINT_* values) -------------------------------------
INACTIVE = 0
SYN_SENT = 1
SYN_ACK_SENT = 2
PARTIAL = 3
ESTABLISHED = 4
CLOSED = 5
RESET = 6

# --- conn_state codes ----------------------------------------------------------------------
CONN_STATES = (
    "S0",
    "S1",
    "SF",
    "REJ",
    "S2",
    "S3",
    "RSTO",
    "RSTR",
    "RSTOS0",
    "RSTRH",
    "SH",
    "SHR",
    "OTH",
)
CS_S0, CS_S1, CS_SF, CS_REJ, CS_S2, CS_S3 = 0, 1, 2, 3, 4, 5
CS_RSTO, CS_RSTR, CS_RSTOS0, CS_RSTRH, CS_SH, CS_SHR, CS_OTH = 6, 7, 8, 9, 10, 11, 12

# --- why a flow ended ------------------------------------------------------------------------
END_INPUT = 0  # still open at the end of the input
END_TIMEOUT = 1  # a Zeek timer (inactivity, attempt, close delay, expire) removed it
END_REUSE = 2  # a new SYN reused the 5-tuple
END_EVICTED = 3  # the live table was full

END_REASONS = ("end_of_input", "timeout", "port_reuse", "evicted")
