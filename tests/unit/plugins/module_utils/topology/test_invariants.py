# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Invariants: reruns give identical output, input order does not matter, views agree."""

from __future__ import annotations

import json
import random

import pytest
from spec_data import load_fixture

from topology import build_topology as _build


def build_topology(*args, **kwargs):
    """S2 reproduces inputs Kilo accepts although they break routing (docs/deviations.md)."""
    return _build(*args, kilo_compatible=True, **kwargs)


@pytest.fixture(params=["s1.json", "s2.json"])
def scenario(request):
    return load_fixture(request.param)


@pytest.mark.parametrize("granularity", ["location", "full", "cross"])
def test_rerun_identical(scenario, granularity):
    first = build_topology(scenario["nodes"], scenario["peers"], granularity=granularity).to_dict()
    second = build_topology(scenario["nodes"], scenario["peers"], granularity=granularity).to_dict()
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("granularity", ["location", "full"])
def test_input_order_does_not_matter(scenario, granularity, seed):
    expected = json.dumps(build_topology(scenario["nodes"], scenario["peers"], granularity=granularity).to_dict())
    rng = random.Random(seed)
    nodes = list(scenario["nodes"])
    peers = list(scenario["peers"])
    rng.shuffle(nodes)
    rng.shuffle(peers)
    assert json.dumps(build_topology(nodes, peers, granularity=granularity).to_dict()) == expected


def test_inputs_not_modified(scenario):
    before = json.dumps(scenario, sort_keys=True)
    build_topology(scenario["nodes"], scenario["peers"]).to_dict()
    assert json.dumps(scenario, sort_keys=True) == before


@pytest.mark.parametrize("granularity", ["location", "full"])
def test_views_agree(scenario, granularity):
    topo = build_topology(scenario["nodes"], scenario["peers"], granularity=granularity)
    data = topo.to_dict()
    assert json.loads(json.dumps(data)) == data  # JSON-safe
    for name, view in data["nodes"].items():
        assert view["is_leader"] == (view["leader"] == name)
        if view["is_leader"]:
            assert view["conf"] == topo.node_conf(name)
            # structured peers are the [Peer] sections of conf, same order
            assert view["conf"].count("[Peer]") == len(view["peers"])
            assert [p["public_key"] for p in view["peers"]] == [
                line.split(" = ")[1] for line in view["conf"].splitlines() if line.startswith("PublicKey")
            ]
            assert view["interface"] == {"address": view["wireguard_ip"], "listen_port": 51820}
        else:
            assert view["conf"] == "" and view["peers"] == [] and view["wireguard_ip"] is None
        assert view["routes"] == topo.routes(name)
    for name, view in data["peers"].items():
        assert view["conf"] == topo.peer_conf(name)


def test_each_config_allowed_ips_are_unique_per_section_owner(scenario):
    """Within a leader's config, no IP text is claimed by two different keys (except documented
    location-IP/WireGuard-IP collisions, which these scenarios do not have)."""
    topo = build_topology(scenario["nodes"], scenario["peers"])
    for name in topo.node_names:
        if not topo.is_leader(name):
            continue
        seen = {}
        for peer in topo.node_peers(name):
            for ip in peer.allowed_ips:
                assert seen.setdefault(ip, peer.public_key) == peer.public_key


def test_wireguard_ips_positional(scenario):
    topo = build_topology(scenario["nodes"], scenario["peers"])
    assert [int(s.wireguard_ip) - int(topo.subnet.network_address) for s in topo.segments] == list(
        range(1, len(topo.segments) + 1)
    )
