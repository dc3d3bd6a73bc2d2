"""Which capture interfaces are a host's loopback (S3: a call served locally over lo)."""

from __future__ import annotations

import pytest

from pcapflow.model.capture import CaptureInfo, Interface
from pcapflow.reconcile.hosts import loopback_interfaces, point_iface


def info(*ifaces: Interface) -> CaptureInfo:
    return CaptureInfo(0, "x.pcapng", "pcapng", ifaces, 0, 0, 0, None, None)


@pytest.mark.parametrize(
    ("point", "iface"),
    [("web01 lo", "lo"), ("web01-lo", "lo"), ("web01-eth0", "eth0"), ("web01", None), (None, None)],
)
def test_interface_part_of_a_capture_point(point: str | None, iface: str | None) -> None:
    assert point_iface(point) == iface


def test_pcapng_interface_names_say_which_is_loopback() -> None:
    found = loopback_interfaces(info(Interface(0, 1, "eth0"), Interface(1, 1, "lo")), None)
    assert found == {1}


@pytest.mark.parametrize("name", ["lo", "lo0", "\\Device\\NPF_Loopback", "Npcap Loopback Adapter"])
def test_loopback_interface_names_of_linux_bsd_and_windows(name: str) -> None:
    assert loopback_interfaces(info(Interface(0, 1, name)), None) == {0}
    assert loopback_interfaces(info(Interface(0, 1, "long0")), None) == frozenset()


def test_bsd_loopback_link_type_is_loopback() -> None:
    assert loopback_interfaces(info(Interface(0, 0, None)), "web01") == {0}


def test_a_single_interface_pcap_named_lo_by_its_point_is_loopback() -> None:
    assert loopback_interfaces(info(Interface(0, 1, None)), "web01-lo") == {0}
    assert loopback_interfaces(info(Interface(0, 1, None)), "web01-eth0") == frozenset()


def test_the_point_name_does_not_make_every_interface_of_a_multi_interface_file_loopback() -> None:
    two = info(Interface(0, 1, "eth0"), Interface(1, 1, "eth1"))
    assert loopback_interfaces(two, "web01 lo") == frozenset()
