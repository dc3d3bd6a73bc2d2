"""A load balancer declared on the command line (``--vip``, ``--backend``, ``--floating-ip``).

Syntax (IPv6 addresses in brackets when a port follows)::

    --vip ADDRESS[:PORT][/PROTO]      PROTO tcp (default) | udp | all; no port (or 0) = HA ports
    --backend ADDRESS[:PORT]          PORT = the backend port (no port: same as the frontend port)

Every VIP gets a rule to the one backend pool.  The balancer is called ``cli``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pcapflow.errors import ConfigError
from pcapflow.lbconfig.draft import LbDraft, Loaded, Placed, assemble
from pcapflow.lbconfig.problems import Origin
from pcapflow.lbconfig.vocab import PROTOCOLS, canonical_ip
from pcapflow.model.lb import Frontend, LbConfig, Member, Protocol, Rule

DECLARATION_LB_NAME = "cli"
DECLARATION_POOL_NAME = "be-cli"

_ENDPOINT = re.compile(
    r"^(?:\[(?P<v6>[^\]]+)\]|(?P<addr>[^:/\[\]]+|[0-9a-fA-F:.]+))"
    r"(?::(?P<port>\d+))?(?:/(?P<proto>[A-Za-z]+))?$"
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    address: str
    port: int | None
    protocol: Protocol | None


def parse_endpoint(text: str, *, option: str, allow_proto: bool) -> Endpoint:
    """``10.2.1.100:80/tcp``, ``[fd00::100]:80``, ``fd00::100`` or ``10.2.1.4`` -> Endpoint."""
    spec = text.strip()
    match = _ENDPOINT.match(spec)
    if match is None:
        form = "ADDRESS[:PORT][/PROTO]" if allow_proto else "ADDRESS[:PORT]"
        raise ConfigError(f"{option} {text!r}: expected {form}")
    raw = match["v6"] or match["addr"]
    port_text = match["port"]
    if match["addr"] and raw.count(":") > 1:  # bare IPv6: the whole thing is the address
        raw, port_text = spec.split("/", 1)[0], None
    address = canonical_ip(raw)
    if address is None:
        raise ConfigError(f"{option} {text!r}: {raw!r} is not an IP address")
    port = int(port_text) if port_text is not None else None
    if port is not None and not 0 <= port <= 65535:
        raise ConfigError(f"{option} {text!r}: port {port} is out of range 0-65535")
    proto: Protocol | None = None
    if match["proto"]:
        if not allow_proto:
            raise ConfigError(f"{option} {text!r}: a protocol belongs on --vip, not here")
        found = PROTOCOLS.get(match["proto"].casefold())
        if found is None:
            raise ConfigError(f"{option} {text!r}: protocol must be tcp, udp or all")
        proto = found
    return Endpoint(address, port, proto)


def describe(vips: Sequence[str], backends: Sequence[str], floating_ip: bool) -> str:
    parts = [f"--vip {v}" for v in vips] + [f"--backend {b}" for b in backends]
    return " ".join(parts + (["--floating-ip"] if floating_ip else []))


def load_declaration(
    vips: Sequence[str], backends: Sequence[str], floating_ip: bool = False
) -> Loaded:
    if not vips:
        raise ConfigError("--backend/--floating-ip need at least one --vip ADDRESS[:PORT][/PROTO]")
    if not backends:
        raise ConfigError("--vip needs at least one --backend ADDRESS[:PORT]")
    source = describe(vips, backends, floating_ip)
    origin = Origin("<command line>")
    members = [parse_endpoint(b, option="--backend", allow_proto=False) for b in backends]
    ports = {m.port for m in members}
    if None in ports and len(ports) > 1:
        raise ConfigError("--backend: give a port on every backend or on none")
    if len(ports) > 1:
        listed = ", ".join(str(p) for p in sorted(p for p in ports if p is not None))
        raise ConfigError(f"--backend: all backends must use the same port, got {listed}")
    backend_port = next(iter(ports))

    lb = LbDraft(DECLARATION_LB_NAME, origin)
    pool = lb.pool(DECLARATION_POOL_NAME, origin)
    seen: set[str] = set()
    for m in members:
        if m.address not in seen:
            pool.members.append(Placed(Member(m.address), origin))
            seen.add(m.address)

    for text in vips:
        vip = parse_endpoint(text, option="--vip", allow_proto=True)
        fe = next((f.value for f in lb.frontends if f.value.address == vip.address), None)
        if fe is None:
            fe = Frontend(f"fe-{len(lb.frontends) + 1}", vip.address)
            lb.frontends.append(Placed(fe, origin))
        rule = _rule(vip, fe, backend_port, floating_ip, text)
        if any(r.value.name == rule.name for r in lb.rules):
            raise ConfigError(f"--vip {text!r} is declared twice")
        lb.rules.append(Placed(rule, origin))
    return assemble([lb], [], source)


def _rule(
    vip: Endpoint, fe: Frontend, backend_port: int | None, floating_ip: bool, text: str
) -> Rule:
    ha = vip.port in (None, 0) or vip.protocol is Protocol.ALL
    if ha and vip.port not in (None, 0):
        raise ConfigError(f"--vip {text!r}: protocol all means HA ports: give no port (or port 0)")
    if ha and backend_port not in (None, 0):
        raise ConfigError(f"--vip {text!r}: an HA-ports VIP forwards every port; drop the ports")
    proto = Protocol.ALL if ha else (vip.protocol or Protocol.TCP)
    port = 0 if ha else int(vip.port or 0)
    return Rule(
        name=f"{fe.name}-{proto.value}-{port}",
        frontend=fe.name,
        protocol=proto,
        frontend_port=port,
        backend_port=port if backend_port is None else backend_port,
        pool=DECLARATION_POOL_NAME,
        floating_ip=floating_ip,
    )


def from_declaration(
    vips: Sequence[str], backends: Sequence[str], floating_ip: bool = False
) -> LbConfig:
    """An LbConfig from ``--vip``/``--backend`` declarations (see module doc for the syntax)."""
    return load_declaration(vips, backends, floating_ip).config
