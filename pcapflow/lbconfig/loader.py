"""Reading configuration documents: find their format, parse them, hand them to the right loader.

Formats: ``yaml`` (pcapflow's own, also its JSON form), ``az`` (``az network lb show``/``list``),
``arm`` (ARM templates and ``az group export``), ``terraform`` (``terraform show -json``, state or
plan; azurerm, aws, google and kubernetes resources), ``aws`` (``aws elbv2 describe-*`` and
``aws ec2 describe-*`` JSON), ``gcloud`` (``gcloud compute ... --format json``), ``kubectl``
(``kubectl get ... -o json``).  The documents of one platform's command-line tools are read
together: a set describes one configuration (listeners name target groups given in another
file ...).
NIC, VM, public-IP and subnet documents (``az network nic show``/``list`` ...) are not
configurations of their own: they resolve references made by the others (``--nic``).
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcapflow.errors import ConfigError
from pcapflow.lbconfig.azure_ids import flat
from pcapflow.lbconfig.draft import Loaded, merge
from pcapflow.lbconfig.inventory import Inventory, is_inventory_document
from pcapflow.lbconfig.problems import Document
from pcapflow.lbconfig.yamlfmt import index_json_lines, load_yaml, parse

FORMATS = ("yaml", "az", "arm", "terraform", "aws", "gcloud", "kubectl")
"""The ``fmt`` / ``--lb-format`` values (``auto`` or None = detect)."""

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


@dataclass
class Parsed:
    doc: Document
    data: Any
    fmt: str  # one of FORMATS, "inventory" (NIC/VM/... JSON) or "parameters" (ARM)


Loader = Callable[[Any, Document, Inventory], Loaded]

# format -> "module:function" of its loader (imported on first use)
LOADER_FUNCTIONS: dict[str, str] = {
    "az": "pcapflow.lbconfig.azure:load_az",
    "arm": "pcapflow.lbconfig.arm:load_arm",
    "terraform": "pcapflow.lbconfig.tfproviders:load_terraform_any",
}

SetLoader = Callable[[Sequence[tuple[Any, Document]]], Loaded]

# format -> "module:function" of the loader of a SET of documents (one platform's CLI outputs,
# read together: a listener in one file names a target group in another)
SET_LOADER_FUNCTIONS: dict[str, str] = {
    "aws": "pcapflow.lbconfig.aws:load_aws",
    "gcloud": "pcapflow.lbconfig.gcp:load_gcloud",
    "kubectl": "pcapflow.lbconfig.kubernetes:load_kubectl",
}

# format -> "module:function" telling whether a parsed document is of that format
DETECTORS: dict[str, str] = {
    "aws": "pcapflow.lbconfig.aws:is_aws_document",
    "gcloud": "pcapflow.lbconfig.gcp:is_gcloud_document",
    "kubectl": "pcapflow.lbconfig.kubernetes:is_kubectl_document",
}


def _yaml_loader(data: Any, doc: Document, inventory: Inventory) -> Loaded:
    return load_yaml(data, doc)


def _function(fmt: str, spec: str) -> Any:
    module_name, _, function = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        raise ConfigError(f"{fmt} configurations cannot be loaded by this build") from None
    return getattr(module, function)


def loader_for(fmt: str) -> Loader:
    if fmt == "yaml":
        return _yaml_loader
    found: Loader = _function(fmt, LOADER_FUNCTIONS[fmt])
    return found


def set_loader_for(fmt: str) -> SetLoader:
    found: SetLoader = _function(fmt, SET_LOADER_FUNCTIONS[fmt])
    return found


# ---- reading and parsing ---------------------------------------------------------------------


def read_text(path: str) -> str:
    """The text of ``path`` ("-" = stdin) or a one-line ConfigError."""
    if path == "-":
        path = "<stdin>"
        stream = getattr(sys.stdin, "buffer", None)  # bytes: a pcap piped in by mistake ...
        raw = (
            stream.read(MAX_DOCUMENT_BYTES + 1)
            if stream is not None
            else sys.stdin.read().encode("utf-8", "surrogateescape")
        )
        if len(raw) > MAX_DOCUMENT_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_DOCUMENT_BYTES >> 20} MiB")
        return _decode(path, raw)
    p = Path(path)
    try:
        if p.is_dir():
            raise ConfigError(f"{path}: is a directory, expected a configuration file")
        if p.stat().st_size > MAX_DOCUMENT_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_DOCUMENT_BYTES >> 20} MiB")
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return _decode(path, raw)


CONFIG_SUFFIXES = (".json", ".yaml", ".yml")


def expand_directory(path: str) -> list[str]:
    """A directory given as a configuration stands for its .json/.yaml files (a set of one
    platform's CLI outputs saved together); anything else is itself."""
    if path == "-" or not Path(path).is_dir():
        return [path]
    found = sorted(
        str(p) for p in Path(path).iterdir() if p.is_file() and p.suffix.lower() in CONFIG_SUFFIXES
    )
    if not found:
        raise ConfigError(f"{path}: a directory without .json or .yaml configuration files")
    return found


def _decode(path: str, raw: bytes) -> str:
    encoding = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:  # PowerShell's `az ... > file.json` writes UTF-16 with a BOM
        return raw.decode(encoding)
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (expected YAML or JSON)") from None


def parse_text(text: str, name: str, fmt: str | None) -> Parsed:
    """Parse ``text`` and decide its format (``fmt`` forces one)."""
    fmt = _check_fmt(fmt)
    doc = Document(name)
    if not text.strip():
        raise ConfigError(f"{name}: empty document")
    try:
        data = _parse(text, doc, fmt)
    except RecursionError:
        raise ConfigError(f"{name}: nested too deeply to be a configuration") from None
    detected = detect(data)
    if fmt is None:
        if detected is None:
            raise ConfigError(f"{name}: {_unknown(data)}")
        return Parsed(doc, data, detected)
    if detected in ("inventory", "parameters") and fmt != "yaml":
        return Parsed(doc, data, detected)
    return Parsed(doc, data, fmt)


def _parse(text: str, doc: Document, fmt: str | None) -> Any:
    if text.lstrip()[:1] in "{[" and fmt != "yaml":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{doc.name}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        index_json_lines(text, doc)
        return data
    return parse(text, doc)


def _check_fmt(fmt: str | None) -> str | None:
    if fmt in (None, "", "auto"):
        return None
    if fmt not in FORMATS:
        raise ConfigError(f"unknown config format {fmt!r}: use one of auto, {', '.join(FORMATS)}")
    return fmt


def _unknown(data: Any) -> str:
    if isinstance(data, Mapping):
        # escaped: a key may hold a line break, and the error is one line
        keys = ", ".join(sorted(str(k).encode("unicode_escape").decode() for k in data)[:6])
        return (
            "cannot tell the configuration format (keys: "
            f"{keys or 'none'}); expected pcapflow YAML, az network lb show JSON, "
            "an ARM template, terraform show -json output, aws elbv2 describe-*, gcloud compute "
            "... --format json or kubectl get ... -o json output (or pass --lb-format)"
        )
    kinds = {str: "a single text value", int: "a single number", float: "a single number",
             bool: "a single true/false", list: "a list, but not of load balancers"}  # fmt: skip
    found = kinds.get(type(data), f"a {type(data).__name__}")
    return (
        f"cannot tell the configuration format: the document is {found}; expected pcapflow YAML, "
        "az network lb show JSON, an ARM template, terraform show -json output, or aws, gcloud or "
        "kubectl JSON output"
    )


# ---- format detection ------------------------------------------------------------------------


def _keys(obj: Mapping[str, Any]) -> set[str]:
    return {str(k).casefold() for k in obj}


def _is_az_lb(obj: Any) -> bool:
    if not isinstance(obj, Mapping):
        return False
    if str(obj.get("type", "")).casefold() == "microsoft.network/loadbalancers":
        return True
    keys = set(flat(obj))  # any casing: REST, older CLIs' camelCase, SDK snake_case
    return bool(keys & {"frontendipconfigurations", "loadbalancingrules", "backendaddresspools"})


def detect(data: Any) -> str | None:
    """The format of a parsed document: one of FORMATS, "inventory", or None when unknown."""
    if isinstance(data, Mapping):
        keys = _keys(data)
        if "load_balancers" in keys:
            return "yaml"
        if "deploymentparameters" in str(data.get("$schema", "")).casefold():
            return "parameters"
        if "deploymenttemplate" in str(data.get("$schema", "")).casefold():
            return "arm"
        if "resources" in keys and "$schema" in keys:
            return "arm"
        if "format_version" in keys and keys & {"values", "planned_values", "prior_state"}:
            return "terraform"
        if "loadbalancer" in keys and _is_az_lb(data.get("loadBalancer")):
            return "az"  # `az network lb create` output
        if _is_az_lb(data):
            return "az"
        if is_inventory_document(data):
            return "inventory"
        return _detect_platform(data)
    if isinstance(data, list) and data:
        if all(_is_az_lb(item) for item in data):
            return "az"
        if all(is_inventory_document(item) for item in data):
            return "inventory"
        return _detect_platform(data)
    return None


def _detect_platform(data: Any) -> str | None:
    for fmt, spec in DETECTORS.items():
        if _function(fmt, spec)(data):
            return fmt
    return None


# ---- loading ---------------------------------------------------------------------------------


def load_parsed(parsed: Sequence[Parsed], nic_parsed: Sequence[Parsed] = ()) -> Loaded:
    """Load parsed documents: inventory documents first, then every configuration."""
    inventory = Inventory()
    for item in parsed:
        if item.fmt == "parameters":
            inventory.add_template_parameters(item.data, item.doc)
    for item in [*nic_parsed, *[p for p in parsed if p.fmt == "inventory"]]:
        if item.fmt != "inventory" and detect(item.data) != "inventory":
            raise ConfigError(
                f"{item.doc.name}: not NIC/VM/public-IP JSON (expected `az network nic show` "
                "or `az network nic list` output)"
            )
        inventory.add_document(item.data, item.doc)
    configs = [p for p in parsed if p.fmt not in ("inventory", "parameters")]
    if not configs:
        names = ", ".join(p.doc.name for p in parsed)
        raise ConfigError(f"{names}: only NIC/VM documents given, no load-balancer configuration")
    parts: list[Loaded] = []
    done: set[str] = set()
    for p in configs:
        if p.fmt not in SET_LOADER_FUNCTIONS:
            parts.append(_guarded(loader_for(p.fmt), p, inventory))
        elif p.fmt not in done:  # the whole set where its first document stands
            done.add(p.fmt)
            parts.append(_guarded_set(p.fmt, [q for q in configs if q.fmt == p.fmt]))
    loaded = merge(parts)
    helpers = [*nic_parsed, *[p for p in parsed if p.fmt in ("inventory", "parameters")]]
    extra = tuple(problem for item in helpers for problem in item.doc.problems)
    return Loaded(loaded.config, loaded.origins, extra + loaded.problems)


INTERNAL_ERROR = "pcapflow could not read this document (an unexpected structure; please report)"


def _guarded(loader: Loader, parsed: Parsed, inventory: Inventory) -> Loaded:
    """Run a loader; a shape no loader anticipated still ends as one line, not a traceback."""
    try:
        return loader(parsed.data, parsed.doc, inventory)
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError) as exc:
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        raise ConfigError(f"{parsed.doc.name}: {INTERNAL_ERROR}: {detail}") from None


