# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Byte-for-byte comparisons with the verified upstream outputs in golden/ (scenarios: docs/kilo/examples.md)."""

from __future__ import annotations

import re

import pytest
from spec_data import golden, load_fixture

from topology import NotLeaderError, build_topology


def _s1(**options):
    data = load_fixture("s1.json")
    return build_topology(data["nodes"], data["peers"], **options)


@pytest.mark.parametrize(
    ("golden_file", "render"),
    [
        pytest.param("s1_node_gcp-1.conf", lambda: _s1().node_conf("gcp-1"), id="showconf node gcp-1"),
        pytest.param(
            "s1_node_gcp-1_port12345.conf", lambda: _s1(port=12345).node_conf("gcp-1"), id="showconf node --port"
        ),
        pytest.param("s1_node_edge-1.conf", lambda: _s1().node_conf("edge-1"), id="showconf node edge-1"),
        pytest.param(
            "s1_node_gcp-1_as_peer.conf",
            lambda: _s1().node_as_peer("gcp-1", ["10.43.0.0/16", "10.2.0.0/24"]),
            id="node gcp-1 --as-peer wireguard",
        ),
        pytest.param(
            "s1_node_aws-2_as_peer.yaml",
            lambda: _s1().node_as_peer("aws-2", ["10.43.0.0/16"], output="yaml"),
            id="node aws-2 --as-peer yaml",
        ),
        pytest.param(
            "s1_node_aws-2_as_peer.json",
            lambda: _s1().node_as_peer("aws-2", output="json"),
            id="node aws-2 --as-peer json",
        ),
        pytest.param("s1_peer_laptop.conf", lambda: _s1().peer_conf("laptop"), id="showconf peer laptop"),
        pytest.param("s1_peer_office.conf", lambda: _s1().peer_conf("office"), id="showconf peer office"),
        pytest.param(
            "s1_peer_laptop_as_peer.conf", lambda: _s1().peer_as_peer("laptop"), id="showconf peer laptop --as-peer"
        ),
        pytest.param(
            "s1_full_node_gcp-1.conf",
            lambda: _s1(granularity="full").node_conf("gcp-1"),
            id="full granularity gcp-1 with discovered endpoint",
        ),
    ],
)
def test_s1_golden(golden_file, render):
    assert render() == golden(golden_file)


def test_s1_graph_via_topology():
    """Topology.graph() hands the segments to graph.py; the DOT text equals kgctl graph (golden/s1_graph.dot)."""
    assert _s1().graph() == golden("s1_graph.dot")


def test_json_has_no_trailing_newline():
    assert not _s1().node_as_peer("aws-2", output="json").endswith("\n")


@pytest.mark.parametrize("name", ["gcp-2", "aws-1"])
def test_s1_non_leader_showconf(name):
    topo = _s1()
    with pytest.raises(NotLeaderError, match=f'^Node "{name}" is not a leader node$'):
        topo.node_conf(name)
    assert topo.to_dict()["nodes"][name]["conf"] == ""


def test_upstream_fixture_node_a_with_private_key():
    data = load_fixture("upstream.json")
    topo = build_topology(data["nodes"], data["peers"], allow_duplicate_keys=True, kilo_compatible=True)
    assert topo.node_conf("a", private_key=data["private_key"]) == golden("upstream_node_a_location.conf")


def _route_line(route):
    parts = [route["dst"]]
    if route["via"]:
        parts += ["via", route["via"]]
    parts += ["dev", route["dev"]]
    if route["src"]:
        parts += ["src", route["src"]]
    if route["onlink"]:
        parts.append("onlink")
    if route["table"] is not None:
        parts += ["table", str(route["table"])]
    return " ".join(parts)


def _rule_line(rule):
    parts = ["rule"]
    if rule["src"]:
        parts += ["from", rule["src"]]
    if rule["iif"]:
        parts += ["iif", rule["iif"]]
    parts += ["to", rule["dst"], "lookup", str(rule["table"])]
    return " ".join(parts)


