"""`pcapflow serve`: the web application and JSON API (see docs/web.md)."""

from __future__ import annotations

import fcntl
import ipaddress
import logging
import os
import socket
from pathlib import Path
from typing import IO

import click

from pcapflow._jitcache import SERVE_DATA_DIR_ENV
from pcapflow.cli import main
from pcapflow.cli.options import checksum_options
from pcapflow.errors import InputError
from pcapflow.model.checksums import DEFAULT_POLICY
from pcapflow.web.settings import DEFAULT_MAX_UPLOAD, ServeSettings, format_size, parse_size

DEFAULT_DATA_DIR = "~/.local/share/pcapflow/web"


def lock_data_dir(data_dir: Path) -> IO[bytes]:
    """One server per data directory: hold an exclusive lock for the server's life."""
    if data_dir.exists() and not data_dir.is_dir():
        raise InputError(f"--data-dir {data_dir}: is a file, not a directory")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        handle = (data_dir / "server.lock").open("ab")
    except OSError as exc:
        raise InputError(f"--data-dir {data_dir}: cannot use it: {exc.strerror or exc}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise InputError(f"another pcapflow serve is already using {data_dir}") from None
    return handle


def check_can_listen(host: str, port: int) -> None:
    """Refuse in one line, before anything starts, an address that cannot be listened on (taken
    port, unknown host), as uvicorn would only log it and exit."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError(f"--host {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="PCAPFLOW_HOST",
    show_envvar=True,
    help="Address to listen on.",
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    envvar="PCAPFLOW_PORT",
    show_envvar=True,
    help="TCP port to listen on.",
)
@click.option(
    "--data-dir",
    default=DEFAULT_DATA_DIR,
    show_default=True,
    envvar="PCAPFLOW_DATA_DIR",
    show_envvar=True,
    help="Where the job database, uploads and reports live.",
)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(0, 64),
    envvar="PCAPFLOW_WORKERS",
    show_envvar=True,
    help="Analysis worker processes (0: accept and queue jobs, analyse none).",
)
@click.option(
    "--max-upload-size",
    "max_upload",
    default=format_size(DEFAULT_MAX_UPLOAD),
    show_default=True,
    envvar="PCAPFLOW_MAX_UPLOAD",
    show_envvar=True,
    help="Largest request (all captures and the config), e.g. 200M, 2G.",
)
@click.option(
    "--retention",
    "retention_days",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0),
    envvar="PCAPFLOW_RETENTION_DAYS",
    show_envvar=True,
    help="Delete finished analyses after this many days (0: keep them).",
)
@click.option(
    "--token",
    default=None,
    envvar="PCAPFLOW_TOKEN",
    show_envvar=True,
    help="Require 'Authorization: Bearer TOKEN' (or a login) on every endpoint.",
)
@click.option(
    "--job-timeout",
    "job_timeout_s",
    default=900.0,
    show_default=True,
    type=click.FloatRange(min=1),
    envvar="PCAPFLOW_JOB_TIMEOUT",
    show_envvar=True,
    help="Fail an analysis that runs longer than this many seconds.",
)
@checksum_options
def serve(
    host: str,
    port: int,
    data_dir: str,
    workers: int,
    max_upload: str,
    retention_days: float,
    token: str | None,
    job_timeout_s: float,
    checksums: str,
) -> None:
    """Serve the web application and JSON API (/api/v1) for uploaded captures.

    The checksum options (-C, --validate-checksums) set the policy of an upload that does not
    choose one (its form field ``checksums``)."""
    import uvicorn

    settings = ServeSettings(
        data_dir=Path(os.path.expanduser(data_dir)).resolve(),
        host=host,
        port=port,
        workers=workers,
        max_upload=parse_size(max_upload),
        retention_days=retention_days,
        token=token or None,
        job_timeout_s=job_timeout_s,
        checksums=checksums,
    )
    # a user without a cache dir of its own caches compiled kernels in the data dir (before the
    # app's imports, which load the kernel modules)
    os.environ[SERVE_DATA_DIR_ENV] = str(settings.data_dir)
    from pcapflow.web.app import create_app

    check_can_listen(host, port)
    lock = lock_data_dir(settings.data_dir)
    if not settings.token and not is_loopback(host):
        click.echo(
            f"pcapflow: warning: listening on {host} without --token: anyone who can reach "
            "this port can upload captures and read every analysis",
            err=True,
        )
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    policy = "" if checksums == DEFAULT_POLICY else f", checksum policy {checksums}"
    click.echo(
        f"pcapflow: serving http://{host}:{port}/ (data in {settings.data_dir}, "
        f"{workers} worker(s){', token required' if settings.token else ''}{policy})",
        err=True,
    )
    try:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            http="h11",
            log_level="info",
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=5,
        )
    finally:
        lock.close()
