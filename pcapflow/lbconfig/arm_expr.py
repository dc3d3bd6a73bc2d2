"""A small evaluator for ARM template expressions (``"[concat(variables('x'), '/fe')]"``).

Covers what network templates use: ``parameters``, ``variables``, ``concat``, ``format``,
``resourceId`` (and ``subscriptionResourceId``), ``copyIndex``, ``range``, ``length``, string,
logical, comparison and arithmetic functions, property access and indexing, nested freely.
Whatever depends on the deployment (``resourceGroup()``, ``reference()``, ``uniqueString()``, a
parameter without default ...) evaluates to :class:`~pcapflow.lbconfig.node.Unresolved`, which
propagates; pcapflow then reports the value it needed instead of guessing it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pcapflow.errors import ConfigError
from pcapflow.lbconfig.node import Unresolved

MAX_DEPTH = 64
MAX_COPY = 800  # Azure's limit on a copy loop's count
MAX_ITEMS = 10_000  # range(): Azure's limit on count
MAX_VALUE = 4 * 1024 * 1024  # characters + items of one value; a whole template is at most 4 MB
MAX_WORK = 5_000_000  # values evaluated + characters/items produced, for the whole template


class ExpressionError(ValueError):
    """A malformed expression (the template itself is broken)."""


class TemplateTooCostly(ConfigError):
    """Expressions that would take too long or too much memory (a hostile template)."""


@dataclass
class Budget:
    """Work left for one template's expressions, shared by every scope derived from it."""

    left: int = MAX_WORK

    def spend(self, units: int) -> None:
        self.left -= units
        if self.left < 0:
            raise TemplateTooCostly(
                "its expressions take too much work to evaluate (a hostile template?)"
            )


def value_size(value: Any) -> int:
    """Characters and items of ``value`` with shared parts counted once per use (aliasing)."""
    sizes: dict[int, int] = {}

    def size(v: Any) -> int:
        if isinstance(v, str):
            return len(v) + 1
        if not isinstance(v, list | dict):
            return 1
        known = sizes.get(id(v))
        if known is None:
            items = v.items() if isinstance(v, dict) else enumerate(v)
            known = 1 + sum(size(k) + size(x) for k, x in items)
            sizes[id(v)] = known
        return known

    return size(value)


def _too_large(what: str, size: int) -> TemplateTooCostly:
    return TemplateTooCostly(f"{what} would be {size:,} characters/items (limit {MAX_VALUE:,})")


# ---- tokenizer / parser ----------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][\w.]*)"
    r"|(?P<punct>[()\[\],.]))"
)


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Access:
    target: Any
    key: Any  # a node (index) or a str (property)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExpressionError(f"unexpected {text[pos : pos + 10]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if value is not None and token[1] != value:
            raise ExpressionError(f"expected {value!r}, found {token[1] or 'end'!r}")
        self.i += 1
        return token

    def parse(self) -> Any:
        node = self.expression()
        if self.peek()[0] != "end":
            raise ExpressionError(f"unexpected {self.peek()[1]!r}")
        return node

    def expression(self) -> Any:
        kind, value = self.take()
        node: Any
        if kind == "str":
            node = Literal(value[1:-1].replace("''", "'"))
        elif kind == "num":
            node = Literal(float(value) if "." in value else int(value))
        elif kind == "name":
            self.take("(")
            args: list[Any] = []
            while self.peek()[1] != ")":
                args.append(self.expression())
                if self.peek()[1] == ",":
                    self.take(",")
                elif self.peek()[1] != ")":
                    raise ExpressionError(f"expected ',' or ')', found {self.peek()[1]!r}")
            self.take(")")
            node = Call(value.casefold(), tuple(args))
        else:
            raise ExpressionError(f"unexpected {value or 'end'!r}")
        while self.peek()[1] in (".", "["):
            if self.take()[1] == ".":
                kind, prop = self.take()
                if kind != "name":
                    raise ExpressionError(f"expected a property name, found {prop!r}")
                for part in prop.split("."):  # "a.b" is tokenised as one name
                    node = Access(node, part)
            else:
                index = self.expression()
                self.take("]")
                node = Access(node, index)
        return node


def is_expression(value: Any) -> bool:
    return (
        isinstance(value, str)
        and value.startswith("[")
        and value.endswith("]")
        and not value.startswith("[[")
    )


# ---- evaluation ------------------------------------------------------------------------------


