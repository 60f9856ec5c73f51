# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Every error: its class, and one message naming the node/peer, the field, the value, the fix."""

from __future__ import annotations

import pytest
from spec_data import key

from topology import (
    DuplicateKeyError,
    DuplicateNameError,
    InvalidCIDRError,
    InvalidEndpointError,
    InvalidFieldError,
    InvalidGranularityError,
    InvalidKeepaliveError,
    InvalidKeyError,
    InvalidPortError,
    MissingEndpointError,
    NotLeaderError,
    OverlapError,
    SubnetTooSmallError,
    TopologyError,
    UnknownNameError,
    build_topology,
)


def _node(name="n1", **fields):
    node = {
        "name": name,
        "location": "loc",
        "endpoint": "1.2.3.4:51820",
        "internal_ip": "10.240.0.1/24",
        "pod_cidr": "10.2.0.0/24",
        "public_key": key(1),
    }
    node.update(fields)
    return node


def _second(**fields):
    values = {
        "endpoint": "1.2.3.5:51820",
        "internal_ip": "10.240.0.2/24",
        "pod_cidr": "10.2.1.0/24",
        "public_key": key(2),
    }
    values.update(fields)
    return _node("n2", **values)


def _peer(**fields):
    peer = {"name": "p1", "allowed_ips": ["10.5.0.1/32"], "public_key": key(50)}
    peer.update(fields)
    return peer


