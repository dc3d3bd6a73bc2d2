"""The pyshark/tshark capture backend (``--engine tshark``). Not implemented yet."""

from __future__ import annotations