def _guarded_set(fmt: str, items: Sequence[Parsed]) -> Loaded:
    try:
        return set_loader_for(fmt)([(p.data, p.doc) for p in items])
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError) as exc:
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        names = ", ".join(p.doc.name for p in items)
        raise ConfigError(f"{names}: {INTERNAL_ERROR}: {detail}") from None


def load_documents(
    paths: Sequence[str], *, fmt: str | None = None, nic_files: Sequence[str] = ()
) -> Loaded:
    if isinstance(paths, str):
        paths = [paths]
    if not paths:
        raise ConfigError("no configuration file given")
    files = [f for p in paths for f in expand_directory(str(p))]
    parsed = [parse_text(read_text(f), f, fmt) for f in files]
    nics = [parse_text(read_text(str(p)), str(p), None) for p in nic_files]
    return load_parsed(parsed, nics)


def load_text_documents(text: str, *, fmt: str | None = None, name: str = "<text>") -> Loaded:
    return load_parsed([parse_text(text, name, fmt)])


def load_named_texts(items: Sequence[tuple[str, str]], *, fmt: str | None = None) -> Loaded:
    """Several documents given as (name, text), read together like files on a command line
    (one platform's CLI outputs form one configuration)."""
    if not items:
        raise ConfigError("no configuration given")
    return load_parsed([parse_text(text, name, fmt) for name, text in items])
