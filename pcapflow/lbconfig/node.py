"""Reading JSON documents with their JSON pointers, whatever the casing or ``properties`` nesting.

:class:`Node` wraps one JSON object.  Keys are matched in any casing (``enableFloatingIP``,
``enableFloatingIp`` and ``enable_floating_ip`` alike, see
:func:`~pcapflow.lbconfig.azure_ids.fold_key`) and keys nested in ``properties`` read as if they
were on the object itself, while every value keeps its true JSON pointer for problem reports.
Typed readers (:meth:`Node.text`, :meth:`Node.integer`, ...) report wrong types and unresolved
template expressions to the :class:`~pcapflow.lbconfig.problems.Document` instead of guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pcapflow.lbconfig.azure_ids import fold_key
from pcapflow.lbconfig.problems import Document, Severity, pointer_join


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A template value pcapflow cannot compute (``reference()``, ``uniqueString()``, a parameter
    without default ...).  Reading it where a value is needed is a reported problem."""

    expression: str
    reason: str

    def __str__(self) -> str:
        return f"{self.expression} ({self.reason})"


_MISSING = object()
SOURCE_POINTER = "__pointer__"  # in a synthesized object: the JSON pointer of its source
SOURCE_FIELDS = "__fields__"  # ... and of each of its keys: {"frontendPort": "/.../frontend_port"}


class Node:
    """One JSON object of a document, read case-insensitively through ``properties``."""

    def __init__(self, raw: Any, pointer: str, doc: Document) -> None:
        self.raw: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        # objects built from another format (Terraform) carry their source pointers
        source = self.raw.get(SOURCE_POINTER)
        self.pointer = source if isinstance(source, str) else pointer
        fields = self.raw.get(SOURCE_FIELDS)
        fields = fields if isinstance(fields, Mapping) else {}
        self.doc = doc
        self._keys: dict[str, tuple[str, Any]] = {}
        for key, value in self.raw.items():
            if key in (SOURCE_POINTER, SOURCE_FIELDS):
                continue
            at = fields.get(key) or pointer_join(self.pointer, key)
            self._put(key, at, value)
        props = self._keys.get("properties")
        if props is not None and isinstance(props[1], Mapping):
            for key, value in props[1].items():
                self._put(key, pointer_join(props[0], key), value)

    def _put(self, key: str, at: str, value: Any) -> None:
        """Keep the first spelling of a key, unless it is an explicit null (older CLIs print
        ``"ipAddress": null`` where newer ones leave the key out)."""
        old = self._keys.get(fold_key(key))
        if old is None or old[1] is None:
            self._keys[fold_key(key)] = (at, value)

    # ---- raw access ------------------------------------------------------------------------

    def has(self, *names: str) -> bool:
        return any(self._get(n) is not _MISSING for n in names)

    def _get(self, name: str) -> Any:
        found = self._keys.get(fold_key(name))
        return _MISSING if found is None or found[1] is None else found[1]

    def get(self, *names: str, default: Any = None) -> Any:
        for name in names:
            value = self._get(name)
            if value is not _MISSING:
                return value
        return default

    def at(self, *names: str) -> str:
        """The pointer of the first present of ``names`` (or of the first name, were it there)."""
        for name in names:
            found = self._keys.get(fold_key(name))
            if found is not None and found[1] is not None:
                return found[0]
        return pointer_join(self.pointer, names[0]) if names else self.pointer

    def child(self, *names: str) -> Node:
        return Node(self.get(*names, default={}), self.at(*names), self.doc)

    def children(self, *names: str) -> list[Node]:
        values = self.get(*names, default=[])
        at = self.at(*names)
        if isinstance(values, Unresolved):
            self.doc.report(at, f"cannot resolve {values}")
            return []
        if not isinstance(values, list):
            self.doc.report(at, f"expected a list, got {type(values).__name__}")
            return []
        return [Node(v, pointer_join(at, i), self.doc) for i, v in enumerate(values)]

    def values(self, name: str) -> list[Any]:
        """A list of plain values (``[]`` when absent; anything else than a list is reported)."""
        value = self.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            self.doc.report(self.at(name), f"expected a list, got {type(value).__name__}")
            return []
        return value

    def ref(self, *names: str) -> str | None:
        """The ``id`` of a sub-resource reference ``{"id": ...}`` (None when absent)."""
        value = self.get(*names)
        if value is None:
            return None
        node = Node(value, self.at(*names), self.doc)
        return node.text("id", required=True) if isinstance(value, Mapping) else None

    # ---- typed readers ---------------------------------------------------------------------

    def _bad(self, name: str, value: Any, expected: str, required: bool) -> None:
        at = self.at(name)
        if isinstance(value, Unresolved):
            self.doc.report(
                at,
                f"cannot resolve {value}",
                Severity.ERROR if required else Severity.WARNING,
            )
        else:
            self.doc.report(at, f"expected {expected}, got {value!r}")

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.get(name)
        if value is None:
            if required:
                self.doc.report(self.at(name), f"missing {name!r}")
            return None
        if isinstance(value, str):
            return value
        self._bad(name, value, "a string", required)
        return None

    def integer(self, name: str, default: int | None = None, *, required: bool = False) -> int:
        value = self.get(name)
        if value is None:
            if required or default is None:
                self.doc.report(self.at(name), f"missing {name!r}")
                return 0
            return default
        if isinstance(value, bool):
            self._bad(name, value, "an integer", True)
            return default or 0
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        self._bad(name, value, "an integer", True)
        return default or 0

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().casefold() in ("true", "false"):
            return value.strip().casefold() == "true"
        self._bad(name, value, "true or false", True)
        return default

    def choice(self, name: str, table: Mapping[str, Any], default: Any = None) -> Any:
        """``table[value]`` (case-insensitive); unknown values are reported."""
        value = self.get(name)
        if value is None:
            if default is None:
                self.doc.report(self.at(name), f"missing {name!r}")
            return default
        if isinstance(value, str) and value.strip().casefold() in table:
            return table[value.strip().casefold()]
        if isinstance(value, Unresolved):
            self._bad(name, value, "", True)
        else:
            known = ", ".join(sorted({str(getattr(v, "value", v)) for v in table.values()}))
            self.doc.report(self.at(name), f"unknown {name} {value!r} (expected one of {known})")
        return default
