# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Leader routes (docs/kilo/routes.md#routes) use the segment's effective endpoint
(docs/kilo/topology.md#endpoint-choice), like the Endpoint line.

Lab case: home-a sits behind NAT. Its internal IP equals its configured endpoint, but the other
leaders see it (discovered endpoint) at the NAT router's WAN address. Upstream Kilo replaces the
segment endpoint by the discovered one (``updateEndpoint``) before computing routes, so the other
leaders DO route home-a's internal IP/32 through the tunnel.
"""

from __future__ import annotations

import pytest
from spec_data import key

from topology import build_topology

HOME_INTERNAL = "192.168.50.10"
HOME_ROUTE = f"{HOME_INTERNAL}/32"
NAT_WAN = "198.51.100.7:40123"


def _cluster(home_keepalive=25, cloud_seen=None, dc_seen=None, internal=True):
    """Three single-node locations; home-a's endpoint equals its internal IP (NAT'ed home node)."""
    cloud = {
        "name": "cloud-a",
        "location": "cloud",
        "endpoint": "203.0.113.10:51820",
        "internal_ip": "10.0.1.10/24",
        "pod_cidr": "10.42.0.0/24",
        "public_key": key(1),
    }
    dc = {
        "name": "dc-a",
        "location": "dc",
        "endpoint": "203.0.113.20:51820",
        "internal_ip": "10.0.2.10/24",
        "pod_cidr": "10.42.1.0/24",
        "public_key": key(2),
    }
    home = {
        "name": "home-a",
        "location": "home",
        "endpoint": f"{HOME_INTERNAL}:51820",
        "internal_ip": f"{HOME_INTERNAL}/24",
        "pod_cidr": "10.42.2.0/24",
        "public_key": key(3),
        "persistent_keepalive": home_keepalive,
    }
    if not internal:
        # leaders without internal IP share one route source (none), so share cached route runs
        del cloud["internal_ip"], dc["internal_ip"]
    if cloud_seen is not None:
        cloud["discovered_endpoints"] = {key(3): cloud_seen}
    if dc_seen is not None:
        dc["discovered_endpoints"] = {key(3): dc_seen}
    return build_topology([cloud, dc, home])


def _home_routes(topo, name):
    return [route for route in topo.routes(name) if route["dst"] in (HOME_ROUTE, "10.42.2.0/24")]


def _home_endpoint(topo, name):
    (section,) = [peer for peer in topo.node_peers(name) if peer.public_key == key(3)]
    return section.endpoint


def test_discovered_endpoint_with_keepalive_adds_internal_route():
    topo = _cluster(cloud_seen=NAT_WAN)
    via = str(topo.segment_of("home-a").wireguard_ip)
    for leader in ("cloud-a", "dc-a"):
        # the Endpoint line and the route rule agree: home-a is reached at the NAT address
        assert _home_endpoint(topo, leader) == NAT_WAN
        routes = _home_routes(topo, leader)
        assert [route["dst"] for route in routes] == ["10.42.2.0/24", HOME_ROUTE]
        assert {(route["via"], route["dev"]) for route in routes} == {(via, "kilo0")}


@pytest.mark.parametrize(
    ("keepalive", "seen"),
    [
        pytest.param(25, None, id="keepalive without discovered endpoint"),
        pytest.param(0, NAT_WAN, id="discovered endpoint without keepalive"),
        pytest.param(0, None, id="neither"),
    ],
)
def test_configured_endpoint_equal_to_internal_ip_skips_route(keepalive, seen):
    topo = _cluster(home_keepalive=keepalive, cloud_seen=seen)
    for leader in ("cloud-a", "dc-a"):
        assert _home_endpoint(topo, leader) == f"{HOME_INTERNAL}:51820"
        assert [route["dst"] for route in _home_routes(topo, leader)] == ["10.42.2.0/24"]


def test_local_discovered_endpoint_wins_per_leader():
    """Each leader's own discovered endpoints come first (docs/kilo/topology.md#discovered-endpoints),
    so two leaders may differ;
    the shared route cache must not hand one leader's decision to the other."""
    topo = _cluster(cloud_seen=NAT_WAN, dc_seen=f"{HOME_INTERNAL}:51820", internal=False)
    assert _home_endpoint(topo, "cloud-a") == NAT_WAN
    assert _home_endpoint(topo, "dc-a") == f"{HOME_INTERNAL}:51820"
    assert HOME_ROUTE in [route["dst"] for route in _home_routes(topo, "cloud-a")]
    assert HOME_ROUTE not in [route["dst"] for route in _home_routes(topo, "dc-a")]
    # the other order of evaluation gives the same answers
    topo = _cluster(cloud_seen=NAT_WAN, dc_seen=f"{HOME_INTERNAL}:51820", internal=False)
    assert HOME_ROUTE not in [route["dst"] for route in _home_routes(topo, "dc-a")]
    assert HOME_ROUTE in [route["dst"] for route in _home_routes(topo, "cloud-a")]
