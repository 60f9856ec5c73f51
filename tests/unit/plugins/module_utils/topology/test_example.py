# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""examples/three-locations: render the inventory and compare with the hand-checked expected files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from topology import build_topology

EXAMPLE = Path(__file__).resolve().parents[5] / "examples" / "three-locations"
HOST_VARS = {
    "kilo_location": "location",
    "kilo_endpoint": "endpoint",
    "kilo_internal_ip": "internal_ip",
    "kilo_pod_cidr": "pod_cidr",
    "kilo_leader": "leader",
    "kilo_persistent_keepalive": "persistent_keepalive",
    "kilo_allowed_location_ips": "allowed_location_ips",
    "kilo_public_key": "public_key",
}


@pytest.fixture(scope="module")
def topology():
    inventory = yaml.safe_load((EXAMPLE / "inventory.yml").read_text())
    hosts = inventory["all"]["children"]["kilo"]["hosts"]
    nodes = [{"name": host, **{HOST_VARS[var]: value for var, value in hv.items()}} for host, hv in hosts.items()]
    return build_topology(nodes, inventory["all"]["vars"]["kilo_example_peers"])


@pytest.mark.parametrize(
    ("expected", "render"),
    [
        ("node-aws-a.conf", lambda topo: topo.node_conf("aws-a")),
        ("node-gcp-a.conf", lambda topo: topo.node_conf("gcp-a")),
        ("node-home-a.conf", lambda topo: topo.node_conf("home-a")),
        ("peer-laptop.conf", lambda topo: topo.peer_conf("laptop")),
        ("laptop-wg-quick.conf", lambda topo: topo.peer_client_conf("laptop")),
    ],
)
def test_example_matches_expected(topology, expected, render):
    assert render(topology) == (EXAMPLE / "expected" / expected).read_text()


def test_example_leaders_and_no_other_files(topology):
    leaders = sorted(name for name in topology.node_names if topology.is_leader(name))
    assert leaders == ["aws-a", "gcp-a", "home-a"]
    node_files = sorted(p.name for p in (EXAMPLE / "expected").glob("node-*.conf"))
    assert node_files == [f"node-{name}.conf" for name in leaders]
