# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""One table per rule of docs/kilo/topology.md: leader choice, peer de-dup, location-IP filter, allocator, endpoints,
keepalives, discovered endpoints, S2 edge cases, cross granularity, rendering details."""

from __future__ import annotations

import ipaddress

import pytest
from spec_data import key

from topology import build_topology, endpoint_problem, parse_node
from topology.build import allocate_ips, dedup_peer_ips, is_public, leader_index
from topology.errors import SubnetTooSmallError

# ---------------------------------------------------------------------------------------------
# leader choice (docs/kilo/topology.md#leader-election), upstream's test table (docs/kilo/examples.md#upstream-fixture)
# ---------------------------------------------------------------------------------------------
_CANDIDATES = {
    "a": ("10.0.0.1:51820", False),
    "b": ("8.8.8.8:51820", False),
    "c": ("8.8.8.8:51820", False),
    "d": ("10.0.0.1:51820", True),
    "2": ("8.8.8.8:51820", True),
}


def _candidate(name, index):
    endpoint, leader = _CANDIDATES[name]
    return parse_node(
        {
            "name": name,
            "endpoint": endpoint,
            "pod_cidr": f"10.2.{index}.0/24",
            "public_key": key(index + 1),
            "leader": leader,
        }
    )


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        pytest.param([], 0, id="none"),
        pytest.param(["a"], 0, id="single private"),
        pytest.param(["a", "b", "c"], 1, id="first public"),
        pytest.param(["d", "2"], 1, id="annotated and public"),
        pytest.param(["b", "c", "2"], 2, id="annotated public beats public"),
        pytest.param(["a", "d"], 1, id="annotated beats position"),
        pytest.param(["a", "b", "c", "d", "2"], 4, id="annotated+public beats annotated and public"),
    ],
)
def test_leader_index(names, expected):
    assert leader_index([_candidate(name, index) for index, name in enumerate(names)]) == expected


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("172.31.255.255", False),
        ("192.168.1.1", False),
        ("172.32.0.1", True),
        ("100.64.0.1", True),
        ("169.254.0.1", True),
        ("127.0.0.1", True),
        ("8.8.8.8", True),
        ("fd00::1", False),
        ("fd12::1", True),
        ("fc00::1", True),
        ("2001:db8::1", True),
        (None, False),
    ],
)
def test_public_test(address, public):
    assert is_public(ipaddress.ip_address(address) if address else None) is public


# ---------------------------------------------------------------------------------------------
# peer de-dup cases (docs/kilo/topology.md#peer-de-duplication, docs/kilo/examples.md#upstream-fixture)
# ---------------------------------------------------------------------------------------------
P1 = ["10.0.0.1/24", "10.0.0.2/24"]
P2 = ["10.0.0.1/24", "10.0.0.3/24"]
P3 = ["10.0.0.2/24", "10.0.0.3/24", "10.0.0.1/24"]
P4 = ["10.0.0.3/24", "10.0.0.3/24"]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        pytest.param([P1, P2], [tuple(P1), ("10.0.0.3/24",)], id="p1,p2"),
        pytest.param([P2, P1], [tuple(P2), ("10.0.0.2/24",)], id="p2,p1"),
        pytest.param([P3, P2, P1, P4], [tuple(P3), (), (), ()], id="p3 first empties the rest"),
        pytest.param([P4, P3], [("10.0.0.3/24",), ("10.0.0.2/24", "10.0.0.1/24")], id="p4 first keeps one"),
    ],
)
def test_dedup_peer_ips(order, expected):
    assert dedup_peer_ips(order) == expected


def test_peers_sorted_by_name_before_dedup_and_empty_peer_still_emitted(s1):
    s1["peers"] = [
        {"name": "zz", "allowed_ips": ["10.5.0.9/32"], "public_key": key(120)},
        {"name": "aa", "allowed_ips": ["10.5.0.9/32", "10.5.0.8/32"], "public_key": key(121)},
        {"name": "mm", "allowed_ips": ["10.5.0.8/32"], "public_key": key(122)},
    ]
    topo = build_topology(s1["nodes"], s1["peers"], kilo_compatible=True)
    assert [(p.name, p.allowed_ips) for p in topo.peers] == [
        ("aa", ("10.5.0.9/32", "10.5.0.8/32")),
        ("mm", ()),
        ("zz", ()),
    ]
    conf = topo.node_conf("gcp-1")
    assert conf.endswith(f"[Peer]\nPersistentKeepalive = 0\nPublicKey = {key(120)}\n")
    # --as-peer shows a peer's own list, not the de-duplicated one
    assert "AllowedIPs = 10.5.0.9/32\n" in topo.peer_as_peer("zz")


# ---------------------------------------------------------------------------------------------
# allowed-location-ip filter cases of docs/kilo/examples.md#upstream-fixture (segments location:1, location:2, node:d)
# ---------------------------------------------------------------------------------------------
def _net(last):
    return f"192.168.178.{last}/32"


@pytest.mark.parametrize(
    ("location_ips", "expected"),
    [
        pytest.param(
            {"a": [_net(4), _net(8)], "b": [_net(5)], "d": [_net(6), _net(7), _net(4)]},
            [(_net(8),), (_net(5),), (_net(4), _net(6), _net(7))],
            id="overlap: earlier segment drops, last keeps",
        ),
        pytest.param({"a": ["10.4.0.1/32"], "b": [], "d": []}, [(), (), ()], id="own WireGuard IP dropped"),
        pytest.param(
            {"a": [_net(8)], "b": [_net(5)], "d": ["192.168.178.0/24"]},
            [(), (), ("192.168.178.0/24",)],
            id="supernet in the last segment wins",
        ),
    ],
)
def test_location_ip_filter_upstream(upstream, location_ips, expected):
    for node in upstream["nodes"]:
        node["allowed_location_ips"] = location_ips.get(node["name"], [])
    topo = build_topology(upstream["nodes"], upstream["peers"], allow_duplicate_keys=True, kilo_compatible=True)
    assert [s.key for s in topo.segments] == ["location:1", "location:2", "node:d"]
    assert [s.allowed_location_ips for s in topo.segments] == expected


def test_location_ip_filter_s2_two_single_node_locations():
    """docs/kilo/examples.md#scenario-s2: a keeps 10.240.1.0/24 and 10.4.0.2/32 (text order), b keeps nothing."""
    nodes = [
        {
            "name": "a1",
            "location": "a",
            "endpoint": "1.1.1.1:51820",
            "internal_ip": "10.240.0.2/24",
            "pod_cidr": "10.2.0.0/24",
            "public_key": key(1),
            "allowed_location_ips": [
                "10.4.0.2/32",
                "10.240.1.0/24",
                "10.2.1.128/25",
                "10.2.1.0/16",
                "10.240.1.7/32",
                "10.4.0.1/32",
            ],
        },
        {
            "name": "b1",
            "location": "b",
            "endpoint": "2.2.2.2:51820",
            "internal_ip": "10.240.1.7/24",
            "pod_cidr": "10.2.1.0/24",
            "public_key": key(2),
            "allowed_location_ips": ["10.4.0.1/32"],
        },
    ]
    topo = build_topology(nodes)
    assert [s.allowed_location_ips for s in topo.segments] == [("10.240.1.0/24", "10.4.0.2/32"), ()]
    assert "AllowedIPs = 10.2.0.0/24, 10.240.0.2/32, 10.4.0.1/32, 10.240.1.0/24, 10.4.0.2/32\n" in topo.node_conf("b1")
    assert "AllowedIPs = 10.2.1.0/24, 10.240.1.7/32, 10.4.0.2/32\n" in topo.node_conf("a1")


