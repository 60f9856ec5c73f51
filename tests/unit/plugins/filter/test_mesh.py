# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""kilo.mesh.wg_conf, kilo.mesh.wg_conf_parse and kilo.mesh.endpoint_split, called directly."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.kilo.mesh.plugins.filter.mesh import FilterModule, endpoint_split, wg_conf, wg_conf_parse
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
    assert set(filters) == {"wg_conf", "wg_conf_parse", "endpoint_split", "node_digest"}
    for name in filters:
        doc = yaml.safe_load((FILTER_DIR / f"{name}.yml").read_text())
        assert doc["DOCUMENTATION"]["name"] == name
        assert "_input" in doc["DOCUMENTATION"]["options"]
        assert "_value" in doc["RETURN"]
        assert "kilo.mesh." + name in doc["EXAMPLES"]


def test_wg_conf_parse_reads_back_what_wg_conf_writes(s1_view):
    """A client configuration rendered by wg_conf (wg-quick format) parses back to the same fields."""
    view = s1_view["nodes"]["gcp-1"]
    interface = {"address": ["10.5.0.1/32"], "listen_port": 51820, "mtu": 1380}
    text = wg_conf(view, interface=interface, private_key=_key(9), format="quick")
    parsed = wg_conf_parse(text)
    assert parsed["interface"] == {
        "address": ["10.5.0.1/32"],
        "dns": [],
        "mtu": 1380,
        "listen_port": 51820,
        "private_key": _key(9),
        "table": None,
        "fwmark": None,
    }
    assert [peer["public_key"] for peer in parsed["peers"]] == [peer["public_key"] for peer in view["peers"]]
    for got, want in zip(parsed["peers"], view["peers"], strict=True):
        assert got["allowed_ips"] == want["allowed_ips"]
        assert got["endpoint"] == want["endpoint"]
        assert got["persistent_keepalive"] == want["persistent_keepalive"]
        assert got["preshared_key"] == want["preshared_key"]


def test_wg_conf_parse_wg_quick_details():
    text = f"""
# laptop
[interface]
address = 10.5.0.1/32, fd00::1/128
Address = 10.5.0.9/32
PrivateKey = {_key(1)}   # comment after a value
DNS = 1.1.1.1

[Peer]
PublicKey = {_key(2)}
AllowedIPs = 10.2.0.0/24,10.4.0.1/32
AllowedIPs = 192.168.1.0/24
PersistentKeepalive = off

[Peer]
PublicKey = {_key(3)}
PresharedKey = {_key(4)}
Endpoint = [2001:db8::1]:51820
"""
    parsed = wg_conf_parse(text)
    assert parsed["interface"]["address"] == ["10.5.0.1/32", "fd00::1/128", "10.5.0.9/32"]
    assert parsed["interface"]["dns"] == ["1.1.1.1"]
    assert parsed["interface"]["private_key"] == _key(1)
    assert parsed["peers"] == [
        {
            "public_key": _key(2),
            "allowed_ips": ["10.2.0.0/24", "10.4.0.1/32", "192.168.1.0/24"],
            "endpoint": None,
            "persistent_keepalive": 0,
            "preshared_key": None,
        },
        {
            "public_key": _key(3),
            "allowed_ips": [],
            "endpoint": "[2001:db8::1]:51820",
            "persistent_keepalive": 0,
            "preshared_key": _key(4),
        },
    ]
    assert wg_conf_parse(f"[Peer]\nPublicKey = {_key(2)}\n")["interface"] is None  # a wg setconf peer file


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[Interface]\nPostUp = iptables -A ...\n", r"line 2: PostUp is not supported here"),
        ("[Interface]\nSaveConfig = true\n", r"line 2: SaveConfig is not supported"),
        ("[Interface]\n[Interface]\n", r"line 2: a second \[Interface\] section"),
        ("[Peers]\n", r"line 1: unknown section \[Peers\]"),
        ("PrivateKey = SECRETVALUE\n", r"line 1: PrivateKey before the first \[Interface\] or \[Peer\]"),
        ("[Interface]\nPrivateKey SECRETVALUE\n", r"line 2: expected 'Key = Value'"),
        ("[Interface]\nListenPort = SECRETVALUE\n", r"line 2: ListenPort must be a number"),
        ("[Interface]\nPrivateKey = a\nPrivateKey = SECRETVALUE\n", r"line 3: PrivateKey appears twice"),
        ("[Peer]\nAllowedIPs = 10.0.0.0/8\n", r"\[Peer\] number 1 has no PublicKey"),
        (42, r"input must be the text of a configuration, got int"),
    ],
)
def test_wg_conf_parse_errors_name_the_line_never_the_value(text, match):
    with pytest.raises(AnsibleFilterError, match=match) as error:
        wg_conf_parse(text)
    assert "SECRETVALUE" not in str(error.value)


def test_node_digest_is_the_record_digest():
    digest = FilterModule().filters()["node_digest"]
    inputs = {"node": {"peers": [{"public_key": "k", "preshared_key": "secret"}]}, "mtu": 1420}
    assert digest(inputs) == digest({"mtu": 1420, "node": {"peers": [{"preshared_key": "secret", "public_key": "k"}]}})
    assert digest(inputs) != digest(dict(inputs, mtu=1380))
    assert "secret" not in digest(inputs) and len(digest(inputs)) == 64


def test_node_digest_changes_with_the_collection_version(monkeypatch):
    from ansible_collections.kilo.mesh.plugins.filter import mesh

    assert mesh.collection_version() == yaml.safe_load((FILTER_DIR.parents[1] / "galaxy.yml").read_text())["version"]
    before = mesh.node_digest({"mtu": 1420})
    monkeypatch.setattr(mesh, "collection_version", lambda: "99.0.0")
    assert mesh.node_digest({"mtu": 1420}) != before
