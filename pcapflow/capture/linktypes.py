"""Link types the fast backend decodes, as data: LINKTYPE number -> how to find the IP header.

Each link type maps to a *kind* (a small integer the numba decoder switches on).  A link type not
listed here is still read (its frames are counted and numbered) but not decoded.
"""

from __future__ import annotations

from typing import Final

KIND_NONE: Final = 0  # not decoded
KIND_ETHERNET: Final = 1  # Ethernet II / 802.3+SNAP, 802.1Q/802.1ad/QinQ, MPLS, PPPoE
KIND_SLL: Final = 2  # Linux cooked v1 (16-byte header, no interface index)
KIND_SLL2: Final = 3  # Linux cooked v2 (20-byte header with interface index)
KIND_RAW: Final = 4  # raw IP, version from the first nibble
KIND_IPV4: Final = 5  # raw IPv4 only
KIND_IPV6: Final = 6  # raw IPv6 only
KIND_NULL: Final = 7  # BSD loopback: 4-byte address family, in either byte order
KIND_PPP: Final = 8  # PPP, with or without the HDLC address/control bytes
KIND_FDDI: Final = 9  # FDDI with LLC/SNAP
KIND_NFLOG: Final = 10  # Linux NFLOG (TLVs; the payload TLV holds the IP packet)
KIND_IEEE80211: Final = 11  # 802.11 data frames with LLC/SNAP (not protected ones)
KIND_RADIOTAP: Final = 12  # radiotap header, then 802.11
KIND_PFLOG: Final = 13  # OpenBSD pflog: header length in its first byte (word-aligned)
KIND_FIXED: Final = 14  # a fixed-length link header (from dpkt's table), then IP

# LINKTYPE_* value -> (kind, name)
LINK_TYPES: Final[dict[int, tuple[int, str]]] = {
    0: (KIND_NULL, "NULL"),
    1: (KIND_ETHERNET, "ETHERNET"),
    9: (KIND_PPP, "PPP"),
    10: (KIND_FDDI, "FDDI"),
    12: (KIND_RAW, "RAW (OpenBSD DLT 12)"),
    14: (KIND_RAW, "RAW (DLT 14)"),
    50: (KIND_PPP, "PPP_HDLC"),
    101: (KIND_RAW, "RAW"),
    105: (KIND_IEEE80211, "IEEE802_11"),
    108: (KIND_NULL, "LOOP"),
    113: (KIND_SLL, "LINUX_SLL"),
    117: (KIND_PFLOG, "PFLOG"),
    127: (KIND_RADIOTAP, "IEEE802_11_RADIOTAP"),
    228: (KIND_RAW, "IPV4"),  # the version nibble decides, as in Wireshark
    229: (KIND_RAW, "IPV6"),
    239: (KIND_NFLOG, "NFLOG"),
    276: (KIND_SLL2, "LINUX_SLL2"),
}

# Link types dpkt knows only by the length of their header (``dpkt.pcap.dltoff``: token ring,
# ARCNET, SLIP, ...): that header is skipped and the IP version nibble decides.  Copied here
# because importing dpkt costs 0.1 s of every command's start-up (a test keeps the copy equal).
FIXED_HEADER: Final[dict[int, int]] = {6: 22, 7: 6, 8: 16, 18: 4}

# The pcap LinkType field keeps FCS information in its top bits; the link type is the low 16.
LINKTYPE_MASK: Final = 0xFFFF


def link_kind(link_type: int) -> int:
    """The decoder kind for a LINKTYPE value (``KIND_NONE`` when not supported)."""
    link = link_type & LINKTYPE_MASK
    if link in FIXED_HEADER:
        return KIND_FIXED
    return LINK_TYPES.get(link, (KIND_NONE, ""))[0]


def link_header_length(link_type: int) -> int:
    """The fixed link-header length of a ``KIND_FIXED`` link type (0 for the others)."""
    return FIXED_HEADER.get(link_type & LINKTYPE_MASK, 0)


def link_name(link_type: int) -> str:
    """A readable name for a LINKTYPE value."""
    link = link_type & LINKTYPE_MASK
    if link in FIXED_HEADER:
        return f"{link} (fixed {FIXED_HEADER[link]}-byte header)"
    return LINK_TYPES.get(link, (KIND_NONE, str(link_type)))[1]
