"""The frontend a live session is about: ``VIP:PORT`` parsed into a typed value."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pcapflow.errors import InputError

PROTOCOLS = ("tcp", "udp")


@dataclass(frozen=True, slots=True)
class Target:
    """A frontend ``address:port`` over ``proto`` (``tcp`` or ``udp``)."""

    address: str
    port: int
    proto: str = "tcp"

    @property
    def version(self) -> int:
        return ipaddress.ip_address(self.address).version

    def __str__(self) -> str:
        return endpoint(self.address, self.port)


def endpoint(host: str | None, port: int) -> str:
    """``host:port``, with IPv6 addresses in brackets; ``?`` for an unknown host."""
    host = host or "?"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_target(text: str, proto: str = "tcp") -> Target:
    """``"10.2.1.100:80"`` or ``"[fd00::100]:80"`` -> :class:`Target`; InputError otherwise."""
    if proto not in PROTOCOLS:
        raise InputError(f"unknown protocol {proto!r} (use tcp or udp)")
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not host:
        raise InputError(f"frontend {text!r} is not VIP:PORT (e.g. 10.2.1.100:80)")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        raise InputError(f"frontend {text!r}: {host!r} is not an IP address") from None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InputError(f"frontend {text!r}: port must be 1-65535")
    return Target(address, int(port_text), proto)
