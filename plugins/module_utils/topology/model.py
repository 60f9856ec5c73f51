# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Frozen data classes of the topology engine: data and look-ups, no views.

``build_topology`` (build.py) fills them in one pass. This module imports none of render.py,
routes.py, graph.py or views.py: those import it (see views.py).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple, Union

from .constants import INTERFACE_NAME, KILO_TABLE
from .errors import NotLeaderError, UnknownNameError

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

ENCAPSULATIONS = ("never", "crosssubnet", "always")
COMPATIBILITIES = (None, "flannel", "cilium")
#: device names used in route dicts; ``private`` is the interface that holds the internal IP
WIREGUARD_DEVICE = INTERFACE_NAME
PRIVATE_DEVICE = "private"
TUNNEL_DEVICE = "tunl0"
FLANNEL_DEVICE = "flannel.1"


def cidr_text(value: Union[IPInterface, IPNetwork]) -> str:
    """``ip/len`` with the address as stored (host bits kept for interfaces)."""
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return f"{value.network_address}/{value.prefixlen}"
    return f"{value.ip}/{value.network.prefixlen}"


def single_cidr(address: IPAddress) -> str:
    """Single-address CIDR of an IP: /32 for IPv4, /128 for IPv6 (docs/kilo/topology.md#public-addresses)."""
    return f"{address}/{address.max_prefixlen}"


@dataclass(frozen=True)
class Endpoint:
    """A WireGuard endpoint: an IP endpoint (``ip`` set) or a DNS endpoint (``dns`` set).

    ``text`` is what configs print: the verbatim string for DNS endpoints, ``a.b.c.d:port`` or
    ``[v6]:port`` for IP endpoints.
    """

    text: str
    port: int
    ip: Optional[IPAddress] = None
    dns: Optional[str] = None

    @property
    def host(self) -> str:
        return self.dns if self.dns is not None else str(self.ip)

    def to_dict(self) -> Dict[str, Any]:
        return {"text": self.text, "host": self.host, "port": self.port, "ip": _opt_str(self.ip), "dns": self.dns}


@dataclass(frozen=True)
class NodeSpec:
    """A validated node (docs/kilo/annotations.md#node-record); pod CIDR reduced to its network, internal IP with host
    bits."""

    name: str
    location: str
    endpoint: Endpoint
    internal_ip: Optional[IPInterface]
    pod_cidr: IPNetwork
    public_key: str
    leader: bool
    persistent_keepalive: int
    allowed_location_ips: Tuple[IPInterface, ...] = ()
    discovered_endpoints: Tuple[Tuple[str, Endpoint], ...] = ()
    #: cached texts (computed once, used by every view): pod CIDR, internal IP as /32 (or /128), address
    pod_text: str = field(init=False, compare=False, repr=False)
    internal_text: Optional[str] = field(init=False, compare=False, repr=False)
    internal_address: Optional[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pod_text", cidr_text(self.pod_cidr))
        internal = self.internal_ip
        object.__setattr__(self, "internal_text", single_cidr(internal.ip) if internal is not None else None)
        object.__setattr__(self, "internal_address", str(internal.ip) if internal is not None else None)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "location": self.location,
            "endpoint": self.endpoint.text,
            "internal_ip": cidr_text(self.internal_ip) if self.internal_ip is not None else None,
            "pod_cidr": cidr_text(self.pod_cidr),
            "public_key": self.public_key,
            "leader": self.leader,
            "persistent_keepalive": self.persistent_keepalive,
            "allowed_location_ips": [cidr_text(ip) for ip in self.allowed_location_ips],
            "discovered_endpoints": {key: ep.text for key, ep in self.discovered_endpoints},
        }


@dataclass(frozen=True)
class PeerSpec:
    """A validated peer (docs/kilo/peers.md#from-a-peer-to-a-mesh-peer); allowed IPs in spec order with host bits."""

    name: str
    allowed_ips: Tuple[IPInterface, ...]
    public_key: str
    preshared_key: Optional[str] = None
    endpoint: Optional[Endpoint] = None
    persistent_keepalive: int = 0

    @property
    def allowed_ips_text(self) -> Tuple[str, ...]:
        return tuple(cidr_text(ip) for ip in self.allowed_ips)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "allowed_ips": list(self.allowed_ips_text),
            "public_key": self.public_key,
            "preshared_key": self.preshared_key,
            "endpoint": self.endpoint.text if self.endpoint is not None else None,
            "persistent_keepalive": self.persistent_keepalive,
        }


