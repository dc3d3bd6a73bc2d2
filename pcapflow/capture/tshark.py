"""The pyshark/tshark capture backend (``--engine tshark``): Wireshark's dissectors as the peer.

pyshark runs ``tshark -T json -x`` and hands back one packet object per frame; this adapter keeps
those objects to itself and turns each frame into one ``PACKET_DTYPE`` row, like the fast
backend.  Header facts (addresses, ports, sequence numbers, flags, lengths, TTL, IP ID, TSval,
VLAN, checksum verdicts, fragment bits, interface, timestamps, frame numbers) are Wireshark's
own fields.  Raw bytes are used only where Wireshark has no field: where the IP header starts
(for the truncation flag), the bytes of the TCP options / payload for the two hashes, and the
IP packet bytes for duplicate recognition.

tshark runs with IP defragmentation and TCP reassembly off, checksum validation on and absolute
sequence numbers, so each frame stands for itself.  Slow (pyshark: about 2k packets/s): it is
the reference engine, not the fast path.

Every column is filled; where Wireshark reads a frame differently from the fast backend is
listed in docs/capture.md ("The tshark engine and parity").  pyshark 0.6 cannot represent
frames without a timestamp (pcapng Simple Packet Blocks): reading stops there with a warning.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from pcapflow.capture.base import DEFAULT_BATCH, register
from pcapflow.capture.dedupe import RowDeduper
from pcapflow.capture.formats import FormatError, parse_pcap_header, scan_interfaces, sniff
from pcapflow.capture.hashing import hash32_py, offloaded_checksum
from pcapflow.capture.stream import Source
from pcapflow.errors import CaptureError
from pcapflow.model.capture import CaptureInfo, Interface
from pcapflow.model.packet import (
    PACKET_DTYPE,
    PF_BAD_CSUM,
    PF_CSUM_UNKNOWN,
    PF_DUP_SEEN,
    PF_FRAGMENT,
    PF_HAS_TS,
    PF_MORE_FRAGS,
    PF_TRUNCATED,
    PacketArray,
)

TSHARK_PREFS = {
    "ip.defragment": "FALSE",
    "ipv6.defragment": "FALSE",
    "tcp.desegment_tcp_streams": "FALSE",
    "tcp.relative_sequence_numbers": "FALSE",
    "tcp.analyze_sequence_numbers": "FALSE",
    "tcp.check_checksum": "TRUE",
    "udp.check_checksum": "TRUE",
    "ip.check_checksum": "TRUE",
}

# (version, proto, src, dst, ip_len, ip_id, ttl, pflags, first fragment)
_Net = tuple[int, int, int, int, int, int, int, int, bool]
# (sport, dport, flags, seq, ack, win, payload_len, tsval, opts_hash, payload_hash, pflags)
_L4 = tuple[int, int, int, int, int, int, int, int, int, int, int]

HARMLESS_STDERR = ("Running as user",)  # tshark start-up notices, not errors

# Wireshark layer names between the frame and the IP header that the fast backend follows too.
LINK_LAYERS = frozenset(
    [
        "eth",
        "vlan",
        "sll",
        "null",
        "loop",
        "raw",
        "mpls",
        "pppoe",
        "pppoes",
        "ppp",
        "pbb",
        "vntag",
        "cfp",
        "fddi",
        "llc",
        "nflog",
        "ethertype",
        "radiotap",
        "wlan_radio",
        "wlan",
        "pflog",
    ]
)

TRANSPORTS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}

# Wireshark WTAP_ENCAP value -> LINKTYPE (for CaptureInfo.interfaces), the common ones.
WTAP_TO_LINKTYPE = {1: 1, 7: 101, 15: 0, 25: 113, 129: 228, 130: 229, 210: 276, 4: 9}
WTAP_SLL = 25  # Linux "any" device, cooked v1: no interface index in the frame

PFLAGS_COLUMN = PACKET_DTYPE.names.index("pflags") if PACKET_DTYPE.names else 0


def _get(layer: Any, name: str) -> Any:
    """A field of a pyshark JSON layer, or ``None``."""
    try:
        return layer.get_field(name)
    except AttributeError:
        return None


def _checksum_flags(ip_flags: int, tflags: int) -> int:
    """Row flags from the IPv4 header's checksum flags and the transport's (as the fast
    engine: a wrong header checksum spoils the packet unless it is offload's zero field)."""
    both = PF_BAD_CSUM | PF_CSUM_UNKNOWN
    header = ip_flags & both
    if header == PF_BAD_CSUM or (header == both and tflags & both == PF_BAD_CSUM):
        return (ip_flags | tflags) & ~PF_CSUM_UNKNOWN
    return ip_flags | tflags


def _int(value: Any, default: int = 0) -> int:
    if value is None:
        return default
    text = str(value)
    try:
        return int(text, 16) if text.startswith("0x") else int(text)
    except ValueError:
        return default


def _hex_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    text = str(value).replace(":", "")
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""


def _raw_offset(layer: Any, name: str) -> int | None:
    """Frame offset of a field, from its ``<name>_raw`` list (hex, offset, length, ...)."""
    raw = _get(layer, f"{name}_raw")
    if isinstance(raw, list) and raw and isinstance(raw[0], list):
        raw = raw[0]
    if isinstance(raw, list) and len(raw) >= 2:
        return 0 if str(raw[1]) == "None" else _int(raw[1], -1)  # pyshark turns 0 into None
    return None


def _layer_start(layer: Any) -> int | None:
    """Frame offset of a layer's first byte: the smallest offset among its raw fields."""
    offsets = [
        _raw_offset(layer, name.removesuffix("_raw"))
        for name in getattr(layer, "field_names", [])
        if name.endswith("_raw")
    ]
    found = [o for o in offsets if o is not None and o >= 0]
    return min(found) if found else None


def epoch_ns(text: str) -> int:
    """``"1300475167.096535000"`` -> exact integer nanoseconds."""
    sec, _, frac = text.strip().partition(".")
    sign = -1 if sec.startswith("-") else 1
    return int(sec) * 1_000_000_000 + sign * int((frac + "000000000")[:9])


def _find(layer: Any, name: str) -> Any:
    """The first field ``name`` anywhere below ``layer`` (depth first), or ``None``."""
    direct = _get(layer, name)
    if direct is not None:
        return direct
    for child in getattr(layer, "field_names", []):
        sub = _get(layer, child)
        if hasattr(sub, "field_names"):
            found = _find(sub, name)
            if found is not None:
                return found
    return None


def _close(cap: Any) -> str | None:
    """Stop tshark; its complaint (e.g. a file cut short) as one line, or None."""
    try:
        cap.close()
    except Exception as exc:  # pyshark raises TSharkCrashException for any non-zero exit
        cap._running_processes.clear()  # already gone; keep pyshark's __del__ quiet
        return _problem(exc)
    return None


def _problem(exc: BaseException) -> str | None:
    """tshark's own last error line when pyshark reports one, else the exception's first line."""
    text = str(exc)
    for line in text.splitlines():
        if line.startswith("Last error line:"):
            last = line.removeprefix("Last error line:").strip().removeprefix("tshark: ")
            # tshark's start-up notice is no error: asyncio's child watcher lost the exit code.
            return None if not last or last.startswith(HARMLESS_STDERR) else last
    return f"tshark stopped: {text.splitlines()[0] if text else repr(exc)}"


class _Frame:
    """One pyshark packet, looked at through the fields a row needs."""

    def __init__(self, pkt: Any) -> None:
        self.pkt = pkt
        self.layers = [layer for layer in pkt.layers if not layer.layer_name.endswith("_raw")]
        self.names = [layer.layer_name for layer in self.layers]
        self.raw: bytes = pkt.get_raw_packet()

    def ip_index(self) -> int | None:
        for i, name in enumerate(self.names):
            if name in ("ip", "ipv6"):
                return i
        return None


class TsharkReader:
    """One capture read through pyshark."""

    def __init__(self, path: str, file_idx: int, batch_size: int) -> None:
        if shutil.which("tshark") is None:
            raise CaptureError(f"{path}: the tshark engine needs tshark (apt install tshark)")
        self.path = path
        self.file_idx = file_idx
        self.batch_size = max(1, batch_size)
        self._tmp: str | None = None
        file_path = path
        if path == "-":
            file_path = self._spool_stdin()
        self._file = file_path
        self._source = Source(file_path)
        self.label = "<stdin>" if path == "-" else path
        head = self._source.read(24)
        try:
            container = sniff(head)
            self._format = parse_pcap_header(head).format if container == "pcap" else "pcapng"
        except FormatError as exc:
            self._cleanup()
            raise CaptureError(f"{self.label}: {exc}") from None
        if self._source.compression:
            self._format = f"{self._source.compression}+{self._format}"
        self._frames = 0
        self._decoded = 0
        self._first: int | None = None
        self._last: int | None = None
        self._warnings: list[str] = []
        self._dedupe = RowDeduper()
        self._rows_before = 0  # rows already yielded in earlier batches
        self._unmapped = 0
        described, self._bases = scan_interfaces(file_path)
        self._interfaces = {iface.index: iface for iface in described}
        self._used = False

    def _spool_stdin(self) -> str:
        fd, name = tempfile.mkstemp(prefix="pcapflow-", suffix=".cap")
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out)
        self._tmp = name
        return name

    def _cleanup(self) -> None:
        self._source.close()
        if self._tmp:
            os.unlink(self._tmp)
            self._tmp = None

    def batches(self) -> Iterator[PacketArray]:
        if self._used:
            return
        self._used = True
        import pyshark  # imported here: the fast path never needs it

        prefs: list[str] = []
        for key, value in TSHARK_PREFS.items():
            prefs += ["-o", f"{key}:{value}"]
        loop = asyncio.new_event_loop()
        # asyncio's child watcher logs "Unknown child process pid ..." when tshark exits
        # before it looks; that says nothing about the capture.
        asyncio_log = logging.getLogger("asyncio")
        old_level = asyncio_log.level
        asyncio_log.setLevel(logging.ERROR)
        cap = pyshark.FileCapture(
            self._file,
            use_json=True,
            include_raw=True,
            keep_packets=False,
            custom_parameters=prefs,
            eventloop=loop,
        )
        rows: list[list[Any]] = []
        problem: str | None = None
        try:
            for pkt in cap:
                try:
                    row = self._row(_Frame(pkt), rows)
                except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                    self._unmapped += 1
                    row = None
                if row is not None:
                    rows.append(row)
                if len(rows) >= self.batch_size:
                    self._rows_before += len(rows)
                    yield np.array([tuple(r) for r in rows], dtype=PACKET_DTYPE)
                    rows = []
        except Exception as exc:  # pyshark/tshark failures surface as many exception types
            problem = _problem(exc)
        finally:
            problem = _close(cap) or problem
            loop.close()
            asyncio_log.setLevel(old_level)
            self._source.drain()
            self._cleanup()
        if problem:
            self._warnings.append(problem)
        if self._unmapped:
            self._warnings.append(f"{self._unmapped} frames had fields tshark left out or garbled")
        if rows:
            yield np.array([tuple(r) for r in rows], dtype=PACKET_DTYPE)

    def info(self) -> CaptureInfo:
        return CaptureInfo(
            file_idx=self.file_idx,
            path=self.path,
            format=self._format,
            interfaces=tuple(self._interfaces[k] for k in sorted(self._interfaces)),
            frames=self._frames,
            decoded=self._decoded,
            duplicates=self._dedupe.duplicates,
            first_ts_ns=self._first,
            last_ts_ns=self._last,
            warnings=tuple(self._warnings),
            sha256=self._source.sha256,
        )

    # -- one frame -> one row ----------------------------------------------------------------

    def _row(self, frame: _Frame, rows: list[list[Any]]) -> list[Any] | None:
        info = frame.pkt.frame_info
        self._frames += 1
        number = _int(_get(info, "number"), self._frames)
        ts_ns = epoch_ns(str(_get(info, "time_epoch") or "0"))
        if self._first is None:
            self._first = ts_ns
        self._last = ts_ns
        section = _int(_get(info, "section_number"), 1)
        base = self._bases[section - 1] if 0 < section <= len(self._bases) else 0
        iface = base + _int(_get(info, "interface_id"))
        encap = _int(_get(info, "encap_type"))
        if iface not in self._interfaces:
            link = WTAP_TO_LINKTYPE.get(encap, -1)
            self._interfaces[iface] = Interface(iface, link)
        k = frame.ip_index()
        if k is None or not self._link_path_ok(frame.names[:k]):
            return None
        ip = frame.layers[k]
        l3 = _raw_offset(ip, "version")
        if l3 is None or l3 < 0:
            return None
        net = self._ipv4(ip) if frame.names[k] == "ip" else self._ipv6(ip, frame, k)
        if net is None:
            return None
        ver, proto, src, dst, ip_len, ip_id, ttl, pflags, frag_first = net
        cap_len = _int(_get(info, "cap_len"))
        wire_len = _int(_get(info, "len"))
        # A zero length field (TSO, jumbogram): the packet's extent is the wire's.
        span = ip_len if ip_len > (40 if ver == 6 else 0) else wire_len - l3
        if l3 + span > cap_len:
            pflags |= PF_TRUNCATED
        transport = self._transport(frame, k, proto, frag_first, l3, span)
        sport, dport, flags, seq, ack, win, plen, tsval, ohash, phash, tflags = transport
        pflags = _checksum_flags(pflags, tflags)
        if not (frame.names[k + 1 : k + 2] and frame.names[k + 1] in TRANSPORTS):
            plen = self._other_payload_len(frame, k, l3, span, wire_len)
        elif plen < 0:  # a first fragment: Wireshark gives no segment length
            tcp = frame.layers[k + 1]
            start = _layer_start(tcp) or l3
            plen = max(min(span, wire_len - l3) - (start - l3) - _int(_get(tcp, "hdr_len")), 0)
        vlan = 0
        if "vlan" in frame.names[:k]:
            vlan = _int(_get(frame.layers[frame.names.index("vlan")], "id"))
        self._decoded += 1
        src_hi, src_lo = src >> 64, src & 0xFFFFFFFFFFFFFFFF
        dst_hi, dst_lo = dst >> 64, dst & 0xFFFFFFFFFFFFFFFF
        sll_if = 0
        if "sll" in frame.names[:k]:
            sll_if = _int(_get(frame.layers[frame.names.index("sll")], "ifindex"))
        row_no = self._rows_before + len(rows)
        orig = self._dedupe.check(
            ts_ns, frame.raw[l3:cap_len], (iface, sll_if), encap == WTAP_SLL, row_no
        )
        if orig is not None:
            if orig >= self._rows_before:
                rows[orig - self._rows_before][PFLAGS_COLUMN] |= PF_DUP_SEEN
            return None
        return [
            self.file_idx,
            number,
            iface,
            ts_ns,
            ver,
            proto,
            src_hi,
            src_lo,
            dst_hi,
            dst_lo,
            sport,
            dport,
            flags,
            seq,
            ack,
            win,
            plen,
            ip_len,
            ip_id,
            ttl,
            tsval,
            ohash,
            phash,
            pflags,
            vlan,
        ]

    @staticmethod
    def _link_path_ok(names: list[str]) -> bool:
        """Only IP reached through the link layers the fast backend follows (not tunnels)."""
        return all(name in LINK_LAYERS for name in names)

    @staticmethod
    def _ipv4(ip: Any) -> _Net | None:
        raw_len = _get(ip, "len_raw")  # the header's value: Wireshark shows the wire's for 0
        ip_len = _int(_get(ip, "len"))
        if isinstance(raw_len, list) and raw_len:
            ip_len = _int("0x" + str(raw_len[0]), ip_len)
        frag = _int(_get(ip, "frag_offset"))
        flags_tree = _get(ip, "flags_tree")
        more = _int(_get(flags_tree, "mf")) if flags_tree is not None else 0
        pflags = PF_FRAGMENT if frag else (PF_MORE_FRAGS if more else 0)
        if str(_get(ip, "checksum.status")) == "0":  # a zero field is offload's (Windows)
            pflags |= PF_BAD_CSUM | (PF_CSUM_UNKNOWN if _int(_get(ip, "checksum")) == 0 else 0)
        src = int(ipaddress.IPv4Address(str(_get(ip, "src"))))
        dst = int(ipaddress.IPv4Address(str(_get(ip, "dst"))))
        proto = _int(_get(ip, "proto"))
        ttl = _int(_get(ip, "ttl"))
        return 4, proto, src, dst, ip_len, _int(_get(ip, "id")), ttl, pflags, frag == 0

    @staticmethod
    def _ipv6(ip: Any, frame: _Frame, k: int) -> _Net | None:
        ip_len = _int(_get(ip, "plen")) + 40
        proto = _int(_get(ip, "nxt"))
        for ext in ("hopopts", "routing", "dstopts", "fraghdr"):
            sub = _get(ip, ext)
            if sub is not None and hasattr(sub, "field_names"):
                proto = _int(_find(sub, "nxt"), proto)
        frag = _get(ip, "fraghdr")
        pflags = 0
        ip_id = 0
        first = True
        if frag is not None and hasattr(frag, "field_names"):
            offset = _int(_get(frag, "offset"))
            more = _int(_get(frag, "more"))
            ip_id = _int(_get(frag, "ident"))
            first = offset == 0
            pflags = PF_FRAGMENT if offset else (PF_MORE_FRAGS if more else 0)
        if k + 1 < len(frame.names) and frame.names[k + 1] in TRANSPORTS and first:
            proto = TRANSPORTS[frame.names[k + 1]]
        src = int(ipaddress.IPv6Address(str(_get(ip, "src"))))
        dst = int(ipaddress.IPv6Address(str(_get(ip, "dst"))))
        return 6, proto, src, dst, ip_len, ip_id, _int(_get(ip, "hlim")), pflags, first

    @staticmethod
    def _other_payload_len(frame: _Frame, k: int, l3: int, ip_len: int, wire_len: int) -> int:
        """Bytes after the IP headers (as on the wire) when no TCP/UDP/ICMP layer follows."""
        if k + 1 >= len(frame.layers):
            return 0  # nothing after the IP headers was captured
        start = _layer_start(frame.layers[k + 1])
        if start is None or start < l3:
            return 0
        return max(min(ip_len, wire_len - l3) - (start - l3), 0)

    def _transport(
        self, frame: _Frame, k: int, proto: int, first: bool, l3: int, ip_len: int
    ) -> _L4:
        empty = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        if not first or k + 1 >= len(frame.layers):
            return empty
        layer = frame.layers[k + 1]
        name = frame.names[k + 1]
        if TRANSPORTS.get(name) != proto:
            return empty
        status = str(_get(layer, "checksum.status"))
        tflags = PF_BAD_CSUM if status == "0" else (PF_CSUM_UNKNOWN if status != "1" else 0)
        ip_end = l3 + ip_len
        if tflags == PF_BAD_CSUM and self._offloaded(frame, layer, proto, l3, ip_end):
            tflags |= PF_CSUM_UNKNOWN  # bad + unknown: left unfinished for the NIC
        if name == "tcp":
            return self._tcp(layer, tflags)
        l4 = _raw_offset(layer, "srcport" if name == "udp" else "type")
        l4 = l4 if l4 is not None and l4 >= 0 else l3
        payload = frame.raw[l4 + 8 : min(ip_end, len(frame.raw))][:64]
        phash = hash32_py(payload) if payload else 0
        plen = max(ip_end - l4 - 8, 0)
        if name == "udp":
            sport, dport = _int(_get(layer, "srcport")), _int(_get(layer, "dstport"))
        else:
            sport, dport = _int(_get(layer, "type")), _int(_get(layer, "code"))
        return sport, dport, 0, 0, 0, 0, plen, 0, 0, phash, tflags

    @staticmethod
    def _offloaded(frame: _Frame, layer: Any, proto: int, l3: int, ip_end: int) -> bool:
        l4 = _raw_offset(layer, "srcport")
        field = _int(_get(layer, "checksum"))
        return l4 is not None and offloaded_checksum(frame.raw, l3, l4, ip_end, proto, field)

    @staticmethod
    def _tcp(layer: Any, tflags: int) -> _L4:
        opts = _hex_bytes(_get(layer, "options"))
        tsval = 0
        tree = _get(layer, "options_tree")
        ts_tree = _get(tree, "timestamp_tree") if tree is not None else None
        if ts_tree is not None:
            tsval = _int(_get(ts_tree, "tsval"))
            tflags |= PF_HAS_TS
        payload = _hex_bytes(_get(layer, "payload"))[:64]
        return (
            _int(_get(layer, "srcport")),
            _int(_get(layer, "dstport")),
            _int(_get(layer, "flags")) & 0xFF,
            _int(_get(layer, "seq")),
            _int(_get(layer, "ack")),
            _int(_get(layer, "window_size_value")),
            _int(_get(layer, "len"), -1),
            tsval,
            hash32_py(opts) if opts else 0,
            hash32_py(payload) if payload else 0,
            tflags,
        )


@register("tshark")
class TsharkBackend:
    """Wireshark's dissectors through pyshark: the reference engine."""

    name = "tshark"

    def open(
        self, path: str, file_idx: int = 0, *, batch_size: int = DEFAULT_BATCH
    ) -> TsharkReader:
        return TsharkReader(path, file_idx, batch_size)
