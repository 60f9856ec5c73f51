# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Routes and policy rules the Kilo agent installs on a node (docs/kilo/routes.md).

Devices in the result: ``kilo0`` (WireGuard), ``private`` (the interface holding the node's
internal IP; the role resolves its real name), ``tunl0`` (IPIP) or ``flannel.1`` (flannel mode).

A follower's routes towards other segments depend only on its gateway, the encapsulation decision
and the source address, so they are built once per combination and shared (``Topology.cache``);
this keeps the whole cluster's routes linear in the output it shares rather than quadratic work.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from .constants import KILO_TABLE
from .errors import InvalidFieldError
from .model import (
    COMPATIBILITIES,
    ENCAPSULATIONS,
    FLANNEL_DEVICE,
    PRIVATE_DEVICE,
    TUNNEL_DEVICE,
    WIREGUARD_DEVICE,
    IPAddress,
    NodeSpec,
    Route,
    Rule,
    Segment,
)
from .render import effective_endpoint

if TYPE_CHECKING:  # pragma: no cover
    from .model import TopologyData as Topology


class _Chunk:
    """An immutable run of routes with its dict form made on first use (shared between nodes)."""

    __slots__ = ("_dicts", "routes")

    def __init__(self, routes: List[Route]) -> None:
        self.routes: Tuple[Route, ...] = tuple(routes)
        self._dicts: Optional[List[Dict[str, Any]]] = None

    def dicts(self) -> List[Dict[str, Any]]:
        if self._dicts is None:
            self._dicts = [route.to_dict() for route in self.routes]
        return self._dicts

    def without(self, index: int) -> _Chunk:
        """This chunk minus its ``index``-th route (dicts stay shared)."""
        dicts = self.dicts()
        chunk = _Chunk([])
        chunk.routes = self.routes[:index] + self.routes[index + 1 :]
        chunk._dicts = dicts[:index] + dicts[index + 1 :]
        return chunk


class _Local:
    """The local node's routing context: encapsulation strategy, gateways, source address."""

    def __init__(self, node: NodeSpec, encapsulate: str, compatibility: Optional[str]) -> None:
        self.node = node
        self.encapsulate = encapsulate
        self.compatibility = compatibility
        self.src = node.internal_address
        self.tunnel = FLANNEL_DEVICE if compatibility == "flannel" else TUNNEL_DEVICE
        self._decisions: Dict[Optional[str], bool] = {}

    def gateway(self, node: NodeSpec) -> Optional[str]:
        """The "node gateway" used to reach ``node`` inside the location (docs/kilo/routes.md#encapsulation)."""
        if self.compatibility in ("flannel", "cilium"):
            return str(node.pod_cidr.network_address)
        return node.internal_address

    def encapsulates(self, gateway: Optional[str]) -> bool:
        """IPIP applies: always, or crosssubnet with the gateway outside the local network; never
        for a node without internal IP (docs/kilo/routes.md#encapsulation)."""
        decision = self._decisions.get(gateway)
        if decision is None:
            internal = self.node.internal_ip
            if internal is None or gateway is None or self.encapsulate == "never":
                decision = False
            elif self.encapsulate == "always":
                decision = True
            else:
                decision = ipaddress.ip_address(gateway) not in internal.network
            self._decisions[gateway] = decision
        return decision

    def private_route(self, dst: str, gateway: Optional[str]) -> Route:
        """A route on the private interface, moved onto the tunnel when encapsulation applies."""
        if self.encapsulates(gateway):
            return Route(dst=dst, via=gateway, dev=self.tunnel, src=self.src, onlink=True)
        return Route(dst=dst, via=gateway, dev=PRIVATE_DEVICE, onlink=True)

    def via_key(self, gateway: Optional[str]) -> Tuple[Any, ...]:
        """Everything a ``private_route`` through ``gateway`` depends on."""
        encapsulated = self.encapsulates(gateway)
        return (gateway, encapsulated, self.src if encapsulated else None, self.tunnel if encapsulated else None)