@dataclass
class Scope:
    """What expressions can see: parameters, variables and the copy loops being expanded."""

    parameters: dict[str, Any]
    variables: dict[str, Any]
    copy_index: dict[str, int] = field(default_factory=dict)  # loop name ("" = current) -> i
    resolved_vars: dict[str, Any] = field(default_factory=dict)  # shared by derived scopes
    resolving: set[str] = field(default_factory=set)
    budget: Budget = field(default_factory=Budget)  # shared by derived scopes
    resolved_params: dict[str, Any] = field(default_factory=dict)  # shared by derived scopes

    def with_copy(self, name: str, index: int) -> Scope:
        loops = {**self.copy_index, name.casefold(): index, "": index}
        return replace(self, copy_index=loops)

    def top(self) -> Scope:
        """The scope variables are evaluated in (no copy loop)."""
        return replace(self, copy_index={})


def evaluate_value(value: Any, scope: Scope, depth: int = 0) -> Any:
    """Evaluate every expression inside a JSON value (objects and lists recursively)."""
    if depth > MAX_DEPTH:
        return Unresolved("<value>", "nested too deeply")
    scope.budget.spend(1)
    if isinstance(value, str):
        if is_expression(value):
            return evaluate(value, scope, depth)
        return value[1:] if value.startswith("[[") else value
    if isinstance(value, list):
        return [evaluate_value(v, scope, depth + 1) for v in value]
    if isinstance(value, Mapping):
        return _evaluate_object(value, scope, depth)
    return value


def _evaluate_object(value: Mapping[str, Any], scope: Scope, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "copy" and isinstance(item, list):  # property copy loops
            for loop in item:
                name, values = _property_copy(loop, scope, depth)
                out[name] = values
            continue
        out[key] = evaluate_value(item, scope, depth + 1)
    return out


def _property_copy(loop: Any, scope: Scope, depth: int) -> tuple[str, Any]:
    if not isinstance(loop, Mapping) or not isinstance(loop.get("name"), str):
        return "copy", Unresolved("copy", "malformed property copy loop")
    name = loop["name"]
    count = evaluate_value(loop.get("count"), scope, depth + 1)
    if not isinstance(count, int) or isinstance(count, bool):
        return name, Unresolved(f"copy {name}", f"count {count} is not a number")
    if not 0 <= count <= MAX_COPY:
        return name, Unresolved(f"copy {name}", f"count {count} is outside 0..{MAX_COPY}")
    return name, [
        evaluate_value(loop.get("input"), scope.with_copy(name, i), depth + 1) for i in range(count)
    ]


def evaluate(text: str, scope: Scope, depth: int = 0) -> Any:
    """Evaluate one ``[...]`` expression string."""
    try:
        tree = _Parser(text[1:-1]).parse()
    except ExpressionError as exc:
        return Unresolved(text, f"malformed expression: {exc}")
    try:
        result = _Evaluator(scope, text, depth).run(tree)
    except ExpressionError as exc:
        return Unresolved(text, str(exc))
    if isinstance(result, Unresolved) and result.expression != text:
        return Unresolved(text, f"{result.expression}: {result.reason}")
    return result


_DEPLOYMENT_FUNCTIONS = {
    "resourcegroup": "depends on the target resource group",
    "subscription": "depends on the target subscription",
    "tenant": "depends on the tenant",
    "managementgroup": "depends on the management group",
    "deployment": "depends on the deployment",
    "environment": "depends on the cloud environment",
    "reference": "is only known after deployment",
    "uniquestring": "is a deployment-specific hash",
    "newguid": "is random",
    "utcnow": "is the deployment time",
    "pickzones": "depends on the region",
    "cidrhost": "is not evaluated by pcapflow",
    "cidrsubnet": "is not evaluated by pcapflow",
}


class _Evaluator:
    def __init__(self, scope: Scope, text: str, depth: int) -> None:
        self.scope = scope
        self.text = text
        self.depth = depth

    def run(self, node: Any) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Access):
            return self.access(node)
        return self.call(node)

    def access(self, node: Access) -> Any:
        target = self.run(node.target)
        key = node.key if isinstance(node.key, str) else self.run(node.key)
        if isinstance(target, Unresolved):
            return target
        if isinstance(key, Unresolved):
            return key
        if isinstance(target, Mapping) and isinstance(key, str):
            for k, v in target.items():
                if k.casefold() == key.casefold():
                    return v
            raise ExpressionError(f"no property {key!r}")
        if isinstance(target, list) and isinstance(key, int) and not isinstance(key, bool):
            if not 0 <= key < len(target):
                raise ExpressionError(f"index {key} is out of range")
            return target[key]
        raise ExpressionError(f"cannot index {type(target).__name__} with {key!r}")

    def call(self, node: Call) -> Any:
        self.scope.budget.spend(1)
        if node.name in _DEPLOYMENT_FUNCTIONS:
            return Unresolved(f"{node.name}()", _DEPLOYMENT_FUNCTIONS[node.name])
        if node.name == "if":  # lazy: only the chosen branch is evaluated
            if len(node.args) != 3:
                raise ExpressionError("if() takes 3 arguments")
            cond = self.run(node.args[0])
            if isinstance(cond, Unresolved):
                return cond
            return self.run(node.args[1] if cond else node.args[2])
        args = [self.run(a) for a in node.args]
        if node.name == "coalesce":
            return next((a for a in args if a is not None), None)
        special = {"parameters": self.parameter, "variables": self.variable}
        if node.name in special:
            return special[node.name](args)
        if node.name == "copyindex":
            return self.copy_index(args)
        for arg in args:
            if isinstance(arg, Unresolved):
                return arg
        function = FUNCTIONS.get(node.name)
        if function is None:
            return Unresolved(f"{node.name}()", "is not a function pcapflow evaluates")
        _check_growth(node.name, args)
        try:
            result = function(*args)
        except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError) as exc:
            raise ExpressionError(f"{node.name}() failed: {exc}") from None
        except RecursionError:
            raise ExpressionError(f"{node.name}() failed: nested too deeply") from None
        size = value_size(result)
        if size > MAX_VALUE:
            raise _too_large(f"the result of {node.name}()", size)
        self.scope.budget.spend(size)
        return result

    def parameter(self, args: list[Any]) -> Any:
        name = self._name(args, "parameters")
        cache = self.scope.resolved_params
        if name.casefold() in cache:
            return cache[name.casefold()]
        for key, value in self.scope.parameters.items():
            if key.casefold() == name.casefold():
                result = evaluate_value(value, self.scope, self.depth + 1)
                cache[name.casefold()] = result
                return result
        raise ExpressionError(f"unknown parameter {name!r}")

    def variable(self, args: list[Any]) -> Any:
        name = self._name(args, "variables")
        key = name.casefold()
        if key in self.scope.resolved_vars:
            return self.scope.resolved_vars[key]
        for var, value in self.scope.variables.items():
            if var.casefold() == key:
                if key in self.scope.resolving:
                    raise ExpressionError(f"variable {name!r} refers to itself")
                self.scope.resolving.add(key)
                try:
                    result = evaluate_value(value, self.scope.top(), self.depth + 1)
                finally:
                    self.scope.resolving.discard(key)
                self.scope.resolved_vars[key] = result
                return result
        raise ExpressionError(f"unknown variable {name!r}")

    def copy_index(self, args: list[Any]) -> Any:
        loop = ""
        offset = 0
        for arg in args:
            if isinstance(arg, str):
                loop = arg.casefold()
            elif isinstance(arg, int):
                offset = arg
        if loop not in self.scope.copy_index:
            raise ExpressionError("copyIndex() outside a copy loop")
        return self.scope.copy_index[loop] + offset

    @staticmethod
    def _name(args: list[Any], function: str) -> str:
        if len(args) != 1 or not isinstance(args[0], str):
            raise ExpressionError(f"{function}() takes one name")
        return args[0]