def test_location_ip_inside_peer_range_dropped(s1):
    topo = build_topology(s1["nodes"], s1["peers"])
    aws = topo.segments[1]
    assert aws.key == "location:aws"
    assert aws.allowed_location_ips == ("172.31.100.0/24",)


def test_location_ips_dedup_and_sorted_as_text(s1):
    s1["nodes"][2]["allowed_location_ips"] = ["9.0.0.0/8", "172.31.100.0/24"]
    s1["nodes"][3]["allowed_location_ips"] = ["10.0.0.0/8", "9.0.0.0/8"]
    s1["peers"] = []
    topo = build_topology(s1["nodes"])
    assert topo.segments[1].allowed_location_ips == ("10.0.0.0/8", "172.31.100.0/24", "9.0.0.0/8")


# ---------------------------------------------------------------------------------------------
# allocator cases (docs/kilo/examples.md#upstream-fixture), exhaustion (docs/kilo/topology.md#wireguard-ip-allocation;
# we fail at the first)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("subnet", "count", "expected"),
    [
        ("10.1.0.0/16", 2, ["10.1.0.1", "10.1.0.2"]),
        ("10.1.0.0/32", 0, []),
        ("10.1.0.0/31", 1, ["10.1.0.1"]),
        ("10.1.0.0/30", 3, ["10.1.0.1", "10.1.0.2", "10.1.0.3"]),
        ("fd00:4::/126", 3, ["fd00:4::1", "fd00:4::2", "fd00:4::3"]),
    ],
)
def test_allocate_ips(subnet, count, expected):
    assert [str(ip) for ip in allocate_ips(ipaddress.ip_network(subnet), count)] == expected


