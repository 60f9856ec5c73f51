# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Graphviz DOT picture of a mesh, the same text ``kgctl graph`` prints (docs/kilo/config-formats.md#kgctl-graph).

Private to the collection; no stable API. Pure stdlib.

The renderer works on a small, explicit description of the mesh (:class:`GraphSegment`,
:class:`GraphNode`, :class:`GraphPeer`) so that it does not depend on the engine's internal
classes; :func:`graph_from_topology` builds that description from a built topology.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple


@dataclass(frozen=True)
class GraphNode:
    """One Kubernetes node inside a segment."""

    name: str
    pod_cidr: str = ""
    internal_ip: Optional[str] = None  # address without prefix length, or None
    wireguard_ip: Optional[str] = None  # leaders only, address without prefix length
    endpoint: Optional[str] = None  # leaders only, endpoint text


@dataclass(frozen=True)
class GraphSegment:
    """A segment: its key (``location:aws``, ``node:edge-1``), its members in order, its leader."""

    key: str
    nodes: Tuple[GraphNode, ...]
    leader: str


@dataclass(frozen=True)
class GraphPeer:
    name: str
    endpoint: Optional[str] = None


@dataclass(frozen=True)
class MeshGraph:
    subnet: str
    segments: Tuple[GraphSegment, ...]
    peers: Tuple[GraphPeer, ...] = field(default_factory=tuple)


def _quote(text: str) -> str:
    # kgctl wraps every identifier and label in plain double quotes without escaping
    return '"' + text + '"'


def _node_label(segment: GraphSegment, node: GraphNode) -> str:
    parts = [segment.key, node.name, node.pod_cidr]
    if node.internal_ip:
        parts.append(node.internal_ip)
    if node.name == segment.leader:
        parts.append(node.wireguard_ip or "")
        parts.append(node.endpoint or "")
    return "\\n".join(parts)


def _edges(graph: MeshGraph) -> List[str]:
    lines = []
    for segment in graph.segments:
        for node in segment.nodes:
            if node.name != segment.leader:
                lines.append(f"\t{_quote(segment.leader)}->{_quote(node.name)}[ dir=both ];")
    leaders = [segment.leader for segment in graph.segments]
    for index, first in enumerate(leaders):
        for second in leaders[index + 1 :]:
            lines.append(f"\t{_quote(first)}->{_quote(second)}[ dir=both ];")
    for leader in leaders:
        for peer in graph.peers:
            lines.append(f"\t{_quote(leader)}->{_quote(peer.name)}[ dir=both, style=dashed ];")
    return lines


def _subgraph(name: str, label: str, node_lines: Iterable[str]) -> List[str]:
    lines = [
        f"\tsubgraph {_quote(name)} {{",
        f"\tlabel={_quote(label)};",
        '\tstyle="dashed,rounded";',
    ]
    lines.extend(node_lines)
    lines.extend(["", "}", ";"])
    return lines


def render_dot(graph: MeshGraph) -> str:
    """Return the DOT text exactly as ``kgctl graph`` prints it (including its final extra newline)."""
    lines = [
        "digraph kilo {",
        f"\tlabel={_quote(graph.subnet)};",
        "\tlabelloc=t;",
        "\toutputorder=nodesfirst;",
        "\toverlap=false;",
    ]
    lines.extend(_edges(graph))
    for segment in graph.segments:
        node_lines = []
        for node in segment.nodes:
            rank = " rank=1," if node.name == segment.leader else ""
            label = _quote(_node_label(segment, node))
            node_lines.append(f"\t{_quote(node.name)} [ label={label},{rank} shape=ellipse ];")
        lines.extend(_subgraph("cluster_location_" + segment.key, segment.key, node_lines))
    if graph.peers:
        peer_lines = [
            f"\t{_quote(peer.name)} [ label={_quote(peer.name + chr(92) + 'n' + (peer.endpoint or '') + chr(10))},"
            " shape=ellipse ];"
            for peer in graph.peers
        ]
        lines.extend(_subgraph("cluster_peers", "peers", peer_lines))
    lines.extend(["", "}", ""])
    return "\n".join(lines) + "\n"


def _address(value: Optional[str]) -> Optional[str]:
    """``10.4.0.1/16`` -> ``10.4.0.1``; None and "" stay None."""
    if not value:
        return None
    return str(value).split("/", 1)[0]


def graph_from_dict(data: Dict[str, Any]) -> MeshGraph:
    """Build a :class:`MeshGraph` from a plain mapping (JSON-safe form, used by the module and tests).

    ``{"subnet": "10.4.0.0/16", "segments": [{"key", "leader", "nodes": [{"name", "pod_cidr",
    "internal_ip", "wireguard_ip", "endpoint"}]}], "peers": [{"name", "endpoint"}]}``
    """
    segments = []
    for seg in data.get("segments", ()):
        nodes = tuple(
            GraphNode(
                name=str(node["name"]),
                pod_cidr=str(node.get("pod_cidr") or ""),
                internal_ip=_address(node.get("internal_ip")),
                wireguard_ip=_address(node.get("wireguard_ip")),
                endpoint=node.get("endpoint") or None,
            )
            for node in seg["nodes"]
        )
        segments.append(GraphSegment(key=str(seg["key"]), nodes=nodes, leader=str(seg["leader"])))
    peers = tuple(
        GraphPeer(name=str(peer["name"]), endpoint=peer.get("endpoint") or None) for peer in data.get("peers", ())
    )
    return MeshGraph(subnet=str(data["subnet"]), segments=tuple(segments), peers=peers)


def graph_to_dict(graph: MeshGraph) -> Dict[str, Any]:
    return {
        "subnet": graph.subnet,
        "segments": [
            {
                "key": seg.key,
                "leader": seg.leader,
                "nodes": [
                    {
                        "name": node.name,
                        "pod_cidr": node.pod_cidr,
                        "internal_ip": node.internal_ip,
                        "wireguard_ip": node.wireguard_ip,
                        "endpoint": node.endpoint,
                    }
                    for node in seg.nodes
                ],
            }
            for seg in graph.segments
        ],
        "peers": [{"name": peer.name, "endpoint": peer.endpoint} for peer in graph.peers],
    }


def graph_from_topology(topology: Any) -> MeshGraph:
    """The picture of a built :class:`~.model.Topology` (kgctl graph's viewpoint does not change it)."""
    subnet = topology.subnet
    data = {
        "subnet": f"{subnet.network_address}/{subnet.prefixlen}",
        "segments": [segment.to_dict() for segment in topology.segments],
        "peers": [
            {"name": peer.name, "endpoint": peer.endpoint.text if peer.endpoint is not None else None}
            for peer in topology.peers
        ],
    }
    return graph_from_dict(data)
