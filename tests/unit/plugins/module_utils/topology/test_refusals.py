# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Input Kilo accepts but that breaks routing is refused; doubtful input warns; no key in a message.

The cases and the decisions are listed in docs/deviations.md ("Refused because it breaks routing").
"""

from __future__ import annotations

import pytest
from spec_data import key

from topology import (
    InvalidCIDRError,
    InvalidKeepaliveError,
    InvalidKeyError,
    OverlapError,
    SubnetTooSmallError,
    TopologyError,
    build_topology,
)
from topology.errors import AddressFamilyError


def _node(name, number, **fields):
    node = {
        "name": name,
        "location": "loc",
        "endpoint": f"1.2.3.{number}:51820",
        "internal_ip": f"10.240.0.{number}/24",
        "pod_cidr": f"10.2.{number}.0/24",
        "public_key": key(number),
    }
    node.update(fields)
    return node


def _peer(name, number, *allowed, **fields):
    peer = {"name": name, "allowed_ips": list(allowed), "public_key": key(100 + number)}
    peer.update(fields)
    return peer


_N1 = _node("n1", 1)
_N2 = _node("n2", 2)


@pytest.mark.parametrize(
    ("nodes", "peers", "options", "error", "match"),
    [
        pytest.param(
            [_N1, _node("n2", 2, pod_cidr="10.4.7.0/24")],
            [],
            {},
            OverlapError,
            r'node "n2": field pod_cidr has the value "10.4.7.0/24", which overlaps the WireGuard subnet '
            r'"10.4.0.0/16": .*expected a pod CIDR outside the WireGuard subnet',
            id="pod cidr inside the WireGuard subnet",
        ),
        pytest.param(
            [_N1, _node("n2", 2, location="other", internal_ip="10.2.1.7/24")],
            [],
            {},
            OverlapError,
            r'node "n2": field internal_ip has the value "10.2.1.7/24", which is inside the pod CIDR "10.2.1.0/24" '
            r'of node "n1": .*expected internal IPs outside every pod CIDR',
            id="internal ip inside another node's pod cidr",
        ),
        pytest.param(
            [_N1, _node("n2", 2, location="other", internal_ip="10.240.0.1/24")],
            [],
            {},
            OverlapError,
            r'node "n2": field internal_ip has the value "10.240.0.1/24", whose address node "n1" also has: '
            r".*expected every node to have its own internal IP",
            id="two nodes with one internal ip",
        ),
        pytest.param(
            [_node("n1", 1, internal_ip="10.0.0.0/24")],
            [],
            {},
            InvalidCIDRError,
            r"node \"n1\": field internal_ip has invalid value '10.0.0.0/24': 10.0.0.0 is the network address of "
            r"10.0.0.0/24, not a host address; expected .* such as 10.0.0.1/24",
            id="internal ip is the network address",
        ),
        pytest.param(
            [_node("n1", 1, internal_ip="10.0.0.255/24")],
            [],
            {},
            InvalidCIDRError,
            r"'10.0.0.255/24': 10.0.0.255 is the broadcast address of 10.0.0.0/24",
            id="internal ip is the broadcast address",
        ),
        pytest.param(
            [_N1, _node("n2", 2, pod_cidr="fd00:2::/64")],
            [],
            {},
            AddressFamilyError,
            r"node \"n2\": field pod_cidr has invalid value 'fd00:2::/64': an IPv6 pod CIDR in an IPv4 mesh "
            r'\(WireGuard subnet "10.4.0.0/16"\)',
            id="ipv6 pod cidr in an ipv4 mesh",
        ),
        pytest.param(
            [_N1, _node("n2", 2, location="other", internal_ip="fd00::2/64")],
            [],
            {},
            AddressFamilyError,
            r"node \"n2\": field internal_ip has invalid value 'fd00::2/64': an IPv6 internal IP in an IPv4 mesh",
            id="ipv6 internal ip in an ipv4 mesh",
        ),
        pytest.param(
            [_N1],
            [],
            {"subnet": "fd00:4::/64"},
            AddressFamilyError,
            r"node \"n1\": field pod_cidr has invalid value '10.2.1.0/24': an IPv4 pod CIDR in an IPv6 mesh",
            id="ipv4 pod cidr in an ipv6 mesh",
        ),
        pytest.param(
            [_node("n1", 1, persistent_keepalive=65536)],
            [],
            {},
            InvalidKeepaliveError,
            r"node \"n1\": field persistent_keepalive has invalid value 65536: expected at most 65535 seconds",
            id="node keepalive above 65535",
        ),
        pytest.param(
            [_N1],
            [_peer("p1", 1, "10.5.0.1/32", persistent_keepalive="100000")],
            {},
            InvalidKeepaliveError,
            r"peer \"p1\": field persistent_keepalive has invalid value '100000': expected at most 65535",
            id="peer keepalive above 65535",
        ),
        pytest.param(
            [_N1],
            [],
            {"persistent_keepalive": 70000},
            InvalidKeepaliveError,
            r"option persistent_keepalive: invalid value 70000: expected at most 65535",
            id="default keepalive above 65535",
        ),
        pytest.param(
            [_N1, _node("n2", 2, location="b"), _node("n3", 3, location="c")],
            [],
            {"subnet": "10.4.0.0/30"},
            SubnetTooSmallError,
            r'option subnet: the WireGuard subnet "10.4.0.0/30" is too small: 3 segment\(s\) need 3 WireGuard '
            r"IP\(s\) .* holds only 2 besides its broadcast address 10.4.0.3",
            id="broadcast address as a leader's wireguard ip",
        ),
        pytest.param(
            [_N1],
            [_peer("p1", 1, "10.5.0.1/32"), _peer("p2", 2, "10.5.0.1/32")],
            {},
            OverlapError,
            r'peer "p2": field allowed_ips has the value "10.5.0.1/32", which peer "p1" also claims '
            r'\("10.5.0.1/32"\): .*expected every peer to have its own allowed IPs',
            id="two peers with one allowed ip",
        ),
        pytest.param(
            [_N1],
            [_peer("p1", 1, "10.5.0.1/24"), _peer("p2", 2, "10.5.9.0/32", "10.5.0.2/24")],
            {},
            OverlapError,
            r'peer "p2": field allowed_ips has the value "10.5.0.2/24", which peer "p1" also claims '
            r'\("10.5.0.1/24"\)',
            id="two peers with one allowed range written differently",
        ),
    ],
)
def test_refused(nodes, peers, options, error, match):
    with pytest.raises(error, match=match) as info:
        build_topology(nodes, peers, **options)
    assert isinstance(info.value, TopologyError)


@pytest.mark.parametrize(
    ("nodes", "options"),
    [
        pytest.param([_node("n1", 1, internal_ip="10.0.0.0/31")], {}, id="a /31 has no network address"),
        pytest.param([_node("n1", 1, internal_ip="10.0.0.7/32")], {}, id="a /32 internal ip"),
        pytest.param(
            [_node("n1", 1, pod_cidr="fd00:2:1::/64", internal_ip="fd00::ffff/112")],
            {"subnet": "fd00:4::/64"},
            id="ipv6 has no broadcast address",
        ),
        pytest.param([_N1, _N2], {}, id="two nodes of one location"),
        pytest.param([_N1, _node("n2", 2, location="b")], {"subnet": "10.4.0.0/30"}, id="a /30 holds two"),
        pytest.param([_N1], {"subnet": "10.4.0.0/31"}, id="a /31 has no broadcast address"),
        pytest.param([_N1, _node("n2", 2, location="b")], {"persistent_keepalive": 65535}, id="keepalive 65535"),
        pytest.param(
            [_node("n1", 1, pod_cidr="fd00:2:1::/64", internal_ip="fd00::1/64", endpoint="[2001:db8::1]:51820")],
            {"subnet": "fd00:4::/64"},
            id="an ipv6 mesh",
        ),
    ],
)
def test_accepted(nodes, options):
    topo = build_topology(nodes, [], **options)
    assert topo.warnings == ()


def test_overlapping_peer_ranges_still_accepted():
    """A narrower range inside another peer's range is routed by longest prefix: no conflict."""
    topo = build_topology([_N1], [_peer("site", 1, "10.5.0.0/24"), _peer("laptop", 2, "10.5.0.7/32")])
    assert [peer.allowed_ips for peer in topo.peers] == [("10.5.0.7/32",), ("10.5.0.0/24",)]
    assert topo.warnings == ()