@pytest.mark.parametrize(("subnet", "count"), [("10.1.0.0/32", 1), ("10.1.0.0/31", 2), ("10.1.0.0/30", 4)])
def test_allocate_ips_exhausted(subnet, count):
    with pytest.raises(SubnetTooSmallError, match="too small"):
        allocate_ips(ipaddress.ip_network(subnet), count)


def test_subnet_is_reduced_and_used_as_pool(s1):
    topo = build_topology(s1["nodes"], s1["peers"], subnet="172.20.0.1/24")
    assert str(topo.segments[0].wireguard_ip) == "172.20.0.1"
    assert topo.to_dict()["nodes"]["gcp-1"]["wireguard_ip"] == "172.20.0.3/24"


# ---------------------------------------------------------------------------------------------
# endpoint parser (docs/kilo/annotations.md#endpoint-grammar)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.0:1000", ("ip", "10.0.0.0:1000")),
        ("[ff50::10]:1000", ("ip", "[ff50::10]:1000")),
        ("a.b:1", ("dns", "a.b:1")),
        ("example.com:051820", ("dns", "example.com:051820")),
        ("[::ffff:1.2.3.4]:51820", ("ip", "1.2.3.4:51820")),
        ("1.2.3.4:051820", ("ip", "1.2.3.4:51820")),
        ("[2001:DB8:0::10]:51820", ("ip", "[2001:db8::10]:51820")),
    ],
)
def test_endpoint_parser_valid(text, expected):
    endpoint, reason = endpoint_problem(text)
    assert reason is None
    assert ("dns" if endpoint.dns else "ip", endpoint.text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        (":1000", "neither an IP address nor"),
        ("10.0.0.0", "missing port"),
        ("ff50::10", "too many colons"),
        ("Example.com:51820", "lowercase"),
        ("host_name:1", "lowercase"),
        ("1.2.3.4:0", "outside 1..65535"),
        ("1.2.3.4:65536", "outside 1..65535"),
        ("[fe80::1%eth0]:51820", "zone"),
        ("2001:db8::1:51820", "too many colons"),
        ("1.2.3.4:port", "not a decimal"),
        # Kilo takes these for DNS names; resolvers read 051 as octal (docs/deviations.md)
        ("010.0.0.1:51820", "leading zeros"),
        ("198.051.100.2:51820", "leading zeros, which resolvers read as octal"),
        ("1.2.3.256:51820", "not an IPv4 address"),
        ("[::1]", "missing port"),
        ("[::1:51820", "missing ']'"),
        ("a" * 250 + ".com:1", "at most 253"),
    ],
)
def test_endpoint_parser_invalid(text, reason):
    endpoint, why = endpoint_problem(text)
    assert endpoint is None
    assert reason in why


# ---------------------------------------------------------------------------------------------
# segments, order, leaders, WireGuard IPs of S1 (docs/kilo/topology.md#segments, #ordering, #wireguard-ip-allocation)
# ---------------------------------------------------------------------------------------------
def test_s1_segments(s1):
    topo = build_topology(s1["nodes"], s1["peers"])
    assert [(s.key, s.node_names, s.leader.name, str(s.wireguard_ip)) for s in topo.segments] == [
        ("location:", ("bare-1",), "bare-1", "10.4.0.1"),
        ("location:aws", ("aws-1", "aws-2"), "aws-2", "10.4.0.2"),
        ("location:gcp-east", ("gcp-1", "gcp-2"), "gcp-1", "10.4.0.3"),
        ("node:edge-1", ("edge-1",), "edge-1", "10.4.0.4"),
    ]
    assert topo.wireguard_cidr("gcp-2") == "10.4.0.0/16"
    assert topo.wireguard_cidr("gcp-1") == "10.4.0.3/16"


