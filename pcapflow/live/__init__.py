"""Live troubleshooting on the host itself: ``pcapflow probe``, ``pcapflow watch``.

Modules, from the edge inwards: :mod:`~pcapflow.live.capture` (dumpcap/tcpdump processes and BPF
filters), :mod:`~pcapflow.live.attempts` (bounded connection attempts from recorded source ports),
:mod:`~pcapflow.live.pcapstream` (incremental pcap/pcapng framing of a growing file or a pipe),
:mod:`~pcapflow.live.probe` and :mod:`~pcapflow.live.watch` (the two sessions, each a functional
core around :func:`pcapflow.pipeline.analyze`), :mod:`~pcapflow.live.present` (text and colour).
The story of one connection (``pcapflow explain``) lives in :mod:`pcapflow.report.story`.
"""
