# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The one node schema (topology/schema.py): kilo_* host variables <-> node dicts <-> Kilo's annotations."""

from __future__ import annotations

import base64

import pytest

from topology import build_topology, kube, schema
from topology.errors import TopologyError

KEY = base64.b64encode(bytes([1]) * 32).decode()
KEY2 = base64.b64encode(bytes([2]) * 32).decode()
P = schema.ANNOTATION_PREFIX


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"kilo_leader": True}, {"leader": True}),
        ({"kilo_leader": "yes"}, {"leader": True}),
        ({"kilo_leader": "True"}, {"leader": True}),
        ({"kilo_leader": 1}, {"leader": True}),
        ({"kilo_leader": "off"}, {"leader": False}),
        ({"kilo_persistent_keepalive": 25}, {"persistent_keepalive": 25}),
        ({"kilo_persistent_keepalive": " 25 "}, {"persistent_keepalive": 25}),
        ({"kilo_allowed_location_ips": ["10.9.0.0/24"]}, {"allowed_location_ips": ["10.9.0.0/24"]}),
        (
            {"kilo_allowed_location_ips": "10.9.0.0/24, 10.9.1.0/24,"},
            {"allowed_location_ips": ["10.9.0.0/24", "10.9.1.0/24"]},
        ),
        ({"kilo_internal_ip": None}, {"internal_ip": None}),
        ({"kilo_internal_ip": "-"}, {"internal_ip": None}),
        ({"kilo_internal_ip": ""}, {"internal_ip": None}),
        ({"kilo_internal_ip": "10.240.0.2/24"}, {"internal_ip": "10.240.0.2/24"}),
        ({"kilo_location": 7}, {"location": "7"}),
        ({"kilo_endpoint": ""}, {}),
    ],
)
def test_every_accepted_form_means_the_same(values, expected):
    assert schema.node_from_host_vars("h1", values) == dict({"name": "h1"}, **expected)


def test_node_name_public_key_and_discovered_endpoints():
    node = schema.node_from_host_vars(
        "h1.example", {"kilo_node_name": "h1", "kilo_public_key": KEY}, public_key=KEY2, discovered_endpoints={}
    )
    assert node == {"name": "h1", "public_key": KEY2}
    found = schema.node_from_host_vars("h", {}, discovered_endpoints={KEY: "192.0.2.1:51820"})
    assert found["discovered_endpoints"] == {KEY: "192.0.2.1:51820"}


@pytest.mark.parametrize(
    ("var", "value", "expected"),
    [
        ("kilo_leader", "maybe", "expected a boolean"),
        ("kilo_leader", 2, "expected a boolean"),
        ("kilo_persistent_keepalive", "25s", "expected a whole number of seconds"),
        ("kilo_persistent_keepalive", True, "expected a whole number of seconds"),
        ("kilo_persistent_keepalive", -1, "expected 0 or more seconds"),
        ("kilo_allowed_location_ips", {"a": 1}, "expected a list of CIDRs or a comma-separated string"),
        ("kilo_allowed_location_ips", [1], "expected a list of CIDRs or a comma-separated string"),
        ("kilo_internal_ip", ["10.0.0.1/24"], "expected a CIDR with host bits"),
        ("kilo_endpoint", ["a"], "expected a string"),
        ("kilo_node_name", "", "expected a non-empty string"),
    ],
)
def test_a_bad_form_names_host_variable_value_and_fix(var, value, expected):
    with pytest.raises(schema.HostVarError) as info:
        schema.node_from_host_vars("dc1-a", {var: value})
    message = str(info.value)
    assert message.startswith(f"host 'dc1-a': {var} has invalid value {value!r}: {expected}")
    assert f"fix the host variable {var} of host dc1-a" in message
    assert (info.value.host, info.value.var) == ("dc1-a", var)


def test_a_bad_public_key_is_never_shown():
    with pytest.raises(schema.HostVarError) as info:
        schema.node_from_host_vars("dc1-a", {"kilo_public_key": ["secret-looking"]})
    assert "secret-looking" not in str(info.value) and "kilo_public_key" in str(info.value)


def test_annotations_are_in_the_format_kilo_parses():
    node = schema.node_from_host_vars(
        "h",
        {
            "kilo_location": "eu",
            "kilo_leader": "yes",
            "kilo_endpoint": "203.0.113.1:51820",
            "kilo_internal_ip": "-",
            "kilo_persistent_keepalive": "25",
            "kilo_allowed_location_ips": "172.16.10.0/24, 172.16.11.0/24",
        },
    )
    assert schema.node_annotations(node) == {
        P + "location": "eu",
        P + "leader": "true",
        P + "force-endpoint": "203.0.113.1:51820",
        P + "force-internal-ip": "-",
        P + "persistent-keepalive": "25",
        P + "allowed-location-ips": "172.16.10.0/24,172.16.11.0/24",
    }
    # unset variables remove their annotation (JSON merge patch)
    assert schema.node_annotations({"name": "h"}) == {P + key: None for key in schema.USER_ANNOTATIONS}