def test_upstream_fixture_segments(upstream):
    topo = build_topology(upstream["nodes"], upstream["peers"], allow_duplicate_keys=True, kilo_compatible=True)
    assert [(s.key, s.leader.name, s.allowed_ips) for s in topo.segments] == [
        ("location:1", "a", ("10.2.1.0/24", "192.168.0.1/32", "10.4.0.1/32")),
        ("location:2", "b", ("10.2.2.0/24", "192.168.0.1/32", "10.2.3.0/24", "192.168.0.2/32", "10.4.0.2/32")),
        ("node:d", "d", ("10.2.4.0/24", "10.4.0.3/32")),
    ]
    assert topo.segments[1].allowed_location_ips == ("192.168.178.3/32",)
    assert [topo.wireguard_cidr(n) for n in "abc"] == ["10.4.0.1/16", "10.4.0.2/16", "10.4.0.0/16"]
    full = build_topology(
        upstream["nodes"], upstream["peers"], granularity="full", allow_duplicate_keys=True, kilo_compatible=True
    )
    assert [(s.key, str(s.wireguard_ip)) for s in full.segments] == [
        ("node:a", "10.4.0.1"),
        ("node:b", "10.4.0.2"),
        ("node:c", "10.4.0.3"),
        ("node:d", "10.4.0.4"),
    ]
    assert all(full.is_leader(n) for n in "abcd")
    assert full.segments[1].allowed_location_ips == ("192.168.178.3/32",)
    # showconf peer a: all three segments first (location:1 first), then only peer b
    conf = topo.peer_conf("a")
    assert conf.startswith("[Peer]\nAllowedIPs = 10.2.1.0/24, 192.168.0.1/32, 10.4.0.1/32\nEndpoint = 10.1.0.1:51820\n")
    assert conf.count("[Peer]") == 4
    assert conf.endswith(
        "AllowedIPs = 10.5.0.3/24\nEndpoint = 192.168.0.1:51820\nPersistentKeepalive = 0\n"
        f"PublicKey = {topo.peer('b').public_key}\n"
    )


# ---------------------------------------------------------------------------------------------
# scenario S2 (docs/kilo/examples.md#scenario-s2), the cases that apply to our input model
# ---------------------------------------------------------------------------------------------
def test_s2_segments_leaders_and_allowed_ips(s2):
    topo = build_topology(s2["nodes"], s2["peers"], kilo_compatible=True)
    assert [(s.key, s.leader.name, str(s.wireguard_ip)) for s in topo.segments] == [
        ("location:", "z-a", "10.4.0.1"),
        ("location:w", "w-a", "10.4.0.2"),
        ("location:x", "x-c", "10.4.0.3"),
        ("location:y", "y-a", "10.4.0.4"),
    ]
    assert topo.segments[0].allowed_ips == ("10.2.15.0/24", "fd00::30/128", "10.4.0.1/32")
    assert topo.segments[1].allowed_ips == ("10.2.16.0/24", "10.9.0.1/32", "10.4.0.2/32")
    # 192.168.12.0/24 claimed by x and y: only y (later) keeps it; x keeps its host-bit CIDR
    assert topo.segments[2].allowed_location_ips == ("192.168.10.5/24",)
    assert topo.segments[3].allowed_location_ips == ("192.168.12.0/24",)
    assert "10.4.0.3/32, 192.168.10.5/24\n" in topo.node_conf("y-a")
    assert [r["dst"] for r in topo.routes("y-a") if r["dst"].startswith("192.168.")] == ["192.168.10.5/24"]


def test_s2_leader_without_x_c_annotation(s2):
    s2["nodes"][2]["leader"] = False
    topo = build_topology(s2["nodes"], s2["peers"], kilo_compatible=True)
    assert topo.segment_of("x-a").leader.name == "x-b"


def test_s2_peers(s2):
    topo = build_topology(s2["nodes"], s2["peers"], kilo_compatible=True)
    assert topo.peer_names == ("p-a", "p-b", "p-f")
    assert topo.peer("p-b").allowed_ips == ("10.5.0.1/32",)
    conf = topo.node_conf("x-c")
    assert "Endpoint = peer.example.net:1234\n" in conf
    assert "Endpoint = [2001:db8::99]:51820\n" in conf
    assert "AllowedIPs = 10.5.0.1/32, 10.5.0.3/32\n" in topo.peer_as_peer("p-b")


