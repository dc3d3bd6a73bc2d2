"""pcapflow: packet-capture analyzer and flow reconciler for load-balancer hairpin failures.

Public API::

    analyze(captures, lb=None, os=None) -> AnalysisResult   # the one engine
    read_flows(path) -> pandas.DataFrame                    # Zeek conn.log-like flow table
    iter_flows(path) -> Iterator[Flow]                      # typed records, no pandas
    load_lb_config(paths) -> LbConfig                       # any supported config format
    render(result, fmt) -> str                              # text, json, markdown, html, csv, zeek
"""

from __future__ import annotations

from pcapflow._version import __version__
from pcapflow.errors import CaptureError, ConfigError, InputError, LabError, PcapflowError
from pcapflow.flows import iter_flows, read_capture, read_flows
from pcapflow.lbconfig import load as load_lb_config
from pcapflow.lbconfig import load_text as load_lb_config_text
from pcapflow.model.flow import Flow
from pcapflow.model.lb import LbConfig
from pcapflow.model.result import SCHEMA_VERSION, AnalysisResult, Finding, FlowResult, Label
from pcapflow.pipeline import analyze
from pcapflow.report import render, to_dict

__all__ = [
    "SCHEMA_VERSION",
    "AnalysisResult",
    "CaptureError",
    "ConfigError",
    "Finding",
    "Flow",
    "FlowResult",
    "InputError",
    "LabError",
    "Label",
    "LbConfig",
    "PcapflowError",
    "__version__",
    "analyze",
    "iter_flows",
    "load_lb_config",
    "load_lb_config_text",
    "read_capture",
    "read_flows",
    "render",
    "to_dict",
]
