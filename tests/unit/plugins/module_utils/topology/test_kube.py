# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Node / Peer object conversion (topology.kube) against docs/kilo/annotations.md, docs/kilo/peers.md and
docs/kilo/examples.md."""

from __future__ import annotations

import base64
import json

import pytest

from topology import kube

NOW = 1_700_000_000
KEY1 = base64.b64encode(bytes([1]) * 32).decode()
KEY3 = base64.b64encode(bytes([3]) * 32).decode()
KEY5 = base64.b64encode(bytes([5]) * 32).decode()
ZERO = base64.b64encode(bytes(32)).decode()


def node(name="n", annotations=None, labels=None, pod_cidr="10.2.0.0/24", ready=True):
    """A Node object; ``ready`` adds the agent annotations of a freshly checked-in node."""
    ann = {}
    if ready:
        ann = {
            "kilo.squat.ai/endpoint": "10.0.0.1:51820",
            "kilo.squat.ai/key": KEY1,
            "kilo.squat.ai/last-seen": str(NOW - 5),
        }
    ann.update({("kilo.squat.ai/" + k): v for k, v in (annotations or {}).items()})
    obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "annotations": ann}, "spec": {}}
    if labels is not None:
        obj["metadata"]["labels"] = labels
    if pod_cidr is not None:
        obj["spec"]["podCIDR"] = pod_cidr
    return obj


# ------------------------------------------------ endpoint parser (docs/kilo/annotations.md#endpoint-grammar)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        (":1000", None),
        ("10.0.0.0", None),
        ("ff50::10", None),
        ("10.0.0.0:1000", "10.0.0.0:1000"),
        ("[ff50::10]:1000", "[ff50::10]:1000"),
        ("Example.com:51820", None),
        ("host_name:1", None),
        ("1.2.3.4:0", None),
        ("1.2.3.4:65536", None),
        ("[fe80::1%eth0]:51820", None),
        ("2001:db8::1:51820", None),
        ("a.b:1", "a.b:1"),
        ("010.0.0.1:51820", None),  # leading zeros: refused (docs/deviations.md)
        ("[::ffff:1.2.3.4]:51820", "1.2.3.4:51820"),
        ("example.com:051820", "example.com:051820"),
        ("1.2.3.4:051820", "1.2.3.4:51820"),
        ("[2001:DB8:0::1]:51820", "[2001:db8::1]:51820"),
        ("a..b:1", None),
        ("-a.b:1", None),
        ("1.2.3.4:+5", None),
    ],
)
def test_parse_endpoint(text, expected):
    assert kube.parse_endpoint(text) == expected


# --------------------------- annotation parsing (docs/kilo/examples.md#upstream-fixture, k8s/backend_test.go)
ANNOTATION_CASES = [
    # (case, node object, field, expected)
    ("endpoint without port is absent", node(annotations={"endpoint": "10.0.0.1"}), "endpoint", None),
    ("internal-ip foo is absent", node(annotations={"internal-ip": "foo"}), "internal_ip", None),
    ("pod CIDR reduced to network", node(pod_cidr="10.2.0.1/24"), "pod_cidr", "10.2.0.0/24"),
    (
        "location annotation beats region label",
        node(annotations={"location": "b"}, labels={"topology.kubernetes.io/region": "a"}),
        "location",
        "b",
    ),
    (
        "invalid force-endpoint falls back to endpoint",
        node(annotations={"force-endpoint": "-10.0.0.2:51821", "endpoint": "10.0.0.1:51820"}),
        "endpoint",
        "10.0.0.1:51820",
    ),
    (
        "valid force-endpoint wins",
        node(annotations={"force-endpoint": "10.0.0.2:51821", "endpoint": "10.0.0.1:51820"}),
        "endpoint",
        "10.0.0.2:51821",
    ),
    (
        "invalid force-internal-ip falls back",
        node(annotations={"force-internal-ip": "-10.1.0.2/24", "internal-ip": "10.1.0.1/24"}),
        "internal_ip",
        "10.1.0.1/24",
    ),
    (
        "empty force-internal-ip means none",
        node(annotations={"force-internal-ip": "", "internal-ip": "10.1.0.1/24"}),
        "internal_ip",
        None,
    ),
    (
        "dash force-internal-ip means none",
        node(annotations={"force-internal-ip": "-", "internal-ip": "10.1.0.1/24"}),
        "internal_ip",
        None,
    ),
    (
        "force-internal-ip keeps host bits",
        node(annotations={"force-internal-ip": "10.1.0.2/24", "internal-ip": "10.1.0.1/24"}),
        "internal_ip",
        "10.1.0.2/24",
    ),
    ("empty leader annotation is a leader", node(annotations={"leader": ""}), "leader", True),
    ("leader false is still a leader", node(annotations={"leader": "false"}), "leader", True),
    ("no leader annotation", node(), "leader", False),
    ("no location at all", node(), "location", ""),
    (
        "region label used without annotation",
        node(labels={"topology.kubernetes.io/region": "eu"}),
        "location",
        "eu",
    ),
    ("keepalive parsed", node(annotations={"persistent-keepalive": "25"}), "persistent_keepalive", 25),
    ("keepalive negative accepted", node(annotations={"persistent-keepalive": "-5"}), "persistent_keepalive", -5),
    ("keepalive garbage is 0", node(annotations={"persistent-keepalive": "10s"}), "persistent_keepalive", 0),
    ("keepalive with space is 0", node(annotations={"persistent-keepalive": " 10"}), "persistent_keepalive", 0),
    ("keepalive overflow is 0", node(annotations={"persistent-keepalive": str(2**63)}), "persistent_keepalive", 0),
    ("no allowed-location-ips", node(), "allowed_location_ips", []),
    (
        "discovered endpoints JSON",
        node(annotations={"discovered-endpoints": json.dumps({KEY3: {"IP": "54.2.2.99", "Port": 40000, "Zone": ""}})}),
        "discovered_endpoints",
        {KEY3: "54.2.2.99:40000"},
    ),
    ("discovered endpoints invalid JSON", node(annotations={"discovered-endpoints": "{"}), "discovered_endpoints", {}),
    ("discovered endpoints empty", node(annotations={"discovered-endpoints": ""}), "discovered_endpoints", {}),
    ("public key normalised", node(), "public_key", KEY1),
]


@pytest.mark.parametrize(
    ("obj", "field", "expected"), [c[1:] for c in ANNOTATION_CASES], ids=[c[0] for c in ANNOTATION_CASES]
)
def test_annotation_parsing(obj, field, expected):
    assert kube.node_fields(obj)[field] == expected


def test_topology_label_option():
    obj = node(labels={"topology.kubernetes.io/region": "a", "example.com/site": "b"})
    assert kube.node_fields(obj, topology_label="example.com/site")["location"] == "b"


# -------------------------------------------------- readiness (docs/kilo/annotations.md#readiness, mesh_test.go)
READINESS_CASES = [
    ("fresh node with everything", node(), NOW, True),
    ("no endpoint", node(annotations={"endpoint": ""}), NOW, False),
    ("endpoint with port 0", node(annotations={"endpoint": "10.0.0.1:0"}), NOW, False),
    ("endpoint without IP", node(annotations={"endpoint": ":51820"}), NOW, False),
    ("all-zero key", node(annotations={"key": ZERO}), NOW, False),
    ("garbage key", node(annotations={"key": "not-a-key"}), NOW, False),
    ("short key", node(annotations={"key": base64.b64encode(b"x" * 31).decode()}), NOW, False),
    ("no pod CIDR", node(pod_cidr=None), NOW, False),
    ("unparsable pod CIDR", node(pod_cidr="10.2.0.0"), NOW, False),
    ("last seen 59 s ago", node(annotations={"last-seen": str(NOW - 59)}), NOW, True),
    ("last seen exactly 60 s ago", node(annotations={"last-seen": str(NOW - 60)}), NOW, False),
    ("last seen missing", node(annotations={"last-seen": "x"}), NOW, False),
    ("stale but freshness check off", node(annotations={"last-seen": "1"}), None, True),
    ("no internal IP is fine", node(annotations={"internal-ip": ""}), NOW, True),
    ("DNS endpoint is ready", node(annotations={"endpoint": "edge.example.com:51820"}), NOW, True),
]


@pytest.mark.parametrize(("obj", "now", "ready"), [c[1:] for c in READINESS_CASES], ids=[c[0] for c in READINESS_CASES])
def test_readiness(obj, now, ready):
    assert (kube.node_from_k8s(obj, now=now) is not None) is ready


# --------------------------------------- scenario S1 edge-1 and aws-1 (docs/kilo/examples.md#scenario-s1)
def test_s1_edge_node_full_dict():
    obj = node(
        "edge-1",
        annotations={
            "force-endpoint": "edge.example.com:51820",
            "endpoint": "100.64.0.9:51820",
            "force-internal-ip": "-",
            "internal-ip": "192.168.7.2/24",
            "key": KEY5,
            "persistent-keepalive": "10",
            "discovered-endpoints": json.dumps({KEY3: {"IP": "54.2.2.99", "Port": 40000, "Zone": ""}}),
        },
        pod_cidr="10.2.4.0/24",
    )
    assert kube.node_from_k8s(obj, now=NOW) == {
        "name": "edge-1",
        "location": "",
        "endpoint": "edge.example.com:51820",
        "internal_ip": None,
        "pod_cidr": "10.2.4.0/24",
        "public_key": KEY5,
        "leader": False,
        "persistent_keepalive": 10,
        "allowed_location_ips": [],
        "discovered_endpoints": {KEY3: "54.2.2.99:40000"},
    }


def test_s1_aws_node():
    obj = node(
        "aws-1",
        annotations={
            "location": "aws",
            "force-endpoint": "54.2.2.2:51821",
            "endpoint": "172.31.0.5:51820",
            "internal-ip": "172.31.0.5/20",
            "persistent-keepalive": "25",
            "allowed-location-ips": "172.31.100.0/24,192.168.50.7/32",
        },
        labels={"topology.kubernetes.io/region": "us-east-1"},
        pod_cidr="10.2.2.0/24",
    )
    got = kube.node_from_k8s(obj, now=NOW)
    assert got is not None
    assert (got["location"], got["endpoint"], got["internal_ip"]) == ("aws", "54.2.2.2:51821", "172.31.0.5/20")
    assert got["allowed_location_ips"] == ["172.31.100.0/24", "192.168.50.7/32"]
    assert got["persistent_keepalive"] == 25


# ---------------------------------------------------------- scenario S2 (docs/kilo/examples.md#scenario-s2)
S2_NODE_CASES = [
    (
        "x-c allowed-location-ips: no trimming, garbage dropped, host bits kept",
        node(annotations={"allowed-location-ips": "192.168.10.5/24, 192.168.11.0/24,192.168.12.0/24,not-an-ip"}),
        "allowed_location_ips",
        ["192.168.10.5/24", "192.168.12.0/24"],
    ),
    ("x-b leader false", node(annotations={"leader": "false"}), "leader", True),
    ("x-c leader true", node(annotations={"leader": "true"}), "leader", True),
    ("x-a no annotation", node(), "leader", False),
    (
        "z-a empty location annotation beats region label",
        node(annotations={"location": ""}, labels={"topology.kubernetes.io/region": "eu"}),
        "location",
        "",
    ),
    ("z-a IPv6 internal IP", node(annotations={"internal-ip": "fd00::30/64"}), "internal_ip", "fd00::30/64"),
    (
        "w-a uppercase force-endpoint invalid",
        node(annotations={"force-endpoint": "Bad.Example.COM:51820", "endpoint": "9.9.9.9:51820"}),
        "endpoint",
        "9.9.9.9:51820",
    ),
    (
        "w-a force-internal-ip without prefix invalid",
        node(annotations={"force-internal-ip": "10.9.0.9", "internal-ip": "10.9.0.1/16"}),
        "internal_ip",
        "10.9.0.1/16",
    ),
    ("negative keepalive kept", node(annotations={"persistent-keepalive": "-5"}), "persistent_keepalive", -5),
]


@pytest.mark.parametrize(
    ("obj", "field", "expected"), [c[1:] for c in S2_NODE_CASES], ids=[c[0] for c in S2_NODE_CASES]
)
def test_s2_nodes(obj, field, expected):
    assert kube.node_fields(obj)[field] == expected


@pytest.mark.parametrize(
    ("case", "obj"),
    [
        ("empty pod CIDR", node(pod_cidr="")),
        ("garbage key", node(annotations={"key": "garbage"})),
    ],
)
def test_s2_absent_nodes(case, obj):
    assert kube.node_from_k8s(obj, now=NOW) is None, case


def peer(name, spec):
    return {"apiVersion": "kilo.squat.ai/v1alpha1", "kind": "Peer", "metadata": {"name": name}, "spec": spec}


PEER_CASES = [
    (
        "p-a: DNS beats IP",
        peer(
            "p-a",
            {
                "allowedIPs": ["10.5.0.3/32", "10.5.0.7/24"],
                "publicKey": KEY1,
                "endpoint": {"dnsOrIP": {"ip": "1.2.3.4", "dns": "peer.example.net"}, "port": 1234},
            },
        ),
        {
            "name": "p-a",
            "allowed_ips": ["10.5.0.3/32", "10.5.0.7/24"],
            "public_key": KEY1,
            "preshared_key": None,
            "endpoint": "peer.example.net:1234",
            "persistent_keepalive": 0,
        },
    ),
    (
        "p-b: no endpoint",
        peer("p-b", {"allowedIPs": ["10.5.0.1/32", "10.5.0.3/32"], "publicKey": KEY3}),
        {
            "name": "p-b",
            "allowed_ips": ["10.5.0.1/32", "10.5.0.3/32"],
            "public_key": KEY3,
            "preshared_key": None,
            "endpoint": None,
            "persistent_keepalive": 0,
        },
    ),
    (
        "p-c: one invalid allowed IP drops the peer",
        peer("p-c", {"allowedIPs": ["10.5.0.9/32", "x"], "publicKey": KEY1}),
        None,
    ),
    (
        "p-d: short key drops the peer",
        peer("p-d", {"allowedIPs": ["10.5.0.9/32"], "publicKey": base64.b64encode(b"k" * 16).decode()}),
        None,
    ),
    ("p-e: empty allowed IPs ignored", peer("p-e", {"allowedIPs": [], "publicKey": KEY1}), None),
    (
        "p-f: IPv6 endpoint, keepalive and psk",
        peer(
            "p-f",
            {
                "allowedIPs": ["10.5.0.7/24"],
                "publicKey": KEY1,
                "presharedKey": KEY5,
                "persistentKeepalive": 25,
                "endpoint": {"dnsOrIP": {"ip": "2001:db8::99"}, "port": 51820},
            },
        ),
        {
            "name": "p-f",
            "allowed_ips": ["10.5.0.7/24"],
            "public_key": KEY1,
            "preshared_key": KEY5,
            "endpoint": "[2001:db8::99]:51820",
            "persistent_keepalive": 25,
        },
    ),
    (
        "negative keepalive invalid",
        peer("p", {"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY1, "persistentKeepalive": -1}),
        None,
    ),
    (
        "endpoint without ip or dns invalid",
        peer("p", {"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY1, "endpoint": {"dnsOrIP": {}, "port": 1}}),
        None,
    ),
    (
        "endpoint uppercase dns invalid",
        peer(
            "p", {"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY1, "endpoint": {"dnsOrIP": {"dns": "A.b"}, "port": 1}}
        ),
        None,
    ),
    (
        "endpoint port out of range invalid",
        peer(
            "p",
            {
                "allowedIPs": ["10.5.0.1/32"],
                "publicKey": KEY1,
                "endpoint": {"dnsOrIP": {"ip": "1.2.3.4"}, "port": 70000},
            },
        ),
        None,
    ),
    (
        "endpoint bad ip invalid",
        peer(
            "p", {"allowedIPs": ["10.5.0.1/32"], "publicKey": KEY1, "endpoint": {"dnsOrIP": {"ip": "1.2.3"}, "port": 5}}
        ),
        None,
    ),
    ("all-zero key not ready", peer("p", {"allowedIPs": ["10.5.0.1/32"], "publicKey": ZERO}), None),
    (
        "invalid preshared key means none",
        peer("p", {"allowedIPs": ["10.5.0.7/24"], "publicKey": KEY1, "presharedKey": "nope"}),
        {
            "name": "p",
            "allowed_ips": ["10.5.0.7/24"],
            "public_key": KEY1,
            "preshared_key": None,
            "endpoint": None,
            "persistent_keepalive": 0,
        },
    ),
]


@pytest.mark.parametrize(("obj", "expected"), [c[1:] for c in PEER_CASES], ids=[c[0] for c in PEER_CASES])
def test_peer_from_k8s(obj, expected):
    assert kube.peer_from_k8s(obj) == expected


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ([{}, {}], None),
        ([{"wireguard-ip": "172.20.0.1/24"}, {}], "172.20.0.0/24"),
        ([{"wireguard-ip": "10.4.0.1/16"}, {"wireguard-ip": "172.20.0.1/24"}], "172.20.0.0/24"),
        ([{"wireguard-ip": "10.4.0.1/16"}, {"wireguard-ip": ""}], "10.4.0.0/16"),
    ],
)
def test_subnet_hint(annotations, expected):
    objs = [node(f"n{i}", annotations=a, ready=False) for i, a in enumerate(annotations)]
    assert kube.subnet_hint(objs) == expected