@pytest.mark.parametrize(
    ("nodes", "peers", "options", "error", "match"),
    [
        pytest.param(
            [_node(pod_cidr="10.2.0/24")],
            [],
            {},
            InvalidCIDRError,
            r'node "n1": field pod_cidr has invalid value \'10.2.0/24\': .*expected a CIDR',
            id="bad pod",
        ),
        pytest.param(
            [_node(pod_cidr=None)], [], {}, InvalidCIDRError, r'node "n1": field pod_cidr .*required', id="missing pod"
        ),
        pytest.param(
            [_node(internal_ip="10.240.0.1")],
            [],
            {},
            InvalidCIDRError,
            r'node "n1": field internal_ip has invalid value \'10.240.0.1\': no prefix length',
            id="internal ip without prefix",
        ),
        pytest.param(
            [_node(internal_ip="10.240.0.1/255.255.255.0")],
            [],
            {},
            InvalidCIDRError,
            "prefix length must be a decimal number",
            id="netmask form",
        ),
        pytest.param(
            [_node(allowed_location_ips=["192.168.1.0/24", "nope"])],
            [],
            {},
            InvalidCIDRError,
            r"field allowed_location_ips has invalid value 'nope'",
            id="bad location ip",
        ),
        pytest.param(
            [_node(allowed_location_ips="192.168.1.0/24")],
            [],
            {},
            InvalidFieldError,
            "expected a list of CIDRs",
            id="location ips not a list",
        ),
        pytest.param(
            [_node(public_key="abc")],
            [],
            {},
            InvalidKeyError,
            r'node "n1": field public_key has an invalid value \(not shown, .*\): it is 3 characters long',
            id="short key",
        ),
        pytest.param([_node(public_key="A" * 43 + "=")], [], {}, InvalidKeyError, "all-zero key", id="zero key"),
        pytest.param(
            [_node(public_key="!" * 43 + "=")], [], {}, InvalidKeyError, "not standard base64", id="not base64"
        ),
        pytest.param([_node(public_key=None)], [], {}, InvalidKeyError, "public_key .*required", id="missing key"),
        pytest.param(
            [_node(), _second(public_key=key(1))],
            [],
            {},
            DuplicateKeyError,
            r'node "n2": field public_key .* which node "n1" already uses',
            id="duplicate node key",
        ),
        pytest.param(
            [_node()],
            [_peer(public_key=key(1))],
            {},
            DuplicateKeyError,
            r'peer "p1": field public_key .* which node "n1" already uses',
            id="peer reuses node key",
        ),
        pytest.param(
            [_node(), _node(endpoint="1.2.3.9:1", public_key=key(3), pod_cidr="10.2.9.0/24")],
            [],
            {},
            DuplicateNameError,
            r'node "n1": field name has a duplicate value',
            id="duplicate node",
        ),
        pytest.param(
            [_node()],
            [_peer(), _peer(public_key=key(51))],
            {},
            DuplicateNameError,
            r'peer "p1": field name has a duplicate value',
            id="duplicate peer",
        ),
        pytest.param(
            [_node(), _second(pod_cidr="10.2.0.128/25")],
            [],
            {},
            OverlapError,
            r'node "n2": field pod_cidr has the value "10.2.0.128/25", which overlaps the pod CIDR '
            r'"10.2.0.0/24" of node "n1"',
            id="pod overlap",
        ),
        pytest.param(
            [_node(pod_cidr="10.0.0.0/8"), _second(pod_cidr="10.200.0.0/24")],
            [],
            {},
            OverlapError,
            "overlaps the pod CIDR",
            id="pod nested",
        ),
        pytest.param(
            [_node(endpoint=None)],
            [],
            {},
            MissingEndpointError,
            r'node "n1" \(location "loc"\): field endpoint is missing; Kilo treats a node without an '
            "endpoint as not ready",
            id="no endpoint",
        ),
        pytest.param(
            [_node(endpoint="Bad.Example.COM:51820")],
            [],
            {},
            InvalidEndpointError,
            r"field endpoint has invalid value 'Bad.Example.COM:51820': host .* lowercase RFC 1123",
            id="uppercase dns",
        ),
        pytest.param(
            [_node(endpoint="2001:db8::1:51820")],
            [],
            {},
            InvalidEndpointError,
            r"too many colons \(an IPv6 address must be written as \[address\]:port\)",
            id="bare ipv6",
        ),
        pytest.param(
            [_node(endpoint="1.2.3.4:70000")], [], {}, InvalidEndpointError, "port 70000 is outside", id="endpoint port"
        ),
        pytest.param([_node(endpoint="1.2.3.4")], [], {}, InvalidEndpointError, "missing port", id="no port"),
        pytest.param(
            [_node()],
            [_peer(endpoint="[fe80::1%eth0]:51820")],
            {},
            InvalidEndpointError,
            r'peer "p1": field endpoint .* IPv6 zone',
            id="peer endpoint zone",
        ),
        pytest.param(
            [_node(), _second()] * 1
            + [
                _node(
                    "n3",
                    endpoint="1.2.3.6:1",
                    public_key=key(3),
                    pod_cidr="10.2.3.0/24",
                    location="other",
                    internal_ip="10.240.0.3/24",
                )
            ],
            [],
            {"subnet": "10.4.0.0/31"},
            SubnetTooSmallError,
            r'subnet "10.4.0.0/31" is too small: 2 segment\(s\) need 2 WireGuard IP\(s\) .* holds only 1',
            id="subnet too small",
        ),
        pytest.param(
            [_node()],
            [_peer(allowed_ips=["10.2.0.0/16"])],
            {},
            OverlapError,
            r'peer "p1": field allowed_ips has the value "10.2.0.0/16", which overlaps the pod CIDR '
            r'"10.2.0.0/24" of node "n1"',
            id="peer vs pod",
        ),
        pytest.param(
            [_node()],
            [_peer(allowed_ips=["10.4.0.7/32"])],
            {},
            OverlapError,
            'overlaps the WireGuard subnet "10.4.0.0/16"',
            id="peer vs subnet",
        ),
        pytest.param(
            [_node()],
            [_peer(allowed_ips=["10.240.0.0/24"])],
            {},
            OverlapError,
            'overlaps the internal IP "10.240.0.1" of node "n1"',
            id="peer vs internal ip",
        ),
        pytest.param(
            [_node()],
            [_peer(allowed_ips=["10.43.1.0/24"])],
            {"service_cidrs": ["10.43.0.0/16"]},
            OverlapError,
            'overlaps the service CIDR "10.43.0.0/16"',
            id="peer vs service",
        ),
        pytest.param(
            [_node()],
            [_peer(allowed_ips=[])],
            {},
            InvalidFieldError,
            r'peer "p1": field allowed_ips .*at least one CIDR',
            id="peer without ips",
        ),
        pytest.param(
            [_node()],
            [_peer(preshared_key="short")],
            {},
            InvalidKeyError,
            r'peer "p1": field preshared_key',
            id="bad psk",
        ),
        pytest.param(
            [_node()],
            [],
            {"granularity": "region"},
            InvalidGranularityError,
            r"option granularity: invalid value 'region': expected location, full or cross",
            id="granularity",
        ),
        pytest.param(
            [_node(persistent_keepalive=-5)],
            [],
            {},
            InvalidKeepaliveError,
            r'node "n1": field persistent_keepalive has invalid value -5: expected 0 or more seconds',
            id="negative node keepalive",
        ),
        pytest.param(
            [_node()],
            [_peer(persistent_keepalive="often")],
            {},
            InvalidKeepaliveError,
            r'peer "p1": field persistent_keepalive .*whole number',
            id="peer keepalive text",
        ),
        pytest.param(
            [_node()],
            [],
            {"persistent_keepalive": -1},
            InvalidKeepaliveError,
            "option persistent_keepalive: invalid value -1",
            id="default keepalive",
        ),
        pytest.param(
            [_node()],
            [],
            {"port": 0},
            InvalidPortError,
            "option port: invalid value 0: expected a UDP port",
            id="port 0",
        ),
        pytest.param([_node()], [], {"port": 65536}, InvalidPortError, "1-65535", id="port high"),
        pytest.param([_node()], [], {"port": True}, InvalidPortError, "option port", id="port bool"),
        pytest.param(
            [_node()], [], {"subnet": "10.4.0.0"}, InvalidCIDRError, "option subnet: invalid value", id="subnet"
        ),
        pytest.param(
            [_node()], [], {"service_cidrs": ["x"]}, InvalidCIDRError, "option service_cidrs", id="service cidr"
        ),
        pytest.param(
            [_node(leader="yes")], [], {}, InvalidFieldError, "field leader .*expected a boolean", id="leader not bool"
        ),
        pytest.param(
            [_node(colour="red")],
            [],
            {},
            InvalidFieldError,
            r'node "n1": unknown field\(s\) colour',
            id="unknown field",
        ),
        pytest.param(["n1"], [], {}, InvalidFieldError, "node #1: expected a mapping", id="not a mapping"),
        pytest.param([_node(name="")], [], {}, InvalidFieldError, "field name .*non-empty string", id="empty name"),
        pytest.param(
            [_node(discovered_endpoints={key(9): "host.example:1"})],
            [],
            {},
            InvalidEndpointError,
            "expected an IP endpoint",
            id="discovered dns",
        ),
        pytest.param(
            [_node(discovered_endpoints={"k": "1.2.3.4:1"})],
            [],
            {},
            InvalidKeyError,
            "field discovered_endpoints",
            id="discovered bad key",
        ),
    ],
)
def test_errors(nodes, peers, options, error, match):
    with pytest.raises(error, match=match) as info:
        build_topology(nodes, peers, **options)
    assert isinstance(info.value, TopologyError)
    assert isinstance(info.value, ValueError)


