"""The renderer registry: one entry per output format, keyed by format name.

Built-in renderers register themselves exactly as an add-on would::

    @register("yaml", extension="yaml", media_type="application/yaml",
              description="the JSON form as YAML")
    def render_yaml(result: AnalysisResult, options: RenderOptions) -> str: ...

A renderer is a pure function: same result and options, same string, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pcapflow.errors import InputError
from pcapflow.model.result import AnalysisResult


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """What a caller may ask of every renderer (renderers ignore what they cannot use)."""

    color: bool = False  # ANSI colours in terminal text


Renderer = Callable[[AnalysisResult, RenderOptions], str]
ChunkRenderer = Callable[[AnalysisResult, RenderOptions], Iterator[str]]


@dataclass(frozen=True, slots=True)
class RendererSpec:
    name: str
    render: Renderer
    extension: str  # file name extension, without the dot
    media_type: str
    description: str
    chunks: ChunkRenderer | None = None  # the same text, piece by piece (bounded memory)


RENDERERS: dict[str, RendererSpec] = {}


def register(
    name: str, *, extension: str, media_type: str, description: str
) -> Callable[[Renderer], Renderer]:
    """Class the decorated function as the renderer of format ``name``."""

    def add(func: Renderer) -> Renderer:
        RENDERERS[name] = RendererSpec(name, func, extension, media_type, description)
        return func

    return add


def render(result: AnalysisResult, fmt: str, *, color: bool = False) -> str:
    """Render ``result`` in format ``fmt`` (a key of :data:`RENDERERS`)."""
    spec = RENDERERS.get(fmt)
    if spec is None:
        known = ", ".join(sorted(RENDERERS))
        raise InputError(f"unknown report format {fmt!r} (known: {known})")
    return spec.render(result, RenderOptions(color=color))


def streams(fmt: str) -> Callable[[ChunkRenderer], ChunkRenderer]:
    """Class the decorated function as the piecewise form of format ``fmt``'s renderer."""

    def add(func: ChunkRenderer) -> ChunkRenderer:
        spec = RENDERERS[fmt]
        RENDERERS[fmt] = RendererSpec(
            spec.name, spec.render, spec.extension, spec.media_type, spec.description, func
        )
        return func

    return add


def render_chunks(result: AnalysisResult, fmt: str, *, color: bool = False) -> Iterator[str]:
    """:func:`render`'s text in pieces whose concatenation is that text: a large result is
    written without holding its whole text (formats without a piecewise form: one piece)."""
    spec = RENDERERS.get(fmt)
    if spec is None or spec.chunks is None:
        yield render(result, fmt, color=color)
        return
    yield from spec.chunks(result, RenderOptions(color=color))


def write_chunks(path: Path, chunks: Iterable[str]) -> None:
    """Write a report piece by piece to ``path``, under its name only once complete (a partial
    file is removed when rendering fails)."""
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as out:
            out.writelines(chunks)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
