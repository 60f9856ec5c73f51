# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The views of a built mesh: configurations, routes, the lookup output and the graph.

model.py holds the data and its look-ups and knows none of its views. This module imports the
model and the view modules (render.py, routes.py, graph.py) and offers both forms of one API:

* functions that take the mesh: ``node_view(topo, name)``, ``to_dict(topo)``, and in the view
  modules ``render.node_conf(topo, name)``, ``routes.node_route_dicts(topo, name)``,
  ``graph.graph_from_topology(topo)``;
* :class:`Topology`, what ``build_topology`` returns: the data class of model.py plus thin methods
  that call those functions (``topo.node_conf(name)``, ``topo.routes(name)``, ``topo.graph()``).

Private to the collection, no stable API; stdlib only.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union

from . import graph as _graph
from . import render as _render
from . import routes as _routes
from .model import TopologyData, WgPeer, cidr_text


def node_view(topo: TopologyData, name: str, routes: bool = True) -> Dict[str, Any]:
    """One node of the lookup output (docs/architecture.md).

    Route dicts may be shared between nodes: treat the result as read-only. ``routes=False``
    leaves ``routes``/``rules`` empty (a follower has a route per remote pod CIDR, so the routes
    of all nodes grow with the square of the cluster size).
    """
    segment = topo.segment_of(name)
    is_leader = segment.leader.name == name
    peers: List[WgPeer] = _render.node_sections(topo, name) if is_leader else []
    route_dicts, rules = _routes.node_route_dicts(topo, name, "never", True, None) if routes else ([], [])
    address = topo.wireguard_cidr(name) if is_leader else None
    return {
        "conf": _render.render_conf(peers, listen_port=topo.port, interface=True) if is_leader else "",
        "wireguard_ip": address,
        "leader": segment.leader.name,
        "is_leader": is_leader,
        "segment": segment.key,
        "location": topo.nodes_by_name[name].location,
        "interface": {"address": address, "listen_port": topo.port} if is_leader else None,
        "peers": [peer.to_dict() for peer in peers],
        "routes": route_dicts,
        "rules": rules,
    }


def peer_view(topo: TopologyData, name: str) -> Dict[str, Any]:
    peer = topo.peer(name)
    return {"conf": _render.peer_conf(topo, name), "allowed_ips": list(peer.spec.allowed_ips_text)}


def to_dict(topo: TopologyData, routes: bool = True) -> Dict[str, Any]:
    """The lookup output: ``nodes`` and ``peers`` views plus ``segments`` and the options."""
    return {
        "nodes": {name: node_view(topo, name, routes) for name in topo.node_names},
        "peers": {peer.name: peer_view(topo, peer.name) for peer in topo.peers},
        "segments": [segment.to_dict() for segment in topo.segments],
        "granularity": topo.granularity,
        "port": topo.port,
        "subnet": cidr_text(topo.subnet),
        "service_cidrs": [cidr_text(cidr) for cidr in topo.service_cidrs],
    }


class Topology(TopologyData):
    """The mesh as ``build_topology`` returns it: data and look-ups (model.py) plus its views."""

    # -- configurations (render.py) ---------------------------------------------------------------
    def node_peers(self, name: str) -> List[WgPeer]:
        """The ``[Peer]`` sections of ``kgctl showconf node NAME`` (raises NotLeaderError)."""
        self.require_leader(name)
        return _render.node_sections(self, name)

    def node_conf(self, name: str, private_key: Optional[str] = None) -> str:
        """``kgctl showconf node NAME`` byte for byte; with ``private_key`` the agent's form."""
        return _render.node_conf(self, name, private_key)

    def peer_sections(self, name: str) -> List[WgPeer]:
        return _render.peer_sections(self, self.peer(name))

    def peer_conf(self, name: str) -> str:
        """``kgctl showconf peer NAME`` byte for byte."""
        return _render.peer_conf(self, name)

    def node_as_peer(self, name: str, allowed_ips: Sequence[str] = (), output: str = "wireguard") -> str:
        """``kgctl showconf node NAME --as-peer --allowed-ips ... -o OUTPUT`` (fixed YAML/JSON, see deviations)."""
        self.require_leader(name)
        return _render.node_as_peer(self, name, allowed_ips, output)

    def peer_as_peer(self, name: str, allowed_ips: Sequence[str] = (), output: str = "wireguard") -> str:
        """``kgctl showconf peer NAME --as-peer --allowed-ips ... -o OUTPUT``."""
        return _render.peer_as_peer(self, self.peer(name), allowed_ips, output)

    def peer_client_conf(
        self,
        name: str,
        private_key: Optional[str] = None,
        address: Union[None, str, Sequence[str]] = None,
        dns: Union[None, str, Sequence[str]] = None,
        mtu: Optional[int] = None,
        listen_port: Optional[int] = None,
    ) -> str:
        """The wg-quick file the peer NAME needs: ``[Interface]`` then the showconf-peer sections."""
        return _render.peer_client_conf(self, self.peer(name), private_key, address, dns, mtu, listen_port)

    # -- routes (routes.py) -----------------------------------------------------------------------
    def routes(
        self,
        name: str,
        encapsulate: str = "never",
        local: bool = True,
        compatibility: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        """Routes the agent would install on NAME (docs/kilo/routes.md), as dicts."""
        routes, _rules = _routes.node_routes(self, name, encapsulate, local, compatibility)
        return [route.to_dict() for route in routes]

    def rules(
        self,
        name: str,
        encapsulate: str = "never",
        local: bool = True,
        compatibility: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        """Policy rules (Kilo's table) the agent would install on NAME, as dicts."""
        _routes_list, rules = _routes.node_routes(self, name, encapsulate, local, compatibility)
        return [rule.to_dict() for rule in rules]

    # -- JSON-safe views (this module) ----------------------------------------------------------
    def node_view(self, name: str, routes: bool = True) -> Dict[str, Any]:
        """:func:`node_view` of this mesh."""
        return node_view(self, name, routes)

    def peer_view(self, name: str) -> Dict[str, Any]:
        return peer_view(self, name)

    def to_dict(self, routes: bool = True) -> Dict[str, Any]:
        """:func:`to_dict` of this mesh (the lookup output)."""
        return to_dict(self, routes)

    # -- graph (graph.py) -------------------------------------------------------------------------
    def graph(self) -> str:
        """Graphviz DOT like ``kgctl graph``."""
        return _graph.render_dot(_graph.graph_from_topology(self))
