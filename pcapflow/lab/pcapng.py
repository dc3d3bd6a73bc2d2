"""pcap -> pcapng with the interface named (dpkt), so each pcapng says where it was taken."""

from __future__ import annotations

from pathlib import Path

import dpkt

APPLICATION = "pcapflow lab (tcpdump)"


def _opt(code: int, text: str) -> dpkt.pcapng.PcapngOptionLE:
    return dpkt.pcapng.PcapngOptionLE(code=code, data=text.encode())


def pcap_to_pcapng(src: Path, dst: Path, *, if_name: str, description: str) -> int:
    """Copy every frame of the pcap ``src`` into the pcapng ``dst``; returns the frame count."""
    with src.open("rb") as f_in, dst.open("wb") as f_out:
        reader = dpkt.pcap.Reader(f_in)
        shb = dpkt.pcapng.SectionHeaderBlockLE(
            opts=[_opt(dpkt.pcapng.PCAPNG_OPT_SHB_USERAPPL, APPLICATION), _end()]
        )
        idb = dpkt.pcapng.InterfaceDescriptionBlockLE(
            linktype=reader.datalink(),
            snaplen=reader.snaplen,
            opts=[
                _opt(dpkt.pcapng.PCAPNG_OPT_IF_NAME, if_name),
                _opt(dpkt.pcapng.PCAPNG_OPT_IF_DESCRIPTION, description),
                _end(),
            ],
        )
        writer = dpkt.pcapng.Writer(f_out, shb=shb, idb=idb)
        count = 0
        for ts, frame in reader:
            writer.writepkt(frame, ts=ts)
            count += 1
    return count


def _end() -> dpkt.pcapng.PcapngOptionLE:
    return dpkt.pcapng.PcapngOptionLE(code=dpkt.pcapng.PCAPNG_OPT_ENDOFOPT)
