"""Vocabulary shared by the loaders: the values each format spells differently, and Azure defaults.

Knowledge as data: every table maps a case-folded spelling to the model's value.
"""

from __future__ import annotations

import ipaddress
import re

from pcapflow.model.lb import Distribution, ProbeProtocol, Protocol

PROTOCOLS: dict[str, Protocol] = {
    "tcp": Protocol.TCP,
    "udp": Protocol.UDP,
    "all": Protocol.ALL,
}

PROBE_PROTOCOLS: dict[str, ProbeProtocol] = {
    "tcp": ProbeProtocol.TCP,
    "http": ProbeProtocol.HTTP,
    "https": ProbeProtocol.HTTPS,
}

# REST loadDistribution, Terraform load_distribution, portal names, pcapflow YAML names.
DISTRIBUTIONS: dict[str, Distribution] = {
    "default": Distribution.DEFAULT,
    "none": Distribution.DEFAULT,
    "5-tuple": Distribution.DEFAULT,
    "sourceip": Distribution.SOURCE_IP,
    "source_ip": Distribution.SOURCE_IP,
    "client ip": Distribution.SOURCE_IP,
    "2-tuple": Distribution.SOURCE_IP,
    "sourceipprotocol": Distribution.SOURCE_IP_PROTOCOL,
    "source_ip_protocol": Distribution.SOURCE_IP_PROTOCOL,
    "client ip and protocol": Distribution.SOURCE_IP_PROTOCOL,
    "3-tuple": Distribution.SOURCE_IP_PROTOCOL,
}

# Operating systems as Azure spells them (osType, os_type, image publishers) -> Member.os
OS_NAMES: dict[str, str] = {
    "linux": "linux",
    "windows": "windows",
}

IMAGE_PUBLISHER_OS: dict[str, str] = {
    "canonical": "linux",
    "redhat": "linux",
    "suse": "linux",
    "debian": "linux",
    "openlogic": "linux",
    "almalinux": "linux",
    "kinvolk": "linux",
    "oracle": "linux",
    "microsoftwindowsserver": "windows",
    "microsoftwindowsdesktop": "windows",
    "microsoftsqlserver": "windows",
}

# Azure defaults (domain-hairpin.md 1.4-1.8; REST loadBalancer.json 2023-09-01).
IDLE_TIMEOUT_DEFAULT_MIN = 4
IDLE_TIMEOUT_RANGE_MIN = (4, 100)  # 2024 docs; the 2023-09-01 REST spec still says 4..30
REST_PROBE_INTERVAL_DEFAULT_S = 15  # intervalInSeconds when a template omits it (REST, Terraform)
YAML_PROBE_INTERVAL_DEFAULT_S = 5  # "every 5 seconds by default" (probe overview article)
PROBE_COUNT_DEFAULT = 1  # probeThreshold default
TERRAFORM_NUMBER_OF_PROBES_DEFAULT = 2
FRONTEND_PORT_RANGE = (0, 65534)  # 0 = any port (HA ports with protocol All)
BACKEND_PORT_RANGE = (0, 65535)  # 0 = no port translation
PROBE_PORT_RANGE = (1, 65535)
NAT_FRONTEND_PORT_RANGE = (1, 65534)
NAT_BACKEND_PORT_RANGE = (1, 65535)
HTTP_PROBE_FORBIDDEN_PORTS = frozenset({19, 21, 25, 70, 110, 119, 143, 220, 993})


def lookup(table: dict[str, object], value: object) -> object | None:
    """``table[value]`` case-insensitively (None when absent or not a string)."""
    if not isinstance(value, str):
        return None
    return table.get(value.strip().casefold())


def canonical_ip(text: str) -> str | None:
    """The canonical text of an IP address, or None when ``text`` is not one."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except (ValueError, AttributeError):
        return None


def canonical_network(text: str) -> str | None:
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except (ValueError, AttributeError):
        return None


_MAC_HEX = re.compile(r"^[0-9a-fA-F]{12}$")


def canonical_mac(text: str) -> str | None:
    """``00-0D-3A-2B-4C-5D`` / ``000d3a2b4c5d`` / ``00:0d:...`` -> ``00:0d:3a:2b:4c:5d``."""
    digits = re.sub(r"[-:.]", "", text.strip())
    if not _MAC_HEX.match(digits):
        return None
    digits = digits.lower()
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def os_from_text(text: object) -> str | None:
    if not isinstance(text, str):
        return None
    return OS_NAMES.get(text.strip().casefold())