# ---- functions -------------------------------------------------------------------------------

_ARITHMETIC = frozenset({"add", "sub", "mul", "div", "mod"})


def _check_growth(name: str, args: list[Any]) -> None:
    """Refuse, before running it, a call whose result would be huge (range(0, 10^9), padLeft to
    a gigabyte, mul('x', 10^9), replace() that multiplies a long string)."""
    if name in _ARITHMETIC and not all(
        isinstance(a, int) and not isinstance(a, bool) for a in args
    ):
        raise ExpressionError(f"{name}() takes integers")
    size = sum(value_size(a) for a in args)
    if name == "range" and len(args) == 2 and isinstance(args[1], int):
        size = args[1]
        if not 0 <= size <= MAX_ITEMS:
            raise ExpressionError(f"range() count {size} is outside 0..{MAX_ITEMS}")
    elif name == "padleft" and len(args) >= 2 and isinstance(args[1], int):
        size = max(size, args[1])
    elif name == "replace" and len(args) == 3 and all(isinstance(a, str) for a in args):
        text, old, new = args
        size = len(text) + (text.count(old) if old else len(text) + 1) * len(new)
    if size > MAX_VALUE:
        raise _too_large(f"{name}()", size)


def _concat(*args: Any) -> Any:
    if args and all(isinstance(a, list) for a in args):
        return [item for a in args for item in a]
    return "".join(_string(a) for a in args)


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?::([^}]*))?\}")


def _format(template: str, *args: Any) -> str:
    def item(match: re.Match[str]) -> str:
        if match.group(0) in ("{{", "}}"):
            return match.group(0)[0]
        value = args[int(match.group(1))]
        spec = match.group(2)
        if spec and isinstance(value, int) and spec[:1] in "Dd" and spec[1:].isdigit():
            return str(value).zfill(int(spec[1:]))
        if spec:
            raise ValueError(f"format specifier {spec!r} is not supported")
        return _string(value)

    return _FORMAT_ITEM.sub(item, template)


