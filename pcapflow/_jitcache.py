"""Where the compiled numba kernels are cached, and the jit decorators every kernel module uses.

numba's ``cache=True`` needs a writable directory: ``NUMBA_CACHE_DIR``, else a ``__pycache__``
next to the source, else ``~/.cache/numba``; with none of them (a service account whose home does
not exist, systemd ``DynamicUser=``, a read-only image) decorating a kernel raises "cannot cache
function ... no locator available" (numba/core/caching.py, ``_CacheImpl``).  pcapflow therefore
chooses the directory itself, once per process and before the first kernel is decorated, and
gives it to numba as ``numba.config.CACHE_DIR`` (numba's ``UserProvidedCacheLocator``):

1. ``NUMBA_CACHE_DIR``, when set and usable (numba's own variable);
2. the user's XDG cache: ``$XDG_CACHE_HOME/pcapflow/numba``, else ``~/.cache/pcapflow/numba``;
3. the serve data directory (``DATA/cache/numba``), in ``pcapflow serve`` workers;
4. a private directory in the temp dir, ``/tmp/pcapflow-UID/numba`` (mode 0700, ours, no
   symlink), else a fresh ``mkdtemp`` one (kept for this process only);
5. no cache at all: kernels compile on every run, but they run.

Every candidate but the first is per user, so a cache one user wrote never stands in another
user's way.  :func:`choose_cache_dir` is the decision as a pure function of :class:`CacheEnv`.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

SERVE_DATA_DIR_ENV = "PCAPFLOW_SERVE_DATA_DIR"  # set by `pcapflow serve` for its workers


@dataclass(frozen=True)
class CacheEnv:
    """What the choice depends on (read from the process by :meth:`from_process`)."""

    numba_cache_dir: str | None
    xdg_cache_home: str | None
    home: str | None
    serve_data_dir: str | None
    temp_dir: str
    uid: int

    @classmethod
    def from_process(cls, environ: Mapping[str, str] | None = None) -> CacheEnv:
        env = os.environ if environ is None else environ
        return cls(
            numba_cache_dir=env.get("NUMBA_CACHE_DIR") or None,
            xdg_cache_home=env.get("XDG_CACHE_HOME") or None,
            home=env.get("HOME") or None,
            serve_data_dir=env.get(SERVE_DATA_DIR_ENV) or None,
            temp_dir=tempfile.gettempdir(),
            uid=os.getuid(),
        )


@dataclass(frozen=True)
class CacheDir:
    """A candidate cache directory; ``private``: must be ours alone (mode 0700, our uid)."""

    path: Path
    source: str
    private: bool = False


def candidates(env: CacheEnv) -> tuple[CacheDir, ...]:
    """The directories to try, in order (relative XDG/HOME paths are ignored, as XDG says)."""
    found: list[CacheDir] = []
    if env.numba_cache_dir:
        found.append(CacheDir(Path(env.numba_cache_dir), "NUMBA_CACHE_DIR"))
    if env.xdg_cache_home and os.path.isabs(env.xdg_cache_home):
        found.append(CacheDir(Path(env.xdg_cache_home, "pcapflow", "numba"), "XDG_CACHE_HOME"))
    elif env.home and os.path.isabs(env.home) and env.home != "/":
        found.append(CacheDir(Path(env.home, ".cache", "pcapflow", "numba"), "~/.cache"))
    if env.serve_data_dir:
        found.append(CacheDir(Path(env.serve_data_dir, "cache", "numba"), "serve data dir"))
    found.append(
        CacheDir(Path(env.temp_dir, f"pcapflow-{env.uid}", "numba"), "temp dir", private=True)
    )
    return tuple(found)


def choose_cache_dir(env: CacheEnv, usable: Callable[[CacheDir], bool]) -> CacheDir | None:
    """The first candidate that ``usable`` accepts, or None (then: a fresh private temp dir)."""
    return next((c for c in candidates(env) if usable(c)), None)


def usable(candidate: CacheDir) -> bool:
    """Create the directory if need be and check that this process can write in it (and, for
    a private one, that it is a real directory owned by us that nobody else can enter)."""
    path = candidate.path
    try:
        if candidate.private:
            path.parent.mkdir(mode=0o700, exist_ok=True)
            if not _is_private(path.parent):
                return False
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if candidate.private and not _is_private(path):
            return False
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def _is_private(path: Path) -> bool:
    info = path.lstat()
    mode = info.st_mode
    return stat.S_ISDIR(mode) and info.st_uid == os.getuid() and not mode & 0o077


def _fresh_private_dir() -> CacheDir | None:
    try:
        return CacheDir(Path(tempfile.mkdtemp(prefix="pcapflow-numba-")), "new temp dir", True)
    except OSError:
        return None


_choice: list[CacheDir | None] = []  # the decision, once made
_hooks: list[Callable[[], None]] = []


def when_configured(hook: Callable[[], None]) -> None:
    """Run ``hook`` once numba is in use (now, if it already is)."""
    if _choice:
        hook()
    else:
        _hooks.append(hook)


_decided: list[CacheDir | None] = []


def decide() -> CacheDir | None:
    """The cache directory of this process, decided once (numba is not imported)."""
    if not _decided:
        _decided.append(choose_cache_dir(CacheEnv.from_process(), usable) or _fresh_private_dir())
    return _decided[0]


def configure() -> CacheDir | None:
    """Decide the cache directory for this process (once) and hand it to numba."""
    if _choice:
        return _choice[0]
    choice = decide()
    from numba.core import config as numba_config

    config: Any = numba_config  # CACHE_DIR is set from NUMBA_CACHE_DIR at import: not typed
    config.CACHE_DIR = str(choice.path) if choice is not None else ""
    _choice.append(choice)
    while _hooks:
        _hooks.pop(0)()
    return choice


def cache_dir() -> Path | None:
    """Where compiled kernels go in this process (None: not cached)."""
    choice = configure()
    return choice.path if choice is not None else None


def is_cached(dispatcher: Any) -> bool:
    """A kernel compiled in this process already, or with a cache index on disk."""
    if getattr(dispatcher, "overloads", None):
        return True
    try:
        return os.path.exists(dispatcher._cache._cache_file._index_path)
    except AttributeError:  # not cached (no directory), or numba's internals moved
        return False


KERNEL_SOURCES = (
    "capture/kernels.py",
    "flows/kernel.py",
    "flows/keys.py",
    "flows/layout.py",
    "flows/csvwrite.py",
    "flows/table.py",
    "flows/observe.py",
)
STAMP_NAME = "pcapflow-kernels.stamp"


def sources_stamp() -> str:
    """What the cached kernels were compiled from (numba's own key: each source's mtime and
    size), so that a stamp tells, without importing numba, whether a run will compile."""
    package = Path(__file__).resolve().parent
    parts = [f"python {sys.version.split()[0]}"]
    for name in KERNEL_SOURCES:
        try:
            info = (package / name).stat()
        except OSError:
            continue
        parts.append(f"{package / name} {info.st_mtime_ns} {info.st_size}")
    return "\n".join(parts) + "\n"


def looks_warm() -> bool:
    """The kernels were compiled into this cache from these sources (by an earlier run)."""
    choice = decide()
    if choice is None:
        return False
    try:
        return (choice.path / STAMP_NAME).read_text() == sources_stamp()
    except (OSError, UnicodeDecodeError):
        return False


def mark_warm() -> None:
    """Stamp the cache: these sources' kernels are in it."""
    choice = decide()
    if choice is not None and not looks_warm():
        with contextlib.suppress(OSError):
            (choice.path / STAMP_NAME).write_text(sources_stamp())