def test_kilo_compatible_accepts_with_a_warning():
    nodes = [_N1, _node("n2", 2, location="other", internal_ip="10.240.0.1/24")]
    peers = [_peer("p1", 1, "10.5.0.1/32"), _peer("p2", 2, "10.5.0.1/32")]
    topo = build_topology(nodes, peers, kilo_compatible=True)
    assert [peer.allowed_ips for peer in topo.peers] == [("10.5.0.1/32",), ()]  # Kilo's textual de-dup
    assert len(topo.warnings) == 2
    assert topo.warnings[0].startswith('node "n2": field internal_ip has the value "10.240.0.1/24", whose address')
    assert topo.warnings[1].startswith('peer "p2": field allowed_ips has the value "10.5.0.1/32", which peer "p1"')
    assert all(text.endswith("(accepted for Kilo compatibility)") for text in topo.warnings)


# ---------------------------------------------------------------------------------------------
# warnings
# ---------------------------------------------------------------------------------------------
def test_warning_service_cidr_overlaps_pod_cidrs():
    topo = build_topology([_N1, _N2], service_cidrs=["10.2.0.0/16"])
    assert topo.warnings == (
        'option service_cidrs: the service CIDR "10.2.0.0/16" overlaps the pod CIDR "10.2.1.0/24" of node "n1": '
        "service and pod addresses are routed differently; expected disjoint ranges",
    )


