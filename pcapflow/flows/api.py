"""The Python API of flow assembly: packet batches or capture files -> flows.

* :func:`assemble` -- packet batches -> ``list[Flow]`` sorted by (ts, uid);
* :func:`read_capture` -- a capture file -> (CaptureInfo, flows);
* :func:`iter_flows` -- a capture file -> flows as they end (streaming, bounded memory);
* :func:`read_flows` -- a capture file -> ``pandas.DataFrame`` (Zeek column names + additions).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pcapflow import _jitahead
from pcapflow.capture import get_backend
from pcapflow.capture.base import CaptureBackend
from pcapflow.capture.prefetch import prefetched
from pcapflow.flows.assembler import (
    DEFAULT_MAX_FLOWS,
    FlowAssembler,
    FlowBlock,
    PacketKeys,
    Params,
)
from pcapflow.flows.keys import packet_keys
from pcapflow.flows.records import _AddrCache, block_flows, blocks_frame
from pcapflow.model.capture import CaptureInfo
from pcapflow.model.flow import Flow
from pcapflow.model.packet import PacketArray

if TYPE_CHECKING:  # pandas is imported where it is used (the csv path never needs it)
    import pandas as pd


def _params(
    packets_per_flow: int, ignore_checksums: bool | None, max_flows: int = DEFAULT_MAX_FLOWS
) -> Params:
    return Params(
        packets_per_flow=packets_per_flow, ignore_checksums=ignore_checksums, max_flows=max_flows
    )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while millions of (acyclic) evidence objects are built:
    each collection would walk every object made so far (half of read_capture's time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _sorted(flows: Iterable[Flow]) -> list[Flow]:
    return sorted(flows, key=lambda f: (f.ts, f.uid))


def assemble(
    batches: Iterable[PacketArray],
    *,
    file_idx: int,
    packets_per_flow: int = 64,
    ignore_checksums: bool | None = None,
    max_flows: int = DEFAULT_MAX_FLOWS,
) -> list[Flow]:
    """Zeek-conformant flows of packet batches (one capture file), sorted by (ts, uid)."""
    asm = FlowAssembler(
        file_idx=file_idx, params=_params(packets_per_flow, ignore_checksums, max_flows)
    )
    addrs = _AddrCache()
    flows: list[Flow] = []
    with _gc_paused():
        for batch in batches:
            for block in asm.feed(batch):
                flows.extend(block_flows(block, addrs))
        for block in asm.close():
            flows.extend(block_flows(block, addrs))
        return _sorted(flows)


def _backend(engine: str, digest: bool, checksums: bool) -> CaptureBackend:
    """The engine; the fast one without the SHA-256 or checksum verification nobody uses."""
    if engine == "fast" and not (digest and checksums):
        from pcapflow.capture.fast import FastBackend

        return FastBackend(digest=digest, verify_checksums=checksums)
    return get_backend(engine)


def _with_checksum_hint(info: CaptureInfo, asm: FlowAssembler) -> CaptureInfo:
    """``info`` with a warning when wrong checksums kept most packets out of the flows."""
    hint = asm.stats.checksums.hint(asm.params.ignore_checksums)
    return info if hint is None else replace(info, warnings=(*info.warnings, hint))


def capture_blocks(
    path: str | Path,
    *,
    engine: str = "fast",
    file_idx: int = 0,
    packets_per_flow: int = 64,
    ignore_checksums: bool | None = None,
    max_flows: int = DEFAULT_MAX_FLOWS,
    params: Params | None = None,
    digest: bool = True,
    observe: Callable[[PacketArray], None] | None = None,
    checksums: bool = False,
    resume: list[tuple[int, int]] | None = None,
) -> tuple[Iterator[FlowBlock], FlowAssembler, list[CaptureInfo]]:
    """Blocks of finished flows of a capture, streamed; ``info`` is filled at the end.

    ``params`` (when given) replaces the three assembly options before it.  ``digest=False``
    leaves ``CaptureInfo.sha256`` empty (the fast engine then does not hash the file);
    ``observe`` is called with every packet batch before it is assembled (on the read-ahead
    thread); ``checksums``
    verifies transport checksums even when nothing in the assembly needs them; ``resume``
    receives the reader's resume points at the end (``FastReader.resume_points``: where a
    second pass may start reading mid-file).
    """
    params = params or _params(packets_per_flow, ignore_checksums, max_flows)
    _jitahead.start()  # a cold start: the flow kernels compile in a child meanwhile
    # Checksum flags matter unless ignored, and to evidence packets (they carry them).
    checksums = checksums or params.ignore_checksums is not True or params.packets_per_flow > 0
    reader = _backend(engine, digest, checksums).open(str(path), file_idx)
    asm = FlowAssembler(file_idx=file_idx, params=params)
    info: list[CaptureInfo] = []

    def keyed() -> Iterator[tuple[PacketArray, PacketKeys]]:
        """The batches with their connection keys, computed on the read-ahead thread too, where
        ``observe`` sees them (in order; its state is read once the blocks are exhausted, after
        the thread has ended)."""
        batches = reader.batches()
        try:
            for batch in batches:
                if observe is not None:
                    observe(batch)
                yield batch, packet_keys(batch)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()  # the consumer stopped early: the reader cleans up now

    def blocks() -> Iterator[FlowBlock]:
        for batch, keys in prefetched(keyed()):
            yield from asm.feed(batch, keys)
        yield from asm.close()
        info.append(_with_checksum_hint(reader.info(), asm))
        if resume is not None:
            resume.extend(getattr(reader, "resume_points", list)())

    return blocks(), asm, info


def read_capture(
    path: str | Path,
    *,
    engine: str = "fast",
    file_idx: int = 0,
    packets_per_flow: int = 64,
    ignore_checksums: bool | None = None,
) -> tuple[CaptureInfo, list[Flow]]:
    """Read a capture file and assemble its flows: (what was read, flows sorted by ts, uid)."""
    blocks, _asm, info = capture_blocks(
        path,
        engine=engine,
        file_idx=file_idx,
        packets_per_flow=packets_per_flow,
        ignore_checksums=ignore_checksums,
    )
    addrs = _AddrCache()
    with _gc_paused():
        flows = [flow for block in blocks for flow in block_flows(block, addrs)]
        return info[0], _sorted(flows)


def iter_flows(
    path: str | Path,
    *,
    engine: str = "fast",
    file_idx: int = 0,
    packets_per_flow: int = 64,
    ignore_checksums: bool | None = None,
    max_flows: int = DEFAULT_MAX_FLOWS,
) -> Iterator[Flow]:
    """Flows of a capture file in the order they end (memory bounded by the live table)."""
    blocks, _asm, _info = capture_blocks(
        path,
        engine=engine,
        file_idx=file_idx,
        packets_per_flow=packets_per_flow,
        ignore_checksums=ignore_checksums,
        max_flows=max_flows,
        digest=False,
    )
    addrs = _AddrCache()
    for block in blocks:
        yield from block_flows(block, addrs)


def read_flows(
    path: str | Path,
    *,
    engine: str = "fast",
    file_idx: int = 0,
    ignore_checksums: bool | None = None,
    max_flows: int = DEFAULT_MAX_FLOWS,
) -> pd.DataFrame:
    """Flows of a capture file as a DataFrame (see ``pcapflow.flows.records.FRAME_DTYPES``)."""
    blocks, _asm, _info = capture_blocks(
        path,
        engine=engine,
        file_idx=file_idx,
        packets_per_flow=0,
        ignore_checksums=ignore_checksums,
        max_flows=max_flows,
        digest=False,
    )
    return blocks_frame(list(blocks))
