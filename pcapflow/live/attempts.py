"""Bounded connection attempts to a frontend, each from an explicit, recorded source port.

Explicit source ports do two jobs: they tie each attempt to its flows in the capture (the
balancer keeps the source port), and they make a tight capture filter possible.
"""

from __future__ import annotations

import errno
import random
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pcapflow.errors import InputError
from pcapflow.live.target import Target

PORT_RANGE = (40000, 60000)  # where a probe picks its block of source ports
SPARE_PORTS = 16  # extra ports in the block, for ports found busy
MAX_COUNT = 1000
MAX_PARALLEL = 8
STAGGER_S = 0.05  # between attempt starts
UDP_PAYLOAD = b"pcapflow probe\n"
# errno of a failed attempt -> outcome (the vocabulary of ground_truth.json)
ERRNO_OUTCOMES = {
    errno.ECONNREFUSED: "refused",
    errno.ETIMEDOUT: "timeout",
    errno.EHOSTUNREACH: "unreachable",
    errno.ENETUNREACH: "unreachable",
    errno.ECONNRESET: "reset",
}
SUCCESS_OUTCOMES = frozenset({"connected", "reply"})


@dataclass(frozen=True, slots=True)
class Attempt:
    """One connection attempt and what the socket API said about it."""

    id: int
    proto: str
    client: str | None  # source address the kernel chose (None when the socket never got one)
    client_port: int
    frontend: str
    frontend_port: int
    start: float  # wall clock, seconds since the epoch
    elapsed_s: float
    outcome: str  # connected | reply | refused | timeout | no_reply | unreachable | reset | error
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in SUCCESS_OUTCOMES

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "proto": self.proto,
            "client": self.client,
            "client_port": self.client_port,
            "frontend": self.frontend,
            "frontend_port": self.frontend_port,
            "start": round(self.start, 6),
            "elapsed_s": round(self.elapsed_s, 6),
            "outcome": self.outcome,
            "error": self.error,
        }


def check_count(count: int) -> int:
    if not 0 < count <= MAX_COUNT:
        raise InputError(f"--count must be between 1 and {MAX_COUNT}")
    return count


def port_block(count: int, rng: random.Random | None = None) -> range:
    """A block of ``count`` + spare source ports inside :data:`PORT_RANGE`."""
    size = check_count(count) + SPARE_PORTS
    start = (rng or random.Random()).randrange(PORT_RANGE[0], PORT_RANGE[1] - size)
    return range(start, start + size)


def _family(target: Target) -> socket.AddressFamily:
    return socket.AF_INET6 if target.version == 6 else socket.AF_INET


def bind_ports(target: Target, block: range, count: int) -> list[socket.socket]:
    """``count`` sockets bound to free ports of ``block``, in port order."""
    kind = socket.SOCK_STREAM if target.proto == "tcp" else socket.SOCK_DGRAM
    bound: list[socket.socket] = []
    for port in block:
        if len(bound) == count:
            return bound
        sock = socket.socket(_family(target), kind)
        try:
            sock.bind(("", port))
        except OSError:
            sock.close()
            continue
        bound.append(sock)
    for sock in bound:
        sock.close()
    raise InputError(f"not enough free source ports in {block.start}-{block.stop - 1}")


def _outcome(exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    return ERRNO_OUTCOMES.get(exc.errno or 0, "error")


def _try_tcp(sock: socket.socket, target: Target, timeout: float) -> str:
    sock.settimeout(timeout)
    sock.connect((target.address, target.port))
    return "connected"


def _try_udp(sock: socket.socket, target: Target, timeout: float) -> str:
    sock.settimeout(timeout)
    sock.connect((target.address, target.port))
    sock.send(UDP_PAYLOAD)
    try:
        sock.recv(2048)
    except TimeoutError:
        return "no_reply"
    return "reply"


TRIES: dict[str, Callable[[socket.socket, Target, float], str]] = {
    "tcp": _try_tcp,
    "udp": _try_udp,
}


def attempt(ident: int, sock: socket.socket, target: Target, timeout: float) -> Attempt:
    """Make one attempt on an already bound socket, and close it."""
    port = sock.getsockname()[1]
    start, clock = time.time(), time.monotonic()
    error = ""
    try:
        outcome = TRIES[target.proto](sock, target, timeout)
    except OSError as exc:
        outcome, error = _outcome(exc), str(exc.strerror or exc)
    elapsed = time.monotonic() - clock
    try:
        client: str | None = sock.getsockname()[0]
    except OSError:
        client = None
    sock.close()
    if client in ("0.0.0.0", "::"):
        client = None
    return Attempt(
        ident, target.proto, client, port, target.address, target.port, start, elapsed,
        outcome, error,
    )  # fmt: skip


def run_attempts(
    target: Target, sockets: Sequence[socket.socket], timeout: float, stagger_s: float = STAGGER_S
) -> list[Attempt]:
    """One attempt per bound socket, started ``stagger_s`` apart, at most 8 in flight."""

    def one(index: int) -> Attempt:
        time.sleep(index * stagger_s if index < MAX_PARALLEL else 0)
        return attempt(index + 1, sockets[index], target, timeout)

    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(sockets))) as pool:
        return list(pool.map(one, range(len(sockets))))