def test_s2_small_pool_fails_at_fourth_segment(s2):
    with pytest.raises(SubnetTooSmallError, match=r'subnet "10.4.0.0/30" is too small: 4 segment\(s\)'):
        build_topology(s2["nodes"], s2["peers"], subnet="10.4.0.0/30", kilo_compatible=True)


# ---------------------------------------------------------------------------------------------
# keepalive and discovered endpoints (docs/kilo/topology.md#endpoint-choice, docs/kilo/topology.md#persistent-keepalive)
# ---------------------------------------------------------------------------------------------
def test_default_keepalive_option_applies_to_nodes_without_one(s1):
    topo = build_topology(s1["nodes"], s1["peers"], persistent_keepalive=15)
    assert set(line for line in topo.node_conf("gcp-1").splitlines() if "Keepalive" in line) == {
        "PersistentKeepalive = 15"
    }
    assert "PersistentKeepalive = 10" in topo.node_conf("edge-1")


def test_discovered_endpoint_needs_remote_keepalive(s1):
    # aws-1 has keepalive 25 and edge-1 published a discovered endpoint for it (S1, full mode);
    # drop aws-1's keepalive and its configured endpoint is used again
    s1["nodes"][2]["persistent_keepalive"] = 0
    topo = build_topology(s1["nodes"], s1["peers"], granularity="full")
    assert "Endpoint = 54.2.2.2:51821\n" in topo.node_conf("gcp-1")


def test_local_discovered_endpoints_come_first(s1):
    s1["nodes"][0]["discovered_endpoints"] = {key(3): "198.51.100.1:1"}
    topo = build_topology(s1["nodes"], s1["peers"], granularity="full")
    assert "Endpoint = 198.51.100.1:1\n" in topo.node_conf("gcp-1")
    # for the others the first writer in segment order wins: edge-1 (node:edge-1) < gcp-1 (node:gcp-1)
    assert "Endpoint = 54.2.2.99:40000\n" in topo.node_conf("gcp-2")


def test_discovered_endpoint_for_peer_with_keepalive(s1):
    s1["nodes"][4]["discovered_endpoints"][key(101)] = "[2001:db8::5]:3333"
    topo = build_topology(s1["nodes"], s1["peers"])
    assert "AllowedIPs = 10.5.0.1/32\nEndpoint = [2001:db8::5]:3333\n" in topo.node_conf("gcp-1")


def test_discovered_endpoints_kilo_annotation_form(s1):
    s1["nodes"][4]["discovered_endpoints"] = {key(3): {"IP": "54.2.2.99", "Port": 40000, "Zone": ""}}
    topo = build_topology(s1["nodes"], s1["peers"], granularity="full")
    assert "Endpoint = 54.2.2.99:40000\n" in topo.node_conf("gcp-1")


# ---------------------------------------------------------------------------------------------
# cross granularity (docs/kilo/topology.md#cross-granularity, experimental)
# ---------------------------------------------------------------------------------------------
def test_cross_granularity(s1):
    topo = build_topology(s1["nodes"], s1["peers"], granularity="cross")
    assert [s.key for s in topo.segments] == [f"node:{n}" for n in sorted(topo.node_names)]
    assert all(topo.is_leader(n) for n in topo.node_names)
    conf = topo.node_conf("gcp-1")
    assert topo.segment_of("gcp-2").public_key not in conf  # same location: no WireGuard section
    assert topo.segment_of("aws-1").public_key in conf
    local = [r for r in topo.routes("gcp-1") if r["dev"] == "private"]
    assert [(r["dst"], r["via"]) for r in local] == [("10.2.1.0/24", "10.240.0.3")]


# ---------------------------------------------------------------------------------------------
# client configuration, as-peer YAML/JSON fixes (docs/deviations.md)
# ---------------------------------------------------------------------------------------------
def test_peer_client_conf(s1):
    topo = build_topology(s1["nodes"], s1["peers"])
    conf = topo.peer_client_conf("laptop", private_key=key(77), dns=["10.43.0.10"], mtu=1380)
    head = f"[Interface]\nAddress = 10.5.0.1/32\nPrivateKey = {key(77)}\nDNS = 10.43.0.10\nMTU = 1380\n\n"
    assert conf == head + topo.peer_conf("laptop")
    assert topo.peer_client_conf("laptop", address="10.5.0.1/24").startswith(
        "[Interface]\nAddress = 10.5.0.1/24\n\n[Peer]\n"
    )


