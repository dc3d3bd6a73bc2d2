"""The ``pcapflow`` command line: thin click shells over the engine.

Each sub-command lives in its own module of this package and registers itself on :data:`main`
(``from pcapflow.cli import main`` ... ``@main.command()``).  Modules are imported only when their
command is run or listed, so ``pcapflow flows`` does not pay for the web service's imports.
A :class:`~pcapflow.errors.PcapflowError` becomes one line on stderr and exit status 2.

Adding a command: write ``pcapflow/cli/<module>.py`` and name its commands in :data:`COMMANDS`.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import sys
from typing import Any

import click

from pcapflow._jitnotice import compile_notice
from pcapflow.errors import PcapflowError

# command name -> module of this package that defines it
COMMANDS: dict[str, str] = {
    "analyze": "analyze",
    "explain": "live",
    "flows": "flows",
    "lab": "lab",
    "lb": "lb",
    "probe": "live",
    "report": "report",
    "serve": "serve",
    "slice": "report",
    "warmup": "warmup",
    "watch": "live",
}


# commands that run the packet kernels (the first run's notice shows before their imports)
KERNEL_COMMANDS = frozenset({"analyze", "analyse", "explain", "flows", "report", "slice", "warmup"})
QUIET_OPTIONS = frozenset({"-q", "--quiet"})


def runs_kernels(args: list[str]) -> bool:
    """The command line will run kernels (not just print help, not asked to be quiet)."""
    skip = QUIET_OPTIONS | {"-h", "--help"}
    return bool(args) and args[0] in KERNEL_COMMANDS and not skip & set(args[1:])


def quiet(args: list[str]) -> bool:
    """``--quiet``/``-q`` given to the command: no first-run notice either."""
    return bool(QUIET_OPTIONS & set(args[1:]))


def with_quiet_option(command: click.Command) -> click.Command:
    """A kernel command takes ``-q/--quiet`` (no first-run notice), declared or not."""
    if not any(QUIET_OPTIONS & set(param.opts) for param in command.params):
        command.params.append(
            click.Option(
                ["-q", "--quiet", "quiet_notice"],
                is_flag=True,
                expose_value=False,  # the group silences the notice (see quiet())
                help="No first-run compile notice on stderr.",
            )
        )
    return command


def command_line(ctx: click.Context) -> list[str]:
    """The sub-command and its arguments, before the group runs it."""
    protected = ctx.__dict__.get("_protected_args")  # click >= 8.2 (protected_args warns)
    if protected is None:
        protected = ctx.__dict__.get("protected_args", [])
    return [*protected, *ctx.args]


def import_quietly(module: str) -> None:
    """Import a command's module with the cyclic garbage collector off, then freeze what it made.

    An import makes long-lived objects (modules, classes, numba's types and dispatchers), hardly
    any garbage; the collector's passes over them were ~130 collections, 0.035 s of a kernel
    command's start-up.  Frozen, later collections do not walk them again either."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        importlib.import_module(module)
    finally:
        if enabled:
            gc.freeze()
            gc.enable()


_last_collection_skipped: list[bool] = []


def skip_last_collection() -> None:
    """Freeze every object at exit: the interpreter's shutdown then skips its final garbage
    collection over numba's and the analysis' objects (0.2 s of CPU after ``analyze``).  Files
    are closed by their commands and click, temporary files by their own exit hooks."""
    if not _last_collection_skipped:
        _last_collection_skipped.append(True)
        atexit.register(gc.freeze)


# other spellings people type -> command name (not listed in --help)
ALIASES: dict[str, str] = {"analyse": "analyze"}


class PcapflowGroup(click.Group):
    """A click group that loads sub-command modules lazily and reports pcapflow errors as one
    line, never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd_name = ALIASES.get(cmd_name, cmd_name)
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            import_quietly(f"{__name__}.{COMMANDS[cmd_name]}")
        command = self.commands.get(cmd_name)
        if command is not None and cmd_name in KERNEL_COMMANDS:
            return with_quiet_option(command)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        unknown = name and not name.startswith("-") and self.get_command(ctx, name) is None
        if unknown and not ctx.resilient_parsing:  # click would suggest only loaded commands
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx))
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint}")
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            # the first run's kernel compiles, on stderr (at once when the cache is cold)
            args = command_line(ctx)
            if args and args[0] in KERNEL_COMMANDS:
                skip_last_collection()
            if args and ALIASES.get(args[0], args[0]) == "analyze":
                from pcapflow.capture.digest import hash_early

                hash_early(args[1:])  # the captures' SHA-256 while the modules load
            with compile_notice(sys.stderr, early=runs_kernels(args)) as notice:
                notice.enabled = not quiet(args)
                return super().invoke(ctx)
        except PcapflowError as exc:
            click.echo(f"pcapflow: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except BrokenPipeError:
            sys.exit(1)
        except click.FileError as exc:  # click's own -o FILENAME opening
            click.echo(f"pcapflow: error: {exc.ui_filename}: {exc.message}", err=True)
            sys.exit(PcapflowError.exit_code)
        except OSError as exc:  # a path the user gave that cannot be used (e.g. -o in no folder)
            if exc.filename is None:
                raise
            click.echo(f"pcapflow: error: {exc.filename}: {exc.strerror or exc}", err=True)
            sys.exit(PcapflowError.exit_code)


@click.group(cls=PcapflowGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pcapflow")
def main() -> None:
    """pcapflow: packet-capture analyzer and flow reconciler for load-balancer hairpins."""
