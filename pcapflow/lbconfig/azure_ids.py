"""Azure resource shapes: case-insensitive keys, nested ``properties``, resource IDs.

The same resource comes flattened (``az network ... show``), nested under ``properties`` (REST,
ARM, ``az group export``) and with three key casings: the REST casing of the current CLI
(``enableFloatingIP``), the camelCase of older CLIs (``enableFloatingIp``, with explicit nulls) and
the snake_case of the Python SDK's ``as_dict()`` and Ansible (``enable_floating_ip``).
:func:`fold_key` makes them one key; :func:`flat` and :func:`get` read all of them alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def fold_key(key: object) -> str:
    """One spelling for every casing of a key: ``privateIPAddress``, ``privateIpAddress`` and
    ``private_ip_address`` all become ``privateipaddress``."""
    return str(key).casefold().replace("_", "")


def flat(obj: Any) -> dict[str, Any]:
    """``obj`` with its ``properties`` merged in, keys folded (:func:`fold_key`); {} for a
    non-mapping."""
    if not isinstance(obj, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if fold_key(key) == "properties" and isinstance(value, Mapping):
            continue
        if out.get(fold_key(key)) is None:  # an explicit null never hides a value
            out[fold_key(key)] = value
    props = next(
        (v for k, v in obj.items() if fold_key(k) == "properties" and isinstance(v, Mapping)),
        None,
    )
    if props is not None:
        for key, value in props.items():
            out.setdefault(fold_key(key), value)
    return out


def get(obj: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    """The first present of ``names`` in a :func:`flat` mapping (names given in any casing)."""
    for name in names:
        key = fold_key(name)
        if key in obj and obj[key] is not None:
            return obj[key]
    return default


def ref_id(value: Any) -> Any:
    """The ``id`` of a sub-resource reference ``{"id": ...}`` (or the value itself)."""
    if isinstance(value, Mapping):
        return get(flat(value), "id")
    return value


def id_key(resource_id: str) -> str:
    """A comparison key: case-folded, without trailing slash (IDs are case-insensitive)."""
    return resource_id.strip().rstrip("/").casefold()


def id_tail(resource_id: str) -> str:
    """The part from ``providers/`` on, case-folded: what a template's resourceId() can know."""
    key = id_key(resource_id)
    at = key.find("/providers/")
    return key[at + 1 :] if at >= 0 else key.lstrip("/")


ID_SEGMENT_TYPES = frozenset(
    {
        "subscriptions",
        "resourcegroups",
        "loadbalancers",
        "frontendipconfigurations",
        "backendaddresspools",
        "loadbalancingrules",
        "probes",
        "inboundnatrules",
        "inboundnatpools",
        "outboundrules",
        "networkinterfaces",
        "ipconfigurations",
        "virtualmachines",
        "virtualmachinescalesets",
        "virtualnetworks",
        "subnets",
        "publicipaddresses",
    }
)


def id_segments(resource_id: str) -> dict[str, str]:
    """``{"resourcegroups": "rg", "loadbalancers": "ilb", "probes": "p", ...}`` (keys case-folded).

    Values keep their case.  For repeated segment types the last wins.
    """
    parts = [p for p in resource_id.strip().split("/") if p]
    out: dict[str, str] = {}
    i = 0
    while i + 1 < len(parts):
        key = parts[i].casefold()
        if key in ID_SEGMENT_TYPES:
            out[key] = parts[i + 1]
            i += 2
        else:
            i += 1  # "providers", the namespace, or a malformed part
    return out


def id_name(resource_id: str) -> str:
    """The last segment of a resource ID (the child's name)."""
    return resource_id.strip().rstrip("/").rsplit("/", 1)[-1]


def id_parent_tail(resource_id: str) -> str:
    """:func:`id_tail` of the parent resource (drop the last ``type/name`` pair)."""
    tail = id_tail(resource_id)
    return tail.rsplit("/", 2)[0] if tail.count("/") >= 4 else tail


class IdIndex:
    """Values keyed by resource ID; lookups fall back to the ``providers/...`` tail when unique.

    Templates only know the tail (``resourceId()`` without subscription and group), exports and
    ``az`` output know the full ID; both must meet.
    """

    def __init__(self) -> None:
        self._full: dict[str, Any] = {}
        self._tail: dict[str, list[Any]] = {}

    def put(self, resource_id: str, value: Any) -> None:
        """Store ``value``; a value replaced under its key is replaced under its tail too."""
        key = id_key(resource_id)
        old = self._full.get(key)
        self._full[key] = value
        bucket = self._tail.setdefault(id_tail(resource_id), [])
        if old is not None:
            bucket[:] = [value if v is old else v for v in bucket]
        if not any(v is value for v in bucket):
            bucket.append(value)

    def find(self, resource_id: str) -> Any:
        hit = self._full.get(id_key(resource_id))
        if hit is not None:
            return hit
        hits = self._tail.get(id_tail(resource_id), [])
        return hits[0] if len(hits) == 1 else None

    def values(self) -> list[Any]:
        return list(self._full.values())

    def __len__(self) -> int:
        return len(self._full)