def _resource_id(*args: Any) -> str:
    """``resourceId([sub], [rg], type, name1, name2...)`` -> an ID (``/providers/...`` when the
    subscription and group are not given: what a template knows)."""
    at = next((i for i, a in enumerate(args) if isinstance(a, str) and "/" in a), None)
    if at is None or at > 2:
        raise ValueError("no resource type")
    prefix_args, rtype, names = args[:at], str(args[at]), [str(n) for n in args[at + 1 :]]
    parts = rtype.split("/")
    namespace, types = parts[0], parts[1:]
    if len(types) != len(names):
        raise ValueError(f"{rtype} needs {len(types)} name(s), got {len(names)}")
    path = "/".join(f"{t}/{n}" for t, n in zip(types, names, strict=True))
    prefix = ""
    if len(prefix_args) == 2:
        prefix = f"/subscriptions/{prefix_args[0]}/resourceGroups/{prefix_args[1]}"
    elif len(prefix_args) == 1:
        prefix = f"/resourceGroups/{prefix_args[0]}"
    return f"{prefix}/providers/{namespace}/{path}"


def _subscription_resource_id(*args: Any) -> str:
    return _resource_id(*args)


def _length(value: Any) -> int:
    return len(value)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        if value.casefold() not in ("true", "false"):
            raise ValueError(f"{value!r} is not a boolean")
        return value.casefold() == "true"
    return bool(value)


def _equals(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return bool(a == b)


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return str(item).casefold() in container.casefold()
    if isinstance(container, Mapping):
        return any(str(k).casefold() == str(item).casefold() for k in container)
    return item in container


def _union(*args: Any) -> Any:
    if all(isinstance(a, Mapping) for a in args):
        out: dict[str, Any] = {}
        for a in args:
            out.update(a)
        return out
    seen: list[Any] = []
    for a in args:
        for item in a:
            if item not in seen:
                seen.append(item)
    return seen


def _create_object(*args: Any) -> dict[str, Any]:
    if len(args) % 2:
        raise ValueError("createObject() takes key/value pairs")
    return {str(args[i]): args[i + 1] for i in range(0, len(args), 2)}


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "concat": _concat,
    "format": _format,
    "resourceid": _resource_id,
    "subscriptionresourceid": _subscription_resource_id,
    "tolower": lambda s: str(s).lower(),
    "toupper": lambda s: str(s).upper(),
    "string": _string,
    "int": lambda v: int(v),
    "bool": _bool,
    "true": lambda: True,
    "false": lambda: False,
    "null": lambda: None,
    "json": lambda s: json.loads(s),
    "equals": _equals,
    "not": lambda v: not v,
    "and": lambda *v: all(v),
    "or": lambda *v: any(v),
    "greater": lambda a, b: a > b,
    "greaterorequals": lambda a, b: a >= b,
    "less": lambda a, b: a < b,
    "lessorequals": lambda a, b: a <= b,
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: int(a / b),
    "mod": lambda a, b: a % b,
    "min": lambda *v: min(v[0] if len(v) == 1 and isinstance(v[0], list) else v),
    "max": lambda *v: max(v[0] if len(v) == 1 and isinstance(v[0], list) else v),
    "length": _length,
    "empty": lambda v: v is None or len(v) == 0,
    "contains": _contains,
    "range": lambda start, count: list(range(start, start + count)),
    "first": lambda v: v[0],
    "last": lambda v: v[-1],
    "take": lambda v, n: v[:n],
    "skip": lambda v, n: v[n:],
    "createarray": lambda *v: list(v),
    "array": lambda v: v if isinstance(v, list) else [v],
    "createobject": _create_object,
    "union": _union,
    "replace": lambda s, old, new: str(s).replace(old, new),
    "substring": lambda s, start, length=None: (
        str(s)[start:] if length is None else str(s)[start : start + length]
    ),
    "split": lambda s, sep: (
        str(s).split(sep)
        if isinstance(sep, str)
        else re.split("|".join(map(re.escape, sep)), str(s))
    ),
    "trim": lambda s: str(s).strip(),
    "startswith": lambda s, p: str(s).casefold().startswith(str(p).casefold()),
    "endswith": lambda s, p: str(s).casefold().endswith(str(p).casefold()),
    "indexof": lambda s, p: str(s).casefold().find(str(p).casefold()),
    "padleft": lambda s, n, c=" ": _string(s).rjust(n, c),
    "lastindexof": lambda s, p: str(s).casefold().rfind(str(p).casefold()),
}
