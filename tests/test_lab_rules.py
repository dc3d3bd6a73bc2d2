"""nftables rulesets, topology plans, conntrack parsing and generated files of the lab (pure)."""

from __future__ import annotations

import json
from pathlib import Path

import dpkt
import pytest
import yaml

from pcapflow.errors import InputError
from pcapflow.lab import conntrack, lbfiles, nft, topology
from pcapflow.lab.nginx import nginx_conf
from pcapflow.lab.pcapng import pcap_to_pcapng
from pcapflow.lab.scenarios import SCENARIOS, Vm, get_scenario

HAIRPIN = SCENARIOS["hairpin-two-backends"]
NETNS = {n: f"pfl-test-{n}" for n in ("host", "web01", "web02", "client", "nva01", "web1", "web2")}


# ---- nftables -----------------------------------------------------------------------------------
def test_the_member_is_picked_at_random_only_while_the_ct_mark_is_unset() -> None:
    rules = nft.ruleset(HAIRPIN)
    assert "ct state new ct mark 0 ip daddr 10.2.1.100 tcp dport 80 jump pick" in rules
    assert "ct mark set numgen random mod 2 map { 0 : 1, 1 : 2 }" in rules


def test_dnat_maps_each_mark_to_its_member_without_snat() -> None:
    rules = nft.ruleset(HAIRPIN)
    assert "ct mark 1 ip daddr 10.2.1.100 tcp dport 80 dnat ip to 10.2.1.4:80" in rules
    assert "ct mark 2 ip daddr 10.2.1.100 tcp dport 80 dnat ip to 10.2.1.6:80" in rules
    assert "snat" not in rules and "masquerade" not in rules


def test_every_port_drops_sources_its_nic_does_not_own() -> None:
    rules = nft.ruleset(HAIRPIN)
    assert 'iifname "web01-eth0" ip saddr != { 10.2.1.4 } drop' in rules
    assert 'iifname "client-eth0" ip saddr != { 192.168.2.1 } drop' in rules


def test_floating_ip_keeps_the_destination_and_lets_members_answer_from_the_vip() -> None:
    scenario = SCENARIOS["loopback-vip-floating-ip"]
    rules = nft.ruleset(scenario)
    assert " dnat ip" not in rules
    assert "meta mark set ct mark" in rules
    assert 'iifname "web01-eth0" ip saddr != { 10.2.1.4, 10.2.1.100 } drop' in rules
    routes = [str(c) for c in topology.floating_routes(scenario)]
    assert "[host] ip rule add pref 101 fwmark 1 lookup 101" in routes
    assert "[host] ip route add 10.2.1.100/32 via 10.2.1.6 dev web02-eth0 table 102" in routes


def test_no_floating_routes_without_floating_ip() -> None:
    assert list(topology.floating_routes(HAIRPIN)) == []


@pytest.mark.parametrize(
    ("healthy", "expected"),
    [
        ([], "drop"),
        (["10.2.1.6"], "ct mark set 2"),
        (["10.2.1.4", "10.2.1.6"], "ct mark set numgen random mod 2 map { 0 : 1, 1 : 2 }"),
    ],
)
def test_only_healthy_members_are_picked(healthy: list[str], expected: str) -> None:
    assert nft.pick_rule(HAIRPIN, healthy) == expected


def test_a_health_update_rewrites_the_pick_chain_and_the_healthy_set_atomically() -> None:
    script = nft.health_update(HAIRPIN, ["10.2.1.6"])
    assert script.splitlines() == [
        "flush chain inet pfl_lab pick",
        "add rule inet pfl_lab pick ct mark set 2",
        "flush set inet pfl_lab healthy",
        "add element inet pfl_lab healthy { 10.2.1.6 }",
    ]


def test_ipv6_frontends_dnat_with_bracketed_members_and_no_ipv4_set() -> None:
    rules = nft.ruleset(SCENARIOS["ipv6-frontend"])
    assert "ct mark 1 ip6 daddr fd00:2:1::100 tcp dport 80 dnat ip6 to [fd00:2:1::4]:80" in rules
    assert "set healthy" not in rules


def test_nsg_denies_are_dropped_on_the_way_to_every_member() -> None:
    rules = nft.ruleset(SCENARIOS["mixed"])
    assert 'oifname "web01-eth0" ip saddr 192.168.2.0/24 tcp dport 443 drop' in rules
    assert 'oifname "web02-eth0" ip saddr 192.168.2.0/24 tcp dport 443 drop' in rules