def test_error_attributes():
    with pytest.raises(TopologyError) as info:
        build_topology([_node(pod_cidr="x")])
    assert (info.value.kind, info.value.name, info.value.field) == ("node", "n1", "pod_cidr")


def test_view_errors():
    topo = build_topology([_node(), _second()], [_peer()])
    with pytest.raises(NotLeaderError, match='^Node "n2" is not a leader node$'):
        topo.node_conf("n2")
    with pytest.raises(NotLeaderError):
        topo.node_as_peer("n2")
    with pytest.raises(UnknownNameError, match='did not find any node named "x" in the cluster'):
        topo.node_conf("x")
    with pytest.raises(UnknownNameError, match='did not find any peer named "x" in the cluster'):
        topo.peer_conf("x")
    with pytest.raises(InvalidFieldError, match="option output: invalid value 'toml'"):
        topo.node_as_peer("n1", output="toml")
    with pytest.raises(InvalidCIDRError, match="option allowed_ips: invalid value 'x'"):
        topo.node_as_peer("n1", ["x"])
    with pytest.raises(InvalidFieldError, match="option encapsulate"):
        topo.routes("n1", encapsulate="sometimes")
    with pytest.raises(InvalidFieldError, match="option compatibility"):
        topo.routes("n1", compatibility="calico")
    with pytest.raises(InvalidFieldError, match="field mtu"):
        topo.peer_client_conf("p1", mtu=10)
    with pytest.raises(InvalidCIDRError, match="field address"):
        topo.peer_client_conf("p1", address="10.5.0.1")


def test_duplicate_keys_allowed_on_request():
    topo = build_topology([_node(), _second(public_key=key(1))], allow_duplicate_keys=True)
    assert topo.node_names == ("n1", "n2")
