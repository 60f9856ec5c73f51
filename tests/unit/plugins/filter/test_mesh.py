# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""kilo.mesh.wg_conf and kilo.mesh.endpoint_split, called directly and through a real Jinja template."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.kilo.mesh.plugins.filter.mesh import FilterModule, endpoint_split, wg_conf
from ansible_collections.kilo.mesh.plugins.module_utils.topology import build_topology

TOPOLOGY_TESTS = Path(__file__).resolve().parents[1] / "module_utils" / "topology"
FILTER_DIR = Path(__file__).resolve().parents[4] / "plugins" / "filter"


def _key(index):
    return base64.b64encode(bytes([index]) * 32).decode()


@pytest.fixture()
def s1_view():
    data = json.loads((TOPOLOGY_TESTS / "fixtures" / "s1.json").read_text())
    return build_topology(data["nodes"], data["peers"]).to_dict()


def test_wg_conf_node_view_equals_kgctl(s1_view):
    assert wg_conf(s1_view["nodes"]["gcp-1"]) == (TOPOLOGY_TESTS / "golden" / "s1_node_gcp-1.conf").read_text()


def test_wg_conf_private_key_and_quick(s1_view):
    view = s1_view["nodes"]["gcp-1"]
    setconf = wg_conf(view, private_key=_key(9))
    assert setconf.startswith(f"[Interface]\nPrivateKey = {_key(9)}\nListenPort = 51820\n\n[Peer]\n")
    quick = wg_conf(view, private_key=_key(9), format="quick", interface={**view["interface"], "mtu": 1420})
    assert quick.startswith(
        f"[Interface]\nAddress = 10.4.0.3/16\nPrivateKey = {_key(9)}\nListenPort = 51820\nMTU = 1420\n\n[Peer]\n"
    )


def test_wg_conf_peer_list_only():
    peers = [
        {"public_key": _key(1), "allowed_ips": ["10.5.0.1/32"], "endpoint": "1.2.3.4:51820"},
        {"public_key": _key(2), "persistent_keepalive": 25, "preshared_key": _key(3)},
    ]
    assert wg_conf(peers) == (
        f"[Peer]\nAllowedIPs = 10.5.0.1/32\nEndpoint = 1.2.3.4:51820\nPersistentKeepalive = 0\nPublicKey = {_key(1)}\n"
        f"\n[Peer]\nPersistentKeepalive = 25\nPresharedKey = {_key(3)}\nPublicKey = {_key(2)}\n"
    )


def test_wg_conf_non_leader_view_is_empty(s1_view):
    assert wg_conf({"peers": [], "interface": None}) == ""
    assert s1_view["nodes"]["gcp-2"]["peers"] == []


@pytest.mark.parametrize(
    ("data", "kwargs", "match"),
    [
        ("text", {}, "input must be a node view"),
        ([{"allowed_ips": []}], {}, "peer #1 needs a public_key"),
        ([{"public_key": "k", "colour": 1}], {}, "unknown key"),
        ([{"public_key": "k", "allowed_ips": "10.0.0.0/8"}], {}, "allowed_ips must be a list"),
        ([{"public_key": "k", "persistent_keepalive": -1}], {}, "persistent_keepalive must be"),
        ([], {"format": "ini"}, "format must be one of"),
        ([], {"interface": "x"}, "interface must be a dict"),
    ],
)
def test_wg_conf_errors(data, kwargs, match):
    with pytest.raises(AnsibleFilterError, match=match):
        wg_conf(data, **kwargs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3.4:51820", {"host": "1.2.3.4", "port": 51820, "ip": "1.2.3.4", "dns": None, "text": "1.2.3.4:51820"}),
        (
            "[2001:db8::10]:051820",
            {"host": "2001:db8::10", "port": 51820, "ip": "2001:db8::10", "dns": None, "text": "[2001:db8::10]:51820"},
        ),
        (
            "edge.example.com:51820",
            {
                "host": "edge.example.com",
                "port": 51820,
                "ip": None,
                "dns": "edge.example.com",
                "text": "edge.example.com:51820",
            },
        ),
    ],
)
def test_endpoint_split(text, expected):
    assert endpoint_split(text) == expected


@pytest.mark.parametrize(
    ("text", "match"),
    [("Edge.example.com:1", "lowercase"), ("1.2.3.4", "missing port"), (5, "must be a string"), ("1.2.3.4:0", "1..")],
)
def test_endpoint_split_errors(text, match):
    with pytest.raises(AnsibleFilterError, match=match):
        endpoint_split(text)


def test_filters_map_and_sidecar_docs():
    filters = FilterModule().filters()
    assert set(filters) == {"wg_conf", "endpoint_split"}
    for name in filters:
        doc = yaml.safe_load((FILTER_DIR / f"{name}.yml").read_text())
        assert doc["DOCUMENTATION"]["name"] == name
        assert "_input" in doc["DOCUMENTATION"]["options"]
        assert "_value" in doc["RETURN"]
        assert "kilo.mesh." + name in doc["EXAMPLES"]
