# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Routes and policy rules the Kilo agent installs on a node (SPEC 4.1, 4.2).

Devices in the result: ``kilo0`` (WireGuard), ``private`` (the interface holding the node's
internal IP; the role resolves its real name), ``tunl0`` (IPIP) or ``flannel.1`` (flannel mode).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, List, Optional, Tuple

from .errors import InvalidFieldError
from .model import (
    COMPATIBILITIES,
    ENCAPSULATIONS,
    FLANNEL_DEVICE,
    KILO_TABLE,
    PRIVATE_DEVICE,
    TUNNEL_DEVICE,
    WIREGUARD_DEVICE,
    NodeSpec,
    Route,
    Rule,
    Segment,
    cidr_text,
    single_cidr,
)

if TYPE_CHECKING:  # pragma: no cover
    from .model import Topology


class _Local:
    """The local node's routing context: encapsulation strategy, gateways, source address."""

    def __init__(self, node: NodeSpec, encapsulate: str, compatibility: Optional[str]) -> None:
        self.node = node
        self.encapsulate = encapsulate
        self.compatibility = compatibility
        self.src = str(node.internal_ip.ip) if node.internal_ip is not None else None
        self.tunnel = FLANNEL_DEVICE if compatibility == "flannel" else TUNNEL_DEVICE

    def gateway(self, node: NodeSpec) -> Optional[str]:
        """The "node gateway" used to reach ``node`` inside the location (SPEC 4.1)."""
        if self.compatibility in ("flannel", "cilium"):
            return str(node.pod_cidr.network_address)
        return str(node.internal_ip.ip) if node.internal_ip is not None else None

    def encapsulates(self, gateway: Optional[str]) -> bool:
        """IPIP applies: always, or crosssubnet with the gateway outside the local network; never
        for a node without internal IP (SPEC 2.12, 4.1)."""
        if self.node.internal_ip is None or gateway is None or self.encapsulate == "never":
            return False
        if self.encapsulate == "always":
            return True
        return ipaddress.ip_address(gateway) not in self.node.internal_ip.network

    def private_route(self, dst: str, gateway: Optional[str]) -> Route:
        """A route on the private interface, moved onto the tunnel when encapsulation applies."""
        if self.encapsulates(gateway):
            return Route(dst=dst, via=gateway, dev=self.tunnel, src=self.src, onlink=True)
        return Route(dst=dst, via=gateway, dev=PRIVATE_DEVICE, onlink=True)


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
    ctx: _Local, others: List[NodeSpec], local: bool, leader: bool, routes: List[Route], rules: List[Rule]
) -> None:
    """Routes to the other nodes of the own segment (SPEC 4.2)."""
    node = ctx.node
    if local and node.internal_ip is not None:
        for other in others:
            gateway = ctx.gateway(other)
            routes.append(ctx.private_route(cidr_text(other.pod_cidr), gateway))
            if ctx.encapsulates(gateway) and other.internal_ip is not None:
                target = single_cidr(other.internal_ip.ip)
                routes.append(
                    Route(dst=target, via=gateway, dev=ctx.tunnel, src=ctx.src, onlink=True, table=KILO_TABLE)
                )
                rules.append(Rule(dst=target, src=cidr_text(node.pod_cidr)))
                if leader:
                    rules.append(Rule(dst=target, iif=WIREGUARD_DEVICE))
    elif leader and not local and ctx.encapsulate != "never":
        for other in others:
            gateway = ctx.gateway(other)
            if other.internal_ip is None or gateway == str(other.internal_ip.ip) or not ctx.encapsulates(gateway):
                continue
            target = single_cidr(other.internal_ip.ip)
            routes.append(Route(dst=target, via=gateway, dev=ctx.tunnel, src=ctx.src, onlink=True, table=KILO_TABLE))
            rules.append(Rule(dst=target, iif=WIREGUARD_DEVICE))


def node_routes(
    topo: Topology, name: str, encapsulate: str = "never", local: bool = True, compatibility: Optional[str] = None
) -> Tuple[List[Route], List[Rule]]:
    """Routes and rules for node NAME, in the order the agent generates them."""
    _check(encapsulate, compatibility)
    own = topo.segment_of(name)
    node = topo.nodes_by_name[name]
    ctx = _Local(node, encapsulate, compatibility)
    routes: List[Route] = []
    rules: List[Rule] = []
    if own.leader.name == name:
        _leader_routes(topo, ctx, own, local, routes, rules)
    else:
        _follower_routes(topo, ctx, own, local, routes, rules)
    return routes, rules


def _same_location(topo: Topology, own: Segment, segment: Segment) -> bool:
    return segment is own or (topo.granularity == "cross" and segment.location == own.location)


def _leader_routes(
    topo: Topology, ctx: _Local, own: Segment, local: bool, routes: List[Route], rules: List[Rule]
) -> None:
    src = ctx.src
    for segment in topo.segments:
        if _same_location(topo, own, segment):
            others = [other for other in segment.nodes if other.name != ctx.node.name]
            _local_nodes(ctx, others, local, True, routes, rules)
            continue
        via = str(segment.wireguard_ip)
        leader_ip = segment.endpoint.ip
        for member in segment.nodes:
            routes.append(Route(dst=cidr_text(member.pod_cidr), via=via, dev=WIREGUARD_DEVICE, src=src, onlink=True))
            if member.internal_ip is not None and member.internal_ip.ip != leader_ip:
                routes.append(
                    Route(dst=single_cidr(member.internal_ip.ip), via=via, dev=WIREGUARD_DEVICE, src=src, onlink=True)
                )
        for text in segment.allowed_location_ips:
            routes.append(Route(dst=text, via=via, dev=WIREGUARD_DEVICE, src=src, onlink=True))
    for peer in topo.peers:
        for text in peer.allowed_ips:
            routes.append(Route(dst=text, dev=WIREGUARD_DEVICE, src=src))


def _follower_routes(
    topo: Topology, ctx: _Local, own: Segment, local: bool, routes: List[Route], rules: List[Rule]
) -> None:
    gateway = ctx.gateway(own.leader)
    for segment in topo.segments:
        routes.append(ctx.private_route(single_cidr(segment.wireguard_ip), gateway))
        if segment is own:
            others = [other for other in segment.nodes if other.name != ctx.node.name]
            _local_nodes(ctx, others, local, False, routes, rules)
            continue
        for member in segment.nodes:
            routes.append(ctx.private_route(cidr_text(member.pod_cidr), gateway))
        for member in segment.nodes:
            if member.internal_ip is not None:
                routes.append(ctx.private_route(single_cidr(member.internal_ip.ip), gateway))
        for text in segment.allowed_location_ips:
            routes.append(ctx.private_route(text, gateway))
    for peer in topo.peers:
        for text in peer.allowed_ips:
            routes.append(ctx.private_route(text, gateway))