def _check(encapsulate: str, compatibility: Optional[str]) -> None:
    if encapsulate not in ENCAPSULATIONS:
        raise InvalidFieldError(
            f"option encapsulate: invalid value {encapsulate!r}: expected never, crosssubnet or always",
            "option",
            "encapsulate",
            "encapsulate",
        )
    if compatibility not in COMPATIBILITIES:
        raise InvalidFieldError(
            f"option compatibility: invalid value {compatibility!r}: expected none, flannel or cilium",
            "option",
            "compatibility",
            "compatibility",
        )


def _local_nodes(
    topo: Topology, ctx: _Local, segment: Segment, local: bool, leader: bool, rules: List[Rule]
) -> List[_Chunk]:
    """Routes to the other nodes of the own segment (docs/kilo/routes.md#routes)."""
    node = ctx.node
    chunks: List[_Chunk] = []
    if local and node.internal_ip is not None and ctx.encapsulate == "never":
        # no encapsulation, no src, no rules: the same routes for every member, built once per segment
        full = _cached(
            topo,
            ("local-all", segment.index, ctx.compatibility),
            lambda: [
                Route(dst=member.pod_text, via=ctx.gateway(member), dev=PRIVATE_DEVICE, onlink=True)
                for member in segment.nodes
            ],
        )
        for position, member in enumerate(segment.nodes):
            if member is node:
                return [full.without(position)]
        return [full]
    others = [other for other in segment.nodes if other.name != node.name]
    if local and node.internal_ip is not None:
        for other in others:
            gateway = ctx.gateway(other)
            chunks.append(
                _cached(
                    topo,
                    ("pod", other.name) + ctx.via_key(gateway),
                    lambda other=other, gateway=gateway: [ctx.private_route(other.pod_text, gateway)],
                )
            )
            if ctx.encapsulates(gateway) and other.internal_text is not None:
                target = other.internal_text
                table = Route(dst=target, via=gateway, dev=ctx.tunnel, src=ctx.src, onlink=True, table=KILO_TABLE)
                chunks.append(_Chunk([table]))
                rules.append(Rule(dst=target, src=node.pod_text))
                if leader:
                    rules.append(Rule(dst=target, iif=WIREGUARD_DEVICE))
    elif leader and not local and ctx.encapsulate != "never":
        for other in others:
            gateway = ctx.gateway(other)
            if other.internal_text is None or gateway == other.internal_address or not ctx.encapsulates(gateway):
                continue
            target = other.internal_text
            table = Route(dst=target, via=gateway, dev=ctx.tunnel, src=ctx.src, onlink=True, table=KILO_TABLE)
            chunks.append(_Chunk([table]))
            rules.append(Rule(dst=target, iif=WIREGUARD_DEVICE))
    return chunks


def _chunks(
    topo: Topology, name: str, encapsulate: str, local: bool, compatibility: Optional[str]
) -> Tuple[List[_Chunk], List[Rule]]:
    _check(encapsulate, compatibility)
    own = topo.segment_of(name)
    ctx = _Local(topo.nodes_by_name[name], encapsulate, compatibility)
    rules: List[Rule] = []
    if own.leader.name == name:
        return _leader_chunks(topo, ctx, own, local, rules), rules
    return _follower_chunks(topo, ctx, own, local, rules), rules


def node_routes(
    topo: Topology, name: str, encapsulate: str = "never", local: bool = True, compatibility: Optional[str] = None
) -> Tuple[List[Route], List[Rule]]:
    """Routes and rules for node NAME, in the order the agent generates them."""
    chunks, rules = _chunks(topo, name, encapsulate, local, compatibility)
    routes: List[Route] = []
    for chunk in chunks:
        routes.extend(chunk.routes)
    return routes, rules


