"""pcapflow: packet-capture analyzer and flow reconciler for load-balancer hairpin failures.

Public API::

    analyze(captures, lb=None, os=None) -> AnalysisResult   # the one engine
    read_flows(path) -> pandas.DataFrame                    # Zeek conn.log-like flow table
    iter_flows(path) -> Iterator[Flow]                      # typed records, no pandas
    load_lb_config(paths) -> LbConfig                       # any supported config format
"""

from __future__ import annotations

__version__ = "0.1.0"
