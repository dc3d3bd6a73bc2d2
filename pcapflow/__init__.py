"""pcapflow: packet-capture analyzer and flow reconciler for load-balancer hairpin failures.

Public API::

    analyze(captures, lb=None, os=None) -> AnalysisResult   # the one engine
    read_flows(path) -> pandas.DataFrame                    # Zeek conn.log-like flow table
    iter_flows(path) -> Iterator[Flow]                      # typed records, no pandas
    load_lb_config(paths) -> LbConfig                       # any supported config format
    render(result, fmt) -> str                              # text, json, markdown, html, csv, zeek

Names are imported on first use, so ``import pcapflow`` (and every command) starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pcapflow._version import __version__

if TYPE_CHECKING:
    from pcapflow.errors import CaptureError, ConfigError, InputError, LabError, PcapflowError
    from pcapflow.flows import iter_flows, read_capture, read_flows
    from pcapflow.lbconfig import load as load_lb_config
    from pcapflow.lbconfig import load_text as load_lb_config_text
    from pcapflow.model.flow import Flow
    from pcapflow.model.lb import LbConfig
    from pcapflow.model.result import SCHEMA_VERSION, AnalysisResult, Finding, FlowResult, Label
    from pcapflow.pipeline import analyze
    from pcapflow.report import render, to_dict

# public name -> (module, attribute)
_EXPORTS: dict[str, tuple[str, str]] = {
    "SCHEMA_VERSION": ("pcapflow.model.result", "SCHEMA_VERSION"),
    "AnalysisResult": ("pcapflow.model.result", "AnalysisResult"),
    "CaptureError": ("pcapflow.errors", "CaptureError"),
    "ConfigError": ("pcapflow.errors", "ConfigError"),
    "Finding": ("pcapflow.model.result", "Finding"),
    "Flow": ("pcapflow.model.flow", "Flow"),
    "FlowResult": ("pcapflow.model.result", "FlowResult"),
    "InputError": ("pcapflow.errors", "InputError"),
    "LabError": ("pcapflow.errors", "LabError"),
    "Label": ("pcapflow.model.result", "Label"),
    "LbConfig": ("pcapflow.model.lb", "LbConfig"),
    "PcapflowError": ("pcapflow.errors", "PcapflowError"),
    "analyze": ("pcapflow.pipeline", "analyze"),
    "iter_flows": ("pcapflow.flows", "iter_flows"),
    "load_lb_config": ("pcapflow.lbconfig", "load"),
    "load_lb_config_text": ("pcapflow.lbconfig", "load_text"),
    "read_capture": ("pcapflow.flows", "read_capture"),
    "read_flows": ("pcapflow.flows", "read_flows"),
    "render": ("pcapflow.report", "render"),
    "to_dict": ("pcapflow.report", "to_dict"),
}

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


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'pcapflow' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