def test_as_peer_yaml_dns_endpoint_and_keepalive(s1):
    topo = build_topology(s1["nodes"], s1["peers"])
    text = topo.node_as_peer("edge-1", output="yaml")
    assert "  endpoint:\n    dnsOrIP:\n      dns: edge.example.com\n    port: 51820\n" in text
    assert "<nil>" not in text
    laptop = topo.peer_as_peer("laptop", ["10.43.0.0/16"], output="yaml")
    assert laptop == (
        "apiVersion: kilo.squat.ai/v1alpha1\nkind: Peer\nmetadata:\n  name: laptop\nspec:\n  allowedIPs:\n"
        f"  - 10.5.0.1/32\n  - 10.43.0.0/16\n  persistentKeepalive: 10\n  publicKey: {key(101)}\n"
    )
    office = topo.peer_as_peer("office", output="json")
    assert '"presharedKey": "' + key(200) + '"' in office
    assert '"dnsOrIP": {\n        "ip": "203.0.113.9"\n      },\n      "port": 51820' in office


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("51820", '"51820"'),
        ("true", '"true"'),
        ("null", '"null"'),
        ("1.5", '"1.5"'),
        ("", '""'),
        ("10.2.0.0/24", "10.2.0.0/24"),
        ("2001:db8::10", "2001:db8::10"),
        ("#x", "'#x'"),
        ("a: b", "'a: b'"),
        ("- x", "'- x'"),
        ("it's", "it's"),
    ],
)
def test_yaml_scalar_quoting(value, expected):
    from topology.render import to_yaml

    assert to_yaml({"k": value}) == f"k: {expected}\n"


def test_yaml_nested_and_empty():
    from topology.render import to_yaml

    assert to_yaml({"b": [], "a": {"z": 1, "y": [True, None]}, "c": {}}) == (
        "a:\n  y:\n  - true\n  - null\n  z: 1\nb: []\nc: {}\n"
    )


# ---------------------------------------------------------------------------------------------
# the CIDR index behind the overlap checks (no quadratic scans)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("entries", "query", "exclude", "expected"),
    [
        pytest.param([("10.0.0.0/8", "a")], "10.1.2.0/24", None, "a", id="query inside entry"),
        pytest.param([("10.1.2.0/24", "a")], "10.0.0.0/8", None, "a", id="entry inside query"),
        pytest.param([("10.1.2.0/24", "a")], "10.1.3.0/24", None, None, id="disjoint"),
        pytest.param([("10.1.2.0/24", "a")], "10.1.2.0/24", "a", None, id="own entry excluded"),
        pytest.param([("10.1.2.0/24", "a"), ("10.1.2.128/25", "b")], "10.1.2.0/24", "a", "b", id="other owner"),
        pytest.param([("10.240.0.1", "a")], "10.240.0.0/24", None, "a", id="single address inside"),
        pytest.param([("10.240.0.7/24", "a")], "10.240.0.200/32", None, "a", id="interface uses its network"),
        pytest.param([("fd00::/64", "a")], "fd00::1/128", None, "a", id="ipv6"),
        pytest.param([("0.0.0.0/0", "a")], "::/0", None, None, id="families never overlap"),
    ],
)
def test_cidr_index(entries, query, exclude, expected):
    from topology.build import CidrIndex

    index = CidrIndex()
    for text, owner in entries:
        value = ipaddress.ip_interface(text) if "/" in text else ipaddress.ip_address(text)
        index.add(value, owner)
    assert index.overlapping(ipaddress.ip_interface(query), exclude=exclude) == expected


def test_cidr_index_remove_and_containing():
    from topology.build import CidrIndex

    index = CidrIndex()
    network = ipaddress.ip_network("192.168.0.0/16")
    index.add(network, 1)
    assert index.containing(ipaddress.ip_address("192.168.3.4")) == 1
    index.remove(network, 1)
    assert index.containing(ipaddress.ip_address("192.168.3.4")) is None
    assert index.overlapping(network) is None