def _spec_lines(text):
    """golden/s1_routes_gcp-1_always.txt listing -> normalised lines (eth0 is our ``private`` device, comments
    dropped)."""
    lines = []
    for line in text.splitlines():
        line = re.sub(r"\(.*\)", "", line)
        line = " ".join(line.split()).replace("dev eth0", "dev private")
        if line:
            lines.append(line)
    return lines


def test_routes_gcp1_always_golden():
    topo = _s1()
    got = [_route_line(r) for r in topo.routes("gcp-1", encapsulate="always")]
    got += [_rule_line(r) for r in topo.rules("gcp-1", encapsulate="always")]
    assert got == _spec_lines(golden("s1_routes_gcp-1_always.txt"))


def test_routes_gcp1_never_and_crosssubnet():
    """docs/kilo/examples.md#scenario-s1-routes: with never/crosssubnet the tunl0 lines become one plain line, no table
    1107, no rules."""
    expected = [
        line
        for line in _spec_lines(golden("s1_routes_gcp-1_always.txt"))
        if "table 1107" not in line and not line.startswith("rule")
    ]
    expected = [
        "10.2.1.0/24 via 10.240.0.3 dev private onlink" if line.startswith("10.2.1.0/24") else line for line in expected
    ]
    topo = _s1()
    for mode in ("never", "crosssubnet"):
        assert [_route_line(r) for r in topo.routes("gcp-1", encapsulate=mode)] == expected
        assert topo.rules("gcp-1", encapsulate=mode) == []
    without_local = [line for line in expected if not line.startswith("10.2.1.0/24")]
    assert [_route_line(r) for r in topo.routes("gcp-1", encapsulate="never", local=False)] == without_local


GCP2_DESTINATIONS = [
    "10.4.0.1/32",
    "10.2.5.0/24",
    "192.168.1.10/32",
    "10.4.0.2/32",
    "10.2.2.0/24",
    "10.2.3.0/24",
    "172.31.0.5/32",
    "172.31.0.6/32",
    "172.31.100.0/24",
    "10.4.0.3/32",
    "10.2.0.0/24",
    "10.4.0.4/32",
    "10.2.4.0/24",
    "10.5.0.1/32",
    "10.5.0.2/32",
    "192.168.50.0/24",
]


def test_routes_gcp2_always():
    topo = _s1()
    routes = topo.routes("gcp-2", encapsulate="always")
    plain = [r for r in routes if r["table"] is None]
    assert [r["dst"] for r in plain] == GCP2_DESTINATIONS
    assert {(r["via"], r["dev"], r["src"], r["onlink"]) for r in plain} == {("10.240.0.2", "tunl0", "10.240.0.3", True)}
    assert [_route_line(r) for r in routes if r["table"] is not None] == [
        "10.240.0.2/32 via 10.240.0.2 dev tunl0 src 10.240.0.3 onlink table 1107"
    ]
    assert [_rule_line(r) for r in topo.rules("gcp-2", encapsulate="always")] == [
        "rule from 10.2.1.0/24 to 10.240.0.2/32 lookup 1107"
    ]


def test_routes_gcp2_never_and_flannel():
    topo = _s1()
    routes = topo.routes("gcp-2", encapsulate="never")
    assert [r["dst"] for r in routes] == GCP2_DESTINATIONS
    assert {(r["via"], r["dev"], r["src"], r["onlink"], r["table"]) for r in routes} == {
        ("10.240.0.2", "private", None, True, None)
    }
    assert topo.rules("gcp-2", encapsulate="never") == []
    flannel = topo.routes("gcp-2", encapsulate="never", compatibility="flannel")
    assert {r["via"] for r in flannel} == {"10.2.0.0"}


def test_routes_edge1_no_internal_ip():
    routes = _s1().routes("edge-1", encapsulate="always")
    assert {r["dev"] for r in routes} == {"kilo0"}
    assert all(r["src"] is None for r in routes)
    assert {r["via"] for r in routes if r["via"]} == {"10.4.0.1", "10.4.0.2", "10.4.0.3"}
