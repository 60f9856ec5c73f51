# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Deterministic synthetic Kilo clusters for the benchmarks.

``make_cluster(nodes, locations, peers, seed)`` returns ``{"nodes": [...], "peers": [...]}`` in the
input format of ``build_topology`` (docs/architecture.md). The same arguments always give the same
cluster. The clusters look like real fleets:

* nodes spread evenly over ``locations`` (``loc00`` ...), named ``locNN-nKKKK``;
* the first node of every location has a public endpoint (198.18.0.0/15, which Kilo counts as
  public), about 10 % of the others too, about 2 % use a DNS endpoint, the rest their internal IP;
* internal IPs ``10.128.0.0/10`` (one /16 per location), pod CIDRs one /24 each from ``10.64.0.0/10``;
* ``edge`` nodes (default 2, the last ones) have no internal IP, so in location mode each is a segment
  of its own (a fixed number, so the segment count stays about ``locations`` as N grows);
* every fourth location has an explicit leader, about 5 % of the nodes a persistent keepalive, the
  first node carries discovered endpoints for the nodes with a keepalive;
* every location has an allowed location IP range (192.168.L.0/24, a second one on every third);
* peers (``peer-NN``) with one /32 each, every third also a /24, preshared keys on the even ones,
  endpoints on the odd ones, a keepalive on every fourth.

Keys are 32 random bytes in standard base64 (44 characters), all distinct.
"""

from __future__ import annotations

import base64
import ipaddress
import random
from typing import Any

MAX_LOCATIONS = 64  # one /16 of 10.128.0.0/10 per location
MAX_NODES = 16384  # one /24 of 10.64.0.0/10 per node
MAX_PEERS = 250

_POD_BASE = int(ipaddress.IPv4Address("10.64.0.0"))
_INTERNAL_BASE = int(ipaddress.IPv4Address("10.128.0.0"))
_PUBLIC_BASE = int(ipaddress.IPv4Address("198.18.0.0"))
_DISCOVERED_BASE = int(ipaddress.IPv4Address("203.0.113.0"))


def make_key(rng: random.Random) -> str:
    """A WireGuard-style key: base64 of 32 random bytes (never the all-zero key)."""
    raw = bytes(32)
    while raw == bytes(32):
        raw = rng.randbytes(32)
    return base64.b64encode(raw).decode("ascii")


def _address(number: int) -> str:
    return str(ipaddress.IPv4Address(number))


def make_cluster(
    nodes: int, locations: int = 20, peers: int = 10, seed: int = 1, edge: int = 2
) -> dict[str, list[dict[str, Any]]]:
    """A synthetic cluster of ``nodes`` nodes in ``locations`` locations with ``peers`` peers."""
    if not 1 <= locations <= MAX_LOCATIONS:
        raise ValueError(f"locations must be 1..{MAX_LOCATIONS}, got {locations}")
    if not locations <= nodes <= MAX_NODES:
        raise ValueError(f"nodes must be {locations}..{MAX_NODES} (at least one per location), got {nodes}")
    if not 0 <= peers <= MAX_PEERS:
        raise ValueError(f"peers must be 0..{MAX_PEERS}, got {peers}")
    if not 0 <= edge <= nodes - locations:
        raise ValueError(f"edge must be 0..{nodes - locations} (nodes beyond the first of each location), got {edge}")
    rng = random.Random(seed)
    keys: set[str] = set()

    def unique_key() -> str:
        key = make_key(rng)
        while key in keys:
            key = make_key(rng)
        keys.add(key)
        return key

    node_list: list[dict[str, Any]] = []
    for index in range(nodes):
        location, rank = index % locations, index // locations
        name = f"loc{location:02d}-n{rank:04d}"
        internal = _address(_INTERNAL_BASE + location * 65536 + rank + 1)
        has_internal = index < nodes - edge
        draw = rng.random()
        if rank == 0 or not has_internal or draw < 0.10:
            endpoint = f"{_address(_PUBLIC_BASE + index + 1)}:51820"
        elif draw < 0.12:
            endpoint = f"{name}.example.net:51820"
        else:
            endpoint = f"{internal}:51820"
        node: dict[str, Any] = {
            "name": name,
            "location": f"loc{location:02d}",
            "endpoint": endpoint,
            "internal_ip": f"{internal}/16" if has_internal else None,
            "pod_cidr": f"{_address(_POD_BASE + index * 256)}/24",
            "public_key": unique_key(),
            "leader": rank == 1 and location % 4 == 0,
            "persistent_keepalive": 25 if rng.random() < 0.05 else 0,
        }
        if rank == 0:
            node["allowed_location_ips"] = [f"192.168.{location}.0/24"]
        elif rank == 1 and location % 3 == 0:
            node["allowed_location_ips"] = [f"192.168.{location}.0/24", f"172.20.{location}.0/24"]
        node_list.append(node)

    roaming = [node for node in node_list if node["persistent_keepalive"]]
    node_list[0]["discovered_endpoints"] = {
        node["public_key"]: f"{_address(_DISCOVERED_BASE + number % 254 + 1)}:{51820 + number // 254}"
        for number, node in enumerate(roaming)
    }

    peer_list: list[dict[str, Any]] = []
    for number in range(peers):
        allowed = [f"10.5.{number}.1/32"]
        if number % 3 == 2:
            allowed.append(f"10.6.{number}.0/24")
        peer: dict[str, Any] = {
            "name": f"peer-{number:02d}",
            "allowed_ips": allowed,
            "public_key": unique_key(),
            "persistent_keepalive": 25 if number % 4 == 0 else 0,
        }
        if number % 2 == 0:
            peer["preshared_key"] = make_key(rng)
        else:
            peer["endpoint"] = f"{_address(_DISCOVERED_BASE + 200 + number % 50)}:{51820 + number}"
        peer_list.append(peer)
    return {"nodes": node_list, "peers": peer_list}


def cluster_problems(cluster: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Independent sanity checks of a generated cluster (empty list = valid)."""
    problems = []
    nodes, peers = cluster["nodes"], cluster["peers"]
    names = [item["name"] for item in nodes + peers]
    if len(set(names)) != len(names):
        problems.append("duplicate names")
    keys = [item["public_key"] for item in nodes + peers]
    if len(set(keys)) != len(keys):
        problems.append("duplicate public keys")
    for item in nodes + peers:
        for field in ("public_key", "preshared_key"):
            if field in item:
                raw = base64.b64decode(item[field], validate=True)
                if len(item[field]) != 44 or len(raw) != 32 or raw == bytes(32):
                    problems.append(f"{item['name']}: bad {field}")
    pods = [ipaddress.IPv4Network(node["pod_cidr"]) for node in nodes]
    if len(set(pods)) != len(pods):
        problems.append("pod CIDRs are not distinct")
    pod_space = ipaddress.IPv4Network("10.64.0.0/10")
    if not all(pod.subnet_of(pod_space) for pod in pods):
        problems.append("pod CIDR outside 10.64.0.0/10")
    for node in nodes:
        if node["internal_ip"] is not None and ipaddress.ip_interface(node["internal_ip"]).ip in pod_space:
            problems.append(f"{node['name']}: internal IP inside the pod space")
    for peer in peers:
        for cidr in peer["allowed_ips"]:
            network = ipaddress.ip_network(cidr, strict=False)
            if any(network.overlaps(pod) for pod in (pod_space, ipaddress.ip_network("10.128.0.0/10"))):
                problems.append(f"{peer['name']}: allowed IP {cidr} overlaps the cluster")
    return problems