def test_udp_rules_match_udp() -> None:
    rules = nft.ruleset(SCENARIOS["udp-service"])
    assert "ip daddr 10.2.1.100 udp dport 5000 dnat ip to 10.2.1.4:5000" in rules


# ---- topology -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_link_is_created_inside_lab_namespaces(name: str) -> None:
    cmds = topology.plan(SCENARIOS[name], NETNS)
    links = [c for c in cmds if c.argv[:3] == ("ip", "link", "add")]
    assert links
    for cmd in links:
        assert cmd.ns == "host"  # run inside the host namespace: one end is born there
        if "netns" in cmd.argv:  # the other end is born inside a VM namespace of the lab
            assert cmd.argv[cmd.argv.index("netns") + 1].startswith("pfl-")
    assert all(c.argv[0] in ("ip", "sysctl") for c in cmds)


def test_host_ports_answer_arp_at_once_with_the_azure_host_mac() -> None:
    cmds = [str(c) for c in topology.plan(HAIRPIN, NETNS)]
    assert "[host] sysctl -qw net.ipv4.neigh.web01-eth0.proxy_delay=0" in cmds
    assert "[host] sysctl -qw net.ipv4.conf.web01-eth0.proxy_arp=1" in cmds
    assert "[host] ip link set web01-eth0 address 12:34:56:78:9a:bc" in cmds
    assert "[web01] ip route add default via 10.2.1.1 dev eth0" in cmds


def test_guests_keep_linux_defaults_that_make_the_hairpin_fail() -> None:
    cmds = [str(c) for c in topology.plan(HAIRPIN, NETNS)]
    assert "[web01] sysctl -qw net.ipv4.conf.all.accept_local=0" in cmds
    assert "[web01] sysctl -qw net.ipv4.ip_forward=0" in cmds


def test_guest_setup_allows_only_ip_and_sysctl() -> None:
    vm = Vm("web01", (), setup=("rm -rf /tmp/x",))
    with pytest.raises(InputError, match="not allowed"):
        list(topology.guest_setup(vm))


def test_interface_names_fit_the_kernel_limit() -> None:
    with pytest.raises(InputError, match="longer than 15"):
        topology.port_name("a-very-long-vm-name", "eth0")


# ---- conntrack ----------------------------------------------------------------------------------
LISTING = """\
ipv4     2 tcp      6 117 TIME_WAIT src=192.168.2.1 dst=10.2.1.100 sport=40001 dport=80 \
src=10.2.1.6 dst=192.168.2.1 sport=80 dport=40001 [ASSURED] mark=2 use=1
ipv4     2 udp      17 28 src=10.2.1.4 dst=10.2.1.100 sport=41002 dport=5000 [UNREPLIED] \
src=10.2.1.4 dst=10.2.1.4 sport=5000 dport=41002 mark=1 use=1
    [NEW] ipv6     10 tcp      6 120 SYN_SENT src=fd00:2:1::4 dst=fd00:2:1::100 sport=41001 \
dport=80 [UNREPLIED] src=fd00:2:1:0::6 dst=fd00:2:1::4 sport=80 dport=41001 mark=2
conntrack v1.4.8 (conntrack-tools): 3 flow entries have been shown.
"""


def test_conntrack_listing_and_events_parse_into_entries() -> None:
    entries = conntrack.parse(LISTING)
    assert [e.proto for e in entries] == ["tcp", "udp", "tcp"]
    assert entries[0].key == ("tcp", "192.168.2.1", 40001, "10.2.1.100", 80)
    assert (entries[0].reply_src, entries[0].mark, entries[0].state) == ("10.2.1.6", 2, "TIME_WAIT")
    assert entries[1].state == ""
    assert entries[2].reply_src == "fd00:2:1::6"  # canonical text
    assert entries[2].state == "SYN_SENT"


def test_the_chosen_member_comes_from_the_mark_else_the_reply_source() -> None:
    marks = {"10.2.1.4": 1, "10.2.1.6": 2}
    entry = conntrack.parse(LISTING)[0]
    assert conntrack.chosen_member(entry, marks) == "10.2.1.6"
    assert conntrack.chosen_member(entry, {}) == "10.2.1.6"
    assert conntrack.chosen_member(None, marks) is None


def test_garbage_lines_are_ignored() -> None:
    assert conntrack.parse("tcp 6 garbage\nnothing here\n") == []