def test_warning_one_node_without_location():
    topo = build_topology([_N1, _N2, _node("n3", 3, location="")])
    assert topo.warnings == (
        'node "n3": field location is empty while every other node has one: it forms a location of its own '
        "(the default location); set its location (kilo_location) if that is not intended",
    )


def test_warning_locations_differ_only_in_case():
    topo = build_topology([_node("n1", 1, location="DC1"), _node("n2", 2, location="dc1"), _node("n3", 3)])
    assert len(topo.segments) == 3
    assert topo.warnings == (
        'field location: the locations "DC1", "dc1" differ only in case and are different locations (one '
        "leader and one WireGuard IP each); use one spelling if they are meant to be one location",
    )


def test_no_warning_without_locations_or_with_several_missing():
    assert build_topology([_node("n1", 1, location=""), _node("n2", 2, location="")]).warnings == ()
    assert build_topology([_N1, _node("n2", 2, location=""), _node("n3", 3, location="")]).warnings == ()


def test_warnings_do_not_change_the_result():
    plain = build_topology([_N1, _N2])
    warned = build_topology([_N1, _N2], service_cidrs=["10.2.0.0/16"])
    assert warned.warnings
    assert warned.node_conf("n1") == plain.node_conf("n1")


# ---------------------------------------------------------------------------------------------
# granularity typo and key values
# ---------------------------------------------------------------------------------------------
def test_granularity_typo_lists_the_valid_values():
    with pytest.raises(TopologyError, match=r"invalid value 'locaton': expected location, full or cross"):
        build_topology([_N1], granularity="locaton")


_SECRET = "c2VjcmV0LXByZXNoYXJlZC1rZXktdmFsdWUtMTIzNDU2"  # 44 characters, decodes to 33 bytes


@pytest.mark.parametrize(
    ("nodes", "peers", "field"),
    [
        pytest.param([_N1], [_peer("p1", 1, "10.5.0.1/32", preshared_key=_SECRET)], "preshared_key", id="psk"),
        pytest.param([_N1], [_peer("p1", 1, "10.5.0.1/32", preshared_key=_SECRET[:-3])], "preshared_key", id="short"),
        pytest.param([_node("n1", 1, public_key=_SECRET)], [], "public_key", id="node key"),
        pytest.param([_N1], [_peer("p1", 1, "10.5.0.1/32", public_key=_SECRET)], "public_key", id="peer key"),
        pytest.param(
            [_node("n1", 1, discovered_endpoints={_SECRET: "1.2.3.4:1"})], [], "discovered_endpoints", id="discovered"
        ),
        pytest.param(
            [_node("n1", 1, discovered_endpoints=_SECRET)], [], "discovered_endpoints", id="discovered not a mapping"
        ),
        pytest.param([_N1, _node("n2", 2, public_key=key(1))], [], "public_key", id="duplicate key"),
    ],
)
def test_key_values_never_in_messages(nodes, peers, field):
    with pytest.raises(TopologyError) as info:
        build_topology(nodes, peers)
    message = str(info.value)
    assert info.value.field == field
    assert f"field {field}" in message
    for secret in (_SECRET, _SECRET[:-3], key(1)):
        assert secret not in message
        assert secret[:20] not in message


def test_invalid_preshared_key_is_not_called_a_public_key():
    with pytest.raises(InvalidKeyError) as info:
        build_topology([_N1], [_peer("p1", 1, "10.5.0.1/32", preshared_key="short")])
    assert "preshared key" in str(info.value)
    assert "public key" not in str(info.value)