@dataclass(frozen=True)
class Segment:
    """A group of nodes that shares one leader and one WireGuard IP (docs/kilo/topology.md).

    ``allowed_ips``: per node pod CIDR then internal IP/32 (name order), then the WireGuard IP/32.
    ``allowed_location_ips``: the filtered location IPs (text, sorted, host bits kept).
    ``location``: ``location:<name>`` of the nodes (used by ``cross`` granularity).
    """

    index: int
    key: str
    location: str
    nodes: Tuple[NodeSpec, ...]
    leader: NodeSpec
    wireguard_ip: IPAddress
    allowed_ips: Tuple[str, ...]
    allowed_location_ips: Tuple[str, ...]

    @property
    def public_key(self) -> str:
        return self.leader.public_key

    @property
    def endpoint(self) -> Endpoint:
        return self.leader.endpoint

    @property
    def persistent_keepalive(self) -> int:
        return self.leader.persistent_keepalive

    @property
    def node_names(self) -> Tuple[str, ...]:
        return tuple(node.name for node in self.nodes)

    @property
    def private_ips(self) -> Tuple[IPInterface, ...]:
        return tuple(node.internal_ip for node in self.nodes if node.internal_ip is not None)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-safe form; the shape ``graph.graph_from_dict`` reads (plus a few extra keys)."""
        return {
            "key": self.key,
            "index": self.index,
            "leader": self.leader.name,
            "wireguard_ip": str(self.wireguard_ip),
            "endpoint": self.endpoint.text,
            "public_key": self.public_key,
            "allowed_ips": list(self.allowed_ips),
            "allowed_location_ips": list(self.allowed_location_ips),
            "nodes": [
                {
                    "name": node.name,
                    "pod_cidr": cidr_text(node.pod_cidr),
                    "internal_ip": str(node.internal_ip.ip) if node.internal_ip is not None else None,
                    "wireguard_ip": str(self.wireguard_ip) if node is self.leader else None,
                    "endpoint": node.endpoint.text if node is self.leader else None,
                }
                for node in self.nodes
            ],
        }


@dataclass(frozen=True)
class Peer:
    """A peer as the mesh sees it: its spec plus its de-duplicated allowed IPs
    (docs/kilo/topology.md#peer-de-duplication)."""

    spec: PeerSpec
    allowed_ips: Tuple[str, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def public_key(self) -> str:
        return self.spec.public_key

    @property
    def endpoint(self) -> Optional[Endpoint]:
        return self.spec.endpoint

    def to_dict(self) -> Dict[str, Any]:
        data = self.spec.to_dict()
        data["mesh_allowed_ips"] = list(self.allowed_ips)
        return data


@dataclass(frozen=True)
class WgPeer:
    """One ``[Peer]`` section of a WireGuard configuration."""

    public_key: str
    allowed_ips: Tuple[str, ...] = ()
    endpoint: Optional[str] = None
    persistent_keepalive: int = 0
    preshared_key: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return {
            "public_key": self.public_key,
            "allowed_ips": list(self.allowed_ips),
            "endpoint": self.endpoint,
            "persistent_keepalive": self.persistent_keepalive,
            "preshared_key": self.preshared_key,
        }


@dataclass(frozen=True)
class Route:
    """A route (docs/kilo/routes.md#routes). ``dev`` is kilo0, private (the internal-IP interface), tunl0 or
    flannel.1."""

    dst: str
    dev: str
    via: Optional[str] = None
    src: Optional[str] = None
    onlink: bool = False
    table: Optional[int] = None

    def to_dict(self) -> Dict[str, Any]:
        return {
            "dst": self.dst,
            "via": self.via,
            "dev": self.dev,
            "src": self.src,
            "onlink": self.onlink,
            "table": self.table,
        }


@dataclass(frozen=True)
class Rule:
    """A policy rule ``[from SRC] [iif IIF] to DST lookup TABLE`` (docs/kilo/routes.md#routes)."""

    dst: str
    table: int = KILO_TABLE
    src: Optional[str] = None
    iif: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return {"src": self.src, "iif": self.iif, "dst": self.dst, "table": self.table}


def _opt_str(value: Any) -> Optional[str]:
    return None if value is None else str(value)


@dataclass(frozen=True)
class TopologyData:
    """The whole mesh, computed once: data and look-ups only.

    Its views (configurations, routes, lookup output, graph) live in render.py, routes.py, graph.py
    and views.py, which import this module; ``build_topology`` returns a :class:`.views.Topology`.
    """

    granularity: str
    port: int
    subnet: IPNetwork
    service_cidrs: Tuple[IPNetwork, ...]
    segments: Tuple[Segment, ...]
    peers: Tuple[Peer, ...]
    node_segment: Dict[str, int] = field(compare=False, repr=False)
    discovered: Dict[str, Endpoint] = field(compare=False, repr=False)
    nodes_by_name: Dict[str, NodeSpec] = field(compare=False, repr=False)
    peers_by_name: Dict[str, Peer] = field(compare=False, repr=False)
    #: input that works but is probably a mistake (build.py); one message per problem, for the user
    warnings: Tuple[str, ...] = field(default=(), compare=False)
    #: memo of shared, immutable route chunks (routes.py); never part of equality
    cache: Dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    # -- look-ups -------------------------------------------------------------------------------
    @property
    def node_names(self) -> Tuple[str, ...]:
        return tuple(sorted(self.nodes_by_name))

    @property
    def peer_names(self) -> Tuple[str, ...]:
        return tuple(peer.name for peer in self.peers)

    def node(self, name: str) -> NodeSpec:
        try:
            return self.nodes_by_name[name]
        except KeyError:
            raise UnknownNameError(f'did not find any node named "{name}" in the cluster', "node", name) from None

    def peer(self, name: str) -> Peer:
        try:
            return self.peers_by_name[name]
        except KeyError:
            raise UnknownNameError(f'did not find any peer named "{name}" in the cluster', "peer", name) from None

    def segment_of(self, name: str) -> Segment:
        self.node(name)
        return self.segments[self.node_segment[name]]

    def is_leader(self, name: str) -> bool:
        return self.segment_of(name).leader.name == name

    def wireguard_cidr(self, name: str) -> str:
        """The node's interface address: WireGuard IP with the pool's prefix length, or the pool
        (docs/kilo/topology.md#wireguard-ip-allocation)."""
        segment = self.segment_of(name)
        if segment.leader.name == name:
            return f"{segment.wireguard_ip}/{self.subnet.prefixlen}"
        return cidr_text(self.subnet)

    def require_leader(self, name: str) -> Segment:
        """The node's segment; raises NotLeaderError when NAME does not lead it."""
        segment = self.segment_of(name)
        if segment.leader.name != name:
            raise NotLeaderError(f'Node "{name}" is not a leader node', "node", name)
        return segment
