"""The one exception tree of pcapflow.

::

    PcapflowError                 every error meant for the user: one line, no traceback
     +-- CaptureError             an unreadable capture file (bad magic, truncated header)
     +-- ConfigError              a load-balancer config that cannot be loaded or is invalid
     +-- InputError               any other bad input (bad option value, unknown flow id, ...)
     +-- LabError                 the kernel lab cannot run here (not root, no netns, missing tool)

The CLI turns a :class:`PcapflowError` into ``pcapflow: error: <message>`` and exit status 2.
"""

from __future__ import annotations


class PcapflowError(Exception):
    """Base of every error pcapflow reports to its user as one line."""

    exit_code = 2


class CaptureError(PcapflowError):
    """A capture file that cannot be read; the message names the file and the problem."""


class ConfigError(PcapflowError):
    """A load-balancer configuration that cannot be loaded or is invalid."""


class InputError(PcapflowError):
    """Other bad user input."""


class LabError(PcapflowError):
    """The kernel lab cannot run on this machine (privileges, namespaces, missing tools)."""