# ---- generated files ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_lb_yaml_loads_with_pcapflows_own_loader(name: str) -> None:
    from pcapflow.lbconfig import load_text

    scenario = SCENARIOS[name]
    cfg = load_text(lbfiles.to_pcapflow_yaml(scenario), fmt="yaml", name="lb.yaml")
    lb = cfg.load_balancers[0]
    assert lb.frontends[0].address == scenario.lb.vip
    assert lb.pools[0].addresses == scenario.lb.members
    assert [r.floating_ip for r in lb.rules] == [r.floating_ip for r in scenario.lb.rules]
    assert {m.os for m in lb.pools[0].members} == {"linux"}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_az_json_has_the_az_network_lb_show_shape(name: str) -> None:
    scenario = SCENARIOS[name]
    doc = json.loads(lbfiles.to_az_json(scenario))
    assert doc["type"] == "Microsoft.Network/loadBalancers"
    assert doc["frontendIPConfigurations"][0]["privateIPAddress"] == scenario.lb.vip
    pool = doc["backendAddressPools"][0]["loadBalancerBackendAddresses"]
    assert [a["ipAddress"] for a in pool] == list(scenario.lb.members)
    rules = doc["loadBalancingRules"]
    assert [r["enableFloatingIP"] for r in rules] == [r.floating_ip for r in scenario.lb.rules]
    assert {r["protocol"] for r in rules} <= {"Tcp", "Udp"}


def test_yaml_names_the_vm_and_nic_of_each_member() -> None:
    config = lbfiles.pcapflow_config(SCENARIOS["probe-asymmetric"])
    members = config["load_balancers"][0]["pools"][0]["members"]
    assert members[0] == {"address": "10.2.1.5", "vm": "web01", "nic": "web01-nic2", "os": "linux"}


def test_nginx_proxies_to_every_upstream() -> None:
    conf = nginx_conf(["10.2.1.4", "fd00::6"], Path("/tmp/pfl-x"))
    assert "server 10.2.1.4:80;" in conf and "server [fd00::6]:80;" in conf
    assert "proxy_pass http://backend;" in conf


def test_pcap_to_pcapng_keeps_every_frame_and_names_the_interface(tmp_path: Path) -> None:
    src, dst = tmp_path / "a.pcap", tmp_path / "a.pcapng"
    frames = [(1.5, b"\x00" * 60), (2.25, b"\x01" * 74)]
    with src.open("wb") as f:
        writer = dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_EN10MB)
        for ts, frame in frames:
            writer.writepkt(frame, ts=ts)
    assert pcap_to_pcapng(src, dst, if_name="eth0", description="web01 eth0") == 2
    with dst.open("rb") as f:
        reader = dpkt.pcapng.Reader(f)
        names = [o.data for o in reader.idb.opts if o.code == dpkt.pcapng.PCAPNG_OPT_IF_NAME]
        assert names == [b"eth0"]
        assert [(round(ts, 6), bytes(buf)) for ts, buf in reader] == frames


def test_remediated_scenarios_generate_the_floating_ip_option() -> None:
    fixed = get_scenario("single-backend", "loopback-vip-floating-ip")
    assert json.loads(lbfiles.to_az_json(fixed))["loadBalancingRules"][0]["enableFloatingIP"]


def test_a_packet_of_a_forgotten_flow_is_dropped_not_balanced_again() -> None:
    """After the idle timeout the host's conntrack no longer knows the flow: a mid-stream
    packet (no SYN) is new to it and must be dropped, not sent to a member (no TCP reset)."""
    text = nft.ruleset(SCENARIOS["idle-timeout"])
    drop = "ct state new ip daddr 10.2.1.100 tcp dport 7 tcp flags & (syn | ack) != syn drop"
    assert drop in text
    assert text.index(drop) < text.index("jump pick")
    assert "tcp flags" not in nft.ruleset(SCENARIOS["udp-service"])


def test_the_balancers_conntrack_forgets_flows_after_the_rules_idle_timeout() -> None:
    assert nft.conntrack_sysctls(SCENARIOS["idle-timeout"]) == [
        "net.netfilter.nf_conntrack_tcp_timeout_established=60"
    ]
    assert nft.conntrack_sysctls(SCENARIOS["mixed"]) == [
        "net.netfilter.nf_conntrack_tcp_timeout_established=240"
    ]
    config = yaml.safe_load(lbfiles.to_pcapflow_yaml(SCENARIOS["idle-timeout"]))
    assert config["load_balancers"][0]["rules"][0]["idle_timeout"] == 1
    az = json.loads(lbfiles.to_az_json(SCENARIOS["idle-timeout"]))
    assert az["loadBalancingRules"][0]["idleTimeoutInMinutes"] == 1