ENTRY_KERNELS: list[Any] = []  # dispatchers called from Python (what the first-run notice counts)


def kernel(**options: Any) -> Callable[[_F], _F]:
    """``njit`` for a kernel called from Python: compiled on first call, cached on disk in
    :func:`cache_dir` (not cached, rather than failing, where no directory can be written);
    loaded from there without numba's CPU target registries (:mod:`pcapflow._jitdispatch`)."""

    def decorate(func: _F) -> _F:
        cached = cache_dir() is not None  # (numba is told the directory first)
        dispatcher: Any = _njit(func, **options)
        if hasattr(dispatcher, "get_call_template"):  # not under NUMBA_DISABLE_JIT
            from pcapflow._jitdispatch import KernelDispatcher

            dispatcher.__class__ = KernelDispatcher
            if cached:
                with contextlib.suppress(RuntimeError):  # "cannot cache function ...": the
                    dispatcher.enable_caching()  # directory went away meanwhile: not cached
        ENTRY_KERNELS.append(dispatcher)
        compiled: _F = dispatcher
        return compiled

    return decorate


def helper(**options: Any) -> Callable[[_F], _F]:
    """``njit`` for a function only kernels call: compiled into its callers (and their cache),
    so it needs no cache entry of its own; one version per argument *type*, not per constant
    value passed to it (see :mod:`pcapflow._jitdispatch`)."""

    def decorate(func: _F) -> _F:
        dispatcher: Any = _njit(func, **options)
        if hasattr(dispatcher, "get_call_template"):  # not under NUMBA_DISABLE_JIT
            from pcapflow._jitdispatch import PlainArgumentDispatcher

            dispatcher.__class__ = PlainArgumentDispatcher
        compiled: _F = dispatcher
        return compiled

    return decorate


def _njit(func: _F, **options: Any) -> _F:
    from numba import njit

    dispatcher: _F = njit(cache=False, **options)(func)
    return dispatcher
