"""The small programs the lab runs inside its namespaces (standard library only, run as a script).

    agent.py serve    --name web01 --tcp 80,443 --udp 5000 --echo 7 --duration 60
    agent.py attempts --plan '[{"id": 1, "proto": "tcp", "src": ..., "sport": ..., ...}]'
    agent.py probe    --source 168.63.129.16 --port 80 --members 10.2.1.4,10.2.1.6
                      --interval 5 --rounds 6 --updates '{"10.2.1.4,10.2.1.6": "<nft script>"}'

Every program is bounded: ``serve`` by --duration, ``attempts`` by each attempt's timeout,
``probe`` by --rounds; the lab also runs each under ``timeout(1)``.  Results are JSON on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import struct
import subprocess
import sys
import threading
import time
from typing import Any

HTTP_RESPONSE = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"


# ---- serve --------------------------------------------------------------------------------------
def _dual_stack(kind: int, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", port))
    return sock


def _answer_http(conn: socket.socket, name: str) -> None:
    with conn:
        conn.settimeout(2.0)
        with contextlib.suppress(OSError):
            if conn.recv(4096):  # a TCP health probe connects and closes without a request
                conn.sendall(f"{HTTP_RESPONSE}served-by {name}\n".encode())


def _serve_tcp(port: int, name: str) -> None:
    sock = _dual_stack(socket.SOCK_STREAM, port)
    sock.listen(64)
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=_answer_http, args=(conn, name), daemon=True).start()


def _echo_lines(conn: socket.socket) -> None:
    """Echo until the peer closes; an idle connection stays open (no timeout)."""
    with conn, contextlib.suppress(OSError):
        while data := conn.recv(4096):
            conn.sendall(data)


def _serve_echo(port: int) -> None:
    sock = _dual_stack(socket.SOCK_STREAM, port)
    sock.listen(16)
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=_echo_lines, args=(conn,), daemon=True).start()


def _serve_udp(port: int, name: str) -> None:
    sock = _dual_stack(socket.SOCK_DGRAM, port)
    while True:
        data, peer = sock.recvfrom(2048)
        sock.sendto(f"served-by {name} ".encode() + data, peer)


def serve(args: argparse.Namespace) -> int:
    for port in _ports(args.tcp):
        threading.Thread(target=_serve_tcp, args=(port, args.name), daemon=True).start()
    for port in _ports(args.udp):
        threading.Thread(target=_serve_udp, args=(port, args.name), daemon=True).start()
    for port in _ports(args.echo):
        threading.Thread(target=_serve_echo, args=(port,), daemon=True).start()
    print(json.dumps({"serving": args.name}), flush=True)
    time.sleep(args.duration)
    return 0


def _ports(text: str) -> list[int]:
    return [int(p) for p in text.split(",") if p]


# ---- attempts -----------------------------------------------------------------------------------
def _family(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _bound(kind: int, plan: dict[str, Any]) -> socket.socket:
    sock = socket.socket(_family(plan["dst"]), kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((plan["src"], plan["sport"]))
    return sock


def tcp_attempt(plan: dict[str, Any]) -> dict[str, Any]:
    sock = _bound(socket.SOCK_STREAM, plan)
    sock.settimeout(plan["timeout"])
    start = time.time()
    with sock:
        try:
            sock.connect((plan["dst"], plan["dport"]))
        except ConnectionRefusedError:
            return _result(sock, start, "refused")
        except TimeoutError:
            return _result(sock, start, "timeout")
        if plan.get("idle"):
            return _session(sock, start, plan)
        return {**_result(sock, start, "connected"), "body": _get(sock, plan)}


def _session(sock: socket.socket, start: float, plan: dict[str, Any]) -> dict[str, Any]:
    """An echo session: a line, ``idle`` seconds of silence, a line.  ``connected`` when the
    second echo comes back, ``timeout`` when it does not (the balancer forgot the flow)."""
    echoed = [_echo(sock, f"before idle {plan['id']}\n".encode(), plan["timeout"])]
    time.sleep(plan["idle"])
    echoed.append(_echo(sock, f"after idle {plan['id']}\n".encode(), plan["timeout"]))
    outcome = "connected" if all(echoed) else "timeout"
    if not all(echoed):  # give up at once: no FIN retransmitted into the void
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return {**_result(sock, start, outcome), "echoed": echoed, "idle": plan["idle"]}


def _echo(sock: socket.socket, line: bytes, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        sock.sendall(line)
        got = b""
        while len(got) < len(line):
            chunk = sock.recv(4096)
            if not chunk:
                return False
            got += chunk
    except OSError:
        return False
    return got == line


def _result(sock: socket.socket, start: float, outcome: str) -> dict[str, Any]:
    """The outcome, with the local address the kernel chose (the client may bind only a port)."""
    local = sock.getsockname()[0]
    return {"start": start, "outcome": outcome, "elapsed": time.time() - start, "local": local}


def _get(sock: socket.socket, plan: dict[str, Any]) -> str:
    sock.settimeout(2.0)
    chunks: list[bytes] = []
    with contextlib.suppress(OSError):
        sock.sendall(f"GET / HTTP/1.0\r\nHost: {plan['dst']}\r\n\r\n".encode())
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace").rpartition("\r\n\r\n")[2].strip()


def udp_attempt(plan: dict[str, Any]) -> dict[str, Any]:
    """One datagram on a connected socket, so that an ICMP port unreachable is reported."""
    sock = _bound(socket.SOCK_DGRAM, plan)
    sock.settimeout(plan["timeout"])
    start = time.time()
    with sock:
        sock.connect((plan["dst"], plan["dport"]))
        sock.send(f"attempt {plan['id']}".encode())
        try:
            data = sock.recv(2048)
        except TimeoutError:
            return _result(sock, start, "no_reply")
        except ConnectionRefusedError:
            return _result(sock, start, "refused")
        return {**_result(sock, start, "reply"), "body": data.decode(errors="replace").strip()}


def _run_one(plan: dict[str, Any], results: dict[int, dict[str, Any]]) -> None:
    time.sleep(plan["delay"])
    attempt = udp_attempt if plan["proto"] == "udp" else tcp_attempt
    try:
        results[plan["id"]] = {"id": plan["id"], **attempt(plan)}
    except OSError as exc:
        results[plan["id"]] = {"id": plan["id"], "start": time.time(), "outcome": f"error: {exc}"}


def attempts(args: argparse.Namespace) -> int:
    plans: list[dict[str, Any]] = json.loads(args.plan)
    results: dict[int, dict[str, Any]] = {}
    threads = [threading.Thread(target=_run_one, args=(p, results)) for p in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps([results[p["id"]] for p in plans]), flush=True)
    return 0


# ---- probe --------------------------------------------------------------------------------------
def _probe(source: str, member: str, port: int, timeout: float) -> bool:
    sock = socket.socket(_family(member), socket.SOCK_STREAM)
    sock.settimeout(timeout)
    with sock:
        try:
            sock.bind((source, 0))
            sock.connect((member, port))
        except OSError:
            return False
    return True


def probe(args: argparse.Namespace) -> int:
    members = [m for m in args.members.split(",") if m]
    updates: dict[str, str] = json.loads(args.updates)
    current: list[str] | None = None
    for n in range(args.rounds):
        started = time.time()
        up = {m: _probe(args.source, m, args.port, args.timeout) for m in members}
        healthy = [m for m in members if up[m]]
        if healthy != current:
            subprocess.run(
                ["nft", "-f", "-"],
                input=updates[",".join(healthy)],
                text=True,
                check=True,
                timeout=5,
            )
            current = healthy
        print(json.dumps({"round": n + 1, "t": started, "up": up}), flush=True)
        time.sleep(max(0.0, args.interval - (time.time() - started)))
    return 0


# ---- command line -------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pcapflow-lab-agent")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--name", required=True)
    s.add_argument("--tcp", default="")
    s.add_argument("--udp", default="")
    s.add_argument("--echo", default="")
    s.add_argument("--duration", type=float, default=60.0)
    a = sub.add_parser("attempts")
    a.add_argument("--plan", required=True)
    r = sub.add_parser("probe")
    r.add_argument("--source", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--members", required=True)
    r.add_argument("--interval", type=float, default=5.0)
    r.add_argument("--timeout", type=float, default=1.0)
    r.add_argument("--rounds", type=int, default=12)
    r.add_argument("--updates", required=True)
    return p


COMMANDS = {"serve": serve, "attempts": attempts, "probe": probe}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return COMMANDS[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
