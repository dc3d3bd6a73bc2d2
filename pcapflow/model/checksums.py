"""Checksum policies: which packets with a wrong TCP/UDP/ICMP checksum count in their connection.

A policy has a name (the value of the hidden ``--checksums`` option of ``flows``, ``analyze``,
``report`` and ``serve``, of the web upload's ``checksums`` field and of a batch's settings)
and stands for the ``ignore_checksums`` value of the analysis (:class:`pcapflow.flows.Params`):

* ``offload-aware`` (the default, ``None``): a wrong checksum keeps its packet out (history
  ``C``/``c``, as Zeek does) unless it is the unfinished one of checksum offload;
* ``ignore`` (``-C``, ``True``): every packet counts, whatever its checksums (``zeek -C``);
* ``verify`` (``--validate-checksums``, ``False``): every wrong checksum keeps its packet out,
  offloaded ones too (Zeek without ``-C``).
"""

from __future__ import annotations

DEFAULT_POLICY = "offload-aware"
CHECKSUM_POLICIES: dict[str, bool | None] = {"offload-aware": None, "ignore": True, "verify": False}

_NOTES: dict[bool, str] = {
    True: "checksum policy 'ignore' (-C): packets with a wrong checksum were counted in "
    "their connections",
    False: "checksum policy 'verify' (--validate-checksums): every packet with a wrong "
    "checksum, offloaded ones too, was left out of its connection (history C/c)",
}


def policy_note(ignore_checksums: bool | None) -> str | None:
    """The report's note naming a policy other than the default; None for the default."""
    return None if ignore_checksums is None else _NOTES[ignore_checksums]
