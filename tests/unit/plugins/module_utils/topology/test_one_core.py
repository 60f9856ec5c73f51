# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""One rule in one place: one endpoint grammar, one key parser, one [Interface] renderer, one file writer,
and a data model that imports none of its views (docs/architecture.md, "Engine API")."""

from __future__ import annotations

import ast
import os
import stat
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from spec_data import key, load_fixture

from ansible_collections.kilo.mesh.plugins.filter.mesh import endpoint_split
from ansible_collections.kilo.mesh.plugins.module_utils import _files
from ansible_collections.kilo.mesh.plugins.module_utils import _wireguard as wgu
from topology import build_topology, graph, kube, parse, render, views
from topology.errors import InvalidEndpointError, InvalidKeyError

TOPOLOGY = Path(__file__).resolve().parents[5] / "plugins" / "module_utils" / "topology"


def _s1():
    data = load_fixture("s1.json")
    return build_topology(data["nodes"], data["peers"])


def node(**changes):
    base = {
        "name": "a",
        "endpoint": "192.0.2.1:51820",
        "internal_ip": "10.240.0.1/24",
        "pod_cidr": "10.2.0.0/24",
        "public_key": key(1),
    }
    base.update(changes)
    return base


# ------------------------------------------------------------------------------------- endpoints

ENDPOINTS = [
    "192.0.2.1:51820",
    "[2001:DB8::1]:51820",
    "[::ffff:1.2.3.4]:51820",
    "vpn.example.com:4500",
    "1.2.3.4:051820",
    "198.051.100.2:51820",
    "010.0.0.1:51820",
    "1.2.3.256:51820",
    "Vpn.Example.com:4500",
    "vpn.example.com.:4500",
    "host_name:1",
    "2001:db8::1:51820",
    "[fe80::1%eth0]:51820",
    "1.2.3.4:0",
    "1.2.3.4",
]


@pytest.mark.parametrize("text", ENDPOINTS)
def test_every_endpoint_reader_applies_the_same_grammar(text):
    """The engine, the node-side helpers, the Kubernetes reader and the filter accept and refuse alike."""
    endpoint, _reason = parse.endpoint_problem(text)
    accepted = endpoint is not None
    try:
        wgu.parse_endpoint(text)
        node_side = True
    except ValueError:
        node_side = False
    try:
        endpoint_split(text)
        filtered = True
    except AnsibleFilterError:
        filtered = False
    assert (node_side, filtered, kube.parse_endpoint(text) is not None) == (accepted, accepted, accepted)
    if accepted:
        assert wgu.parse_endpoint(text) == (endpoint.host, endpoint.port)
        assert kube.parse_endpoint(text) == endpoint.text == endpoint_split(text)["text"]


def test_an_ipv4_endpoint_with_leading_zeros_is_refused_by_the_engine():
    with pytest.raises(InvalidEndpointError) as info:
        build_topology([node(endpoint="198.051.100.2:51820")])
    message = str(info.value)
    assert 'node "a": field endpoint' in message
    assert "leading zeros" in message and "198.51.100.2" in message


# ------------------------------------------------------------------------------------------ keys


@pytest.mark.parametrize("bad", ["c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "x" * 44, key(2)[:-2] + "=="])
def test_an_invalid_preshared_key_is_named_as_such_and_never_shown(bad):
    peer = {"name": "laptop", "allowed_ips": ["10.5.0.1/32"], "public_key": key(9), "preshared_key": bad}
    with pytest.raises(InvalidKeyError) as info:
        build_topology([node()], [peer])
    message = str(info.value)
    assert 'peer "laptop": field preshared_key' in message
    assert "expected a WireGuard preshared key" in message and "wg genpsk" in message
    assert "public key" not in message
    assert bad not in message


def test_one_key_parser():
    assert parse.parse_key(key(3)) == key(3)
    assert parse.decode_key(key(3)) == bytes([3]) * 32
    assert wgu.decode_key(" " + key(3) + "\n") == bytes([3]) * 32  # key files: surrounding whitespace
    for bad in ("abc", "!" * 43 + "=", parse.ZERO_KEY):
        with pytest.raises(ValueError) as info:
            parse.parse_key(bad)
        assert bad not in str(info.value)
    assert parse.parse_key(parse.ZERO_KEY, allow_zero=True) == parse.ZERO_KEY
    assert wgu.ZERO_KEY == parse.ZERO_KEY and wgu.REDACTED == "(redacted)"


# ----------------------------------------------------------------------------------- [Interface]


def test_one_interface_renderer_and_order():
    lines = render.interface_lines(
        address=["10.4.0.1/16"],
        private_key=key(4),
        listen_port=51820,
        dns=["10.43.0.10"],
        mtu=1420,
        table="1107",
        post_up=["true"],
    )
    assert [line.split(" = ")[0] for line in lines] == [
        "Address",
        "PrivateKey",
        "ListenPort",
        "DNS",
        "MTU",
        "Table",
        "PostUp",
    ]
    node_side = wgu.render_config(key(4), [], ["10.4.0.1/16"], 51820, 1420, "1107", post_up=["true"])
    assert node_side == "[Interface]\n" + "\n".join(lines[:3] + lines[4:]) + "\n"
    assert wgu.render_setconf(key(4), [], 51820) == "[Interface]\n" + "\n".join(lines[1:3]) + "\n"


def test_client_conf_listen_port_follows_the_private_key():
    topo = _s1()
    text = topo.peer_client_conf("laptop", private_key=key(77), dns=["10.43.0.10"], mtu=1380, listen_port=51821)
    head = text.split("\n\n", 1)[0].splitlines()
    assert [line.split(" = ")[0] for line in head] == [
        "[Interface]",
        "Address",
        "PrivateKey",
        "ListenPort",
        "DNS",
        "MTU",
    ]


# -------------------------------------------------------------------------------------- write_atomic


def test_write_atomic_creates_private_files_and_directories(tmp_path):
    target = tmp_path / "new" / "dir" / "key"
    _files.write_atomic(str(target), "secret\n")
    assert target.read_text() == "secret\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    _files.write_atomic(str(target), b"\x00\x01", mode=0o644)
    assert target.read_bytes() == b"\x00\x01"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(os.listdir(target.parent)) == ["key"]  # no temporary file left


def test_write_atomic_raises_oserror_and_leaves_nothing_behind(tmp_path):
    directory = tmp_path / "ro"
    directory.mkdir()
    (directory / "file").mkdir()  # a directory where the file should go: the rename fails
    with pytest.raises(OSError):
        _files.write_atomic(str(directory / "file"), "x")
    assert sorted(os.listdir(directory)) == ["file"]


# ------------------------------------------------------------------------------ model without views


def test_the_model_imports_none_of_its_views():
    tree = ast.parse((TOPOLOGY / "model.py").read_text())
    imported = set()
    for item in ast.walk(tree):
        if isinstance(item, ast.ImportFrom):
            imported.add((item.module or "").lstrip("."))
            imported.update(alias.name for alias in item.names)
        elif isinstance(item, ast.Import):
            imported.update(alias.name for alias in item.names)
    assert not imported & {"render", "routes", "graph", "views", "build"}, imported


@pytest.mark.parametrize("module", ["render.py", "routes.py", "graph.py", "views.py", "parse.py", "build.py"])
def test_no_import_is_hidden_inside_a_function(module):
    tree = ast.parse((TOPOLOGY / module).read_text())
    for item in ast.walk(tree):
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner = [n for n in ast.walk(item) if isinstance(n, (ast.Import, ast.ImportFrom))]
            assert not inner, f"{module}: {item.name} imports inside the function"


def test_the_views_are_the_view_modules_functions():
    topo = _s1()
    assert isinstance(topo, views.Topology)
    assert topo.graph() == graph.render_dot(graph.graph_from_topology(topo))
    leader = next(name for name in topo.node_names if topo.is_leader(name))
    assert topo.node_conf(leader) == render.node_conf(topo, leader)
    assert topo.to_dict() == views.to_dict(topo)
    assert topo.peer_conf("laptop") == render.peer_conf(topo, "laptop")