def node_route_dicts(
    topo: Topology, name: str, encapsulate: str = "never", local: bool = True, compatibility: Optional[str] = None
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Like :func:`node_routes` as dicts; dicts of shared chunks are shared, treat them as read-only."""
    chunks, rules = _chunks(topo, name, encapsulate, local, compatibility)
    routes: List[Dict[str, Any]] = []
    for chunk in chunks:
        routes.extend(chunk.dicts())
    return routes, [rule.to_dict() for rule in rules]


def _cached(topo: Topology, key: Tuple[Any, ...], make: Any) -> _Chunk:
    chunk = topo.cache.get(key)
    if not isinstance(chunk, _Chunk):
        chunk = topo.cache[key] = _Chunk(make())
    return chunk


def _same_location(topo: Topology, own: Segment, segment: Segment) -> bool:
    return segment is own or (topo.granularity == "cross" and segment.location == own.location)


def _leader_chunks(topo: Topology, ctx: _Local, own: Segment, local: bool, rules: List[Rule]) -> List[_Chunk]:
    src = ctx.src
    discovered = dict(ctx.node.discovered_endpoints)
    chunks = []
    for segment in topo.segments:
        if _same_location(topo, own, segment):
            chunks.extend(_local_nodes(topo, ctx, segment, local, True, rules))
            continue
        endpoint = effective_endpoint(
            topo.discovered, discovered, segment.public_key, segment.persistent_keepalive, segment.endpoint
        )
        leader_ip = endpoint.ip if endpoint is not None else None
        chunks.append(
            _cached(
                topo,
                ("leader", segment.index, src, leader_ip),
                lambda seg=segment, leader_ip=leader_ip: _remote_via_wg(seg, src, leader_ip),
            )
        )
    chunks.append(
        _cached(
            topo,
            ("leader-peers", src),
            lambda: [
                Route(dst=text, dev=WIREGUARD_DEVICE, src=src) for peer in topo.peers for text in peer.allowed_ips
            ],
        )
    )
    return chunks


def _remote_via_wg(segment: Segment, src: Optional[str], leader_ip: Optional[IPAddress]) -> List[Route]:
    """Leader: another segment's pod CIDRs, internal IPs (except ``leader_ip``, the IP of the
    segment's effective endpoint, docs/kilo/topology.md#endpoint-choice) and location IPs via that segment's
    WireGuard IP."""
    via = str(segment.wireguard_ip)
    routes = []
    for member in segment.nodes:
        routes.append(Route(dst=member.pod_text, via=via, dev=WIREGUARD_DEVICE, src=src, onlink=True))
        if member.internal_ip is not None and member.internal_text is not None and member.internal_ip.ip != leader_ip:
            routes.append(Route(dst=member.internal_text, via=via, dev=WIREGUARD_DEVICE, src=src, onlink=True))
    for text in segment.allowed_location_ips:
        routes.append(Route(dst=text, via=via, dev=WIREGUARD_DEVICE, src=src, onlink=True))
    return routes


def _follower_chunks(topo: Topology, ctx: _Local, own: Segment, local: bool, rules: List[Rule]) -> List[_Chunk]:
    gateway = ctx.gateway(own.leader)
    via_key = ctx.via_key(gateway)
    chunks = []
    for segment in topo.segments:
        if segment is own:
            chunks.append(
                _cached(
                    topo,
                    ("own-wireguard-ip", segment.index) + via_key,
                    lambda seg=segment: [
                        ctx.private_route(f"{seg.wireguard_ip}/{seg.wireguard_ip.max_prefixlen}", gateway)
                    ],
                )
            )
            chunks.extend(_local_nodes(topo, ctx, segment, local, False, rules))
            continue

        def make(seg: Segment = segment) -> List[Route]:
            routes = [ctx.private_route(f"{seg.wireguard_ip}/{seg.wireguard_ip.max_prefixlen}", gateway)]
            routes.extend(ctx.private_route(member.pod_text, gateway) for member in seg.nodes)
            routes.extend(
                ctx.private_route(member.internal_text, gateway)
                for member in seg.nodes
                if member.internal_text is not None
            )
            routes.extend(ctx.private_route(text, gateway) for text in seg.allowed_location_ips)
            return routes

        chunks.append(_cached(topo, ("follower", segment.index) + via_key, make))
    chunks.append(
        _cached(
            topo,
            ("follower-peers",) + via_key,
            lambda: [ctx.private_route(text, gateway) for peer in topo.peers for text in peer.allowed_ips],
        )
    )
    return chunks