def test_annotations_read_back_through_kube_give_the_same_node():
    """node -> annotations -> kube.node_fields is the identity on the fields the annotations carry."""
    node = schema.node_from_host_vars(
        "h",
        {
            "kilo_location": "eu",
            "kilo_leader": 1,
            "kilo_endpoint": "[2001:db8::1]:51820",
            "kilo_internal_ip": "10.240.0.2/24",
            "kilo_pod_cidr": "10.2.1.0/24",
            "kilo_persistent_keepalive": 10,
            "kilo_allowed_location_ips": "172.16.10.0/24 ,172.16.11.0/24",
            "kilo_public_key": KEY,
        },
    )
    annotations = {k: v for k, v in schema.node_annotations(node).items() if v is not None}
    annotations[P + "key"] = KEY
    obj = {"metadata": {"name": "h", "annotations": annotations}, "spec": {"podCIDR": "10.2.1.0/24"}}
    fields = kube.node_fields(obj)
    for field in ("name", "location", "endpoint", "internal_ip", "pod_cidr", "leader", "public_key"):
        assert fields[field] == node[field], field
    assert fields["persistent_keepalive"] == 10
    assert fields["allowed_location_ips"] == ["172.16.10.0/24", "172.16.11.0/24"]
    # and the inventory plugin's host vars map back to the same node
    assert schema.node_from_host_vars("h", schema.host_vars_from_node(node)) == node


def test_annotations_of_a_node_spec():
    topology = build_topology(
        [
            {
                "name": "a",
                "endpoint": "198.51.100.1:51820",
                "pod_cidr": "10.2.1.0/24",
                "public_key": KEY,
                "leader": True,
                "allowed_location_ips": ["172.16.10.0/24", "172.16.11.0/24"],
            }
        ]
    )
    spec = topology.segments[0].leader
    annotations = schema.node_annotations(spec)
    assert annotations[P + "allowed-location-ips"] == "172.16.10.0/24,172.16.11.0/24"
    assert annotations[P + "force-internal-ip"] == "-" and annotations[P + "leader"] == "true"
    assert annotations[P + "persistent-keepalive"] == "0"


def test_check_node_uses_the_engine_messages_and_host_error_message_names_the_variable():
    with pytest.raises(TopologyError) as info:
        schema.check_node({"name": "n3", "allowed_location_ips": ["10.9.0.0/33"]})
    message = schema.host_error_message(info.value, {"n3": "edge"})
    assert message.startswith('node "n3": field allowed_location_ips has invalid value')
    assert "inventory host variable kilo_allowed_location_ips of host 'edge'" in message
    schema.check_node({"name": "n3", "internal_ip": None, "location": "x"})  # no endpoint or key: fine


def test_discovered_from_peer_state():
    peers = [
        {"public_key": KEY, "endpoint": "192.0.2.1:51820", "latest_handshake": 1700000000},
        {"public_key": KEY2, "endpoint": None, "latest_handshake": 0},
        {"public_key": KEY2, "endpoint": "192.0.2.2:51820", "latest_handshake": 0},  # configured, never answered
        "bad",
    ]
    assert schema.discovered_from_peer_state(peers) == {KEY: "192.0.2.1:51820"}
    assert schema.discovered_from_peer_state({"rc": 0, "stdout": "x"}) == {}
    assert schema.discovered_from_peer_state(None) == {}


def test_a_rotated_key_keeps_the_endpoints_learned_for_the_old_one() -> None:
    """Key rotation behind NAT: the endpoint the others learned for the old key serves the new key, in every
    node's map; an endpoint already learned for the new key wins, and unrelated entries stay as they are."""
    old, new, other = "O" * 43 + "=", "N" * 43 + "=", "X" * 43 + "="
    nodes = [
        {"name": "a", "discovered_endpoints": {old: "203.0.113.7:40000", other: "198.51.100.9:51820"}},
        {"name": "b", "discovered_endpoints": {old: "203.0.113.7:40000", new: "203.0.113.7:40001"}},
        {"name": "c"},
    ]
    schema.carry_discovered_endpoints(nodes, {old: new, other: other})
    assert nodes[0]["discovered_endpoints"] == {
        old: "203.0.113.7:40000",
        new: "203.0.113.7:40000",
        other: "198.51.100.9:51820",
    }
    assert nodes[1]["discovered_endpoints"][new] == "203.0.113.7:40001"
    assert "discovered_endpoints" not in nodes[2]
