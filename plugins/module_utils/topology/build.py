# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""``build_topology``: validate the inputs and compute the whole mesh in one pass (SPEC 2).

Segments, leaders, WireGuard IPs, per-segment allowed IPs, filtered location IPs, de-duplicated
peer IPs and the discovered-endpoints map are computed once here; every later per-node view in
model.py / render.py / routes.py only looks them up.
"""

from __future__ import annotations

import bisect
import ipaddress
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Type

from .errors import (
    DuplicateKeyError,
    DuplicateNameError,
    InvalidCIDRError,
    InvalidEndpointError,
    InvalidFieldError,
    InvalidGranularityError,
    InvalidKeepaliveError,
    InvalidKeyError,
    InvalidPortError,
    MissingEndpointError,
    OverlapError,
    SubnetTooSmallError,
    TopologyError,
    describe,
)
from .model import (
    GRANULARITIES,
    Endpoint,
    IPAddress,
    IPInterface,
    IPNetwork,
    NodeSpec,
    Peer,
    PeerSpec,
    Segment,
    Topology,
    cidr_text,
    single_cidr,
)
from .parse import endpoint_problem, parse_int, parse_interface, parse_key, parse_network

NODE_FIELDS = (
    "name",
    "location",
    "endpoint",
    "internal_ip",
    "pod_cidr",
    "public_key",
    "leader",
    "persistent_keepalive",
    "allowed_location_ips",
    "discovered_endpoints",
)
PEER_FIELDS = ("name", "allowed_ips", "public_key", "preshared_key", "endpoint", "persistent_keepalive")

_CIDR_HINT = "expected a CIDR (address/prefix length) such as {example}"
_KEY_HINT = "expected a WireGuard public key: 44 characters of standard base64 (wg pubkey output)"
_PRIVATE_V4 = (
    ipaddress.IPv4Network("10.0.0.0/8"),
    ipaddress.IPv4Network("172.16.0.0/12"),
    ipaddress.IPv4Network("192.168.0.0/16"),
)


# --------------------------------------------------------------------------------------------
# field parsing
# --------------------------------------------------------------------------------------------
class _Fields:
    """Reads the fields of one node/peer dict and raises errors that name it."""

    def __init__(self, kind: str, raw: Any, allowed: Sequence[str], index: int) -> None:
        if not isinstance(raw, Mapping):
            raise InvalidFieldError(
                f"{kind} #{index + 1}: expected a mapping with the fields {', '.join(allowed)}, "
                f"got {type(raw).__name__} {raw!r}",
                kind,
            )
        self.kind = kind
        self.raw = raw
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidFieldError(
                describe(kind, f"#{index + 1}", "name", name, "expected a non-empty string"), kind, None, "name"
            )
        self.name = name
        unknown = sorted(str(key) for key in raw if key not in allowed)
        if unknown:
            raise InvalidFieldError(
                f'{kind} "{name}": unknown field(s) {", ".join(unknown)}; known fields are {", ".join(allowed)}',
                kind,
                name,
                unknown[0],
            )

    def fail(self, cls: Type[TopologyError], field: str, value: Any, expected: str) -> TopologyError:
        return cls(describe(self.kind, self.name, field, value, expected), self.kind, self.name, field)

    def get(self, field: str) -> Any:
        return self.raw.get(field)

    def string(self, field: str, default: str = "") -> str:
        value = self.raw.get(field)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.fail(InvalidFieldError, field, value, "expected a string")
        return value

    def interface(self, field: str, value: Any, example: str) -> IPInterface:
        try:
            return parse_interface(value)
        except ValueError as exc:
            raise self.fail(InvalidCIDRError, field, value, f"{exc}; " + _CIDR_HINT.format(example=example)) from None

    def interfaces(self, field: str, example: str) -> Tuple[IPInterface, ...]:
        value = self.raw.get(field)
        if value is None:
            return ()
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise self.fail(InvalidFieldError, field, value, f"expected a list of CIDRs such as [{example}]")
        return tuple(self.interface(field, item, example) for item in value)

    def required_key(self, field: str) -> str:
        value = self.key(field)
        if value is None:  # pragma: no cover - key() raises for a missing required key
            raise self.fail(InvalidKeyError, field, value, _KEY_HINT)
        return value

    def key(self, field: str, required: bool = True) -> Optional[str]:
        value = self.raw.get(field)
        if value in (None, "") and not required:
            return None
        if value in (None, ""):
            raise self.fail(InvalidKeyError, field, value, "the field is required; " + _KEY_HINT)
        try:
            return parse_key(value)
        except ValueError as exc:
            raise self.fail(InvalidKeyError, field, value, f"{exc}; " + _KEY_HINT) from None

    def keepalive(self, field: str, default: int) -> int:
        value = self.raw.get(field)
        if value is None:
            return default
        return _keepalive(value, lambda expected: self.fail(InvalidKeepaliveError, field, value, expected))

    def endpoint(self, field: str, value: Any) -> Endpoint:
        if not isinstance(value, str):
            raise self.fail(InvalidEndpointError, field, value, "expected a string host:port")
        endpoint, reason = endpoint_problem(value)
        if endpoint is None:
            raise self.fail(
                InvalidEndpointError,
                field,
                value,
                f"{reason}; expected host:port with an IPv4 address, [IPv6]:port or a lowercase DNS name, "
                "port 1-65535 (Kilo would ignore this endpoint)",
            )
        return endpoint


def _keepalive(value: Any, fail: Any) -> int:
    try:
        number = parse_int(value)
    except ValueError:
        raise fail("expected a whole number of seconds (0 disables keepalives)") from None
    if number < 0:
        raise fail("expected 0 or more seconds; Kilo would print a negative keepalive as a huge unsigned number")
    return number


def parse_node(raw: Any, default_keepalive: int = 0, index: int = 0) -> NodeSpec:
    """Validate one node dict (fields in docs/architecture.md)."""
    fields = _Fields("node", raw, NODE_FIELDS, index)
    location = fields.string("location")
    endpoint_value = fields.get("endpoint")
    if endpoint_value in (None, ""):
        raise MissingEndpointError(
            f'node "{fields.name}" (location "{location}"): field endpoint is missing; Kilo treats a node '
            "without an endpoint as not ready and leaves it out of the mesh, which a static inventory cannot "
            "express; set the endpoint (host:port the other locations reach this node's WireGuard port on)",
            "node",
            fields.name,
            "endpoint",
        )
    endpoint = fields.endpoint("endpoint", endpoint_value)
    internal_value = fields.get("internal_ip")
    internal_ip = (
        None if internal_value in (None, "", "-") else fields.interface("internal_ip", internal_value, "10.240.0.2/24")
    )
    pod_value = fields.get("pod_cidr")
    if pod_value in (None, ""):
        raise fields.fail(
            InvalidCIDRError,
            "pod_cidr",
            pod_value,
            "the field is required (Kilo leaves nodes without a pod CIDR out); "
            + _CIDR_HINT.format(example="10.2.0.0/24"),
        )
    pod_cidr = fields.interface("pod_cidr", pod_value, "10.2.0.0/24").network
    public_key = fields.required_key("public_key")
    leader = fields.get("leader")
    if leader is None:
        leader = False
    if not isinstance(leader, bool):
        raise fields.fail(InvalidFieldError, "leader", leader, "expected a boolean")
    keepalive = fields.keepalive("persistent_keepalive", default_keepalive)
    location_ips = fields.interfaces("allowed_location_ips", "192.168.10.0/24")
    discovered = _discovered(fields)
    return NodeSpec(
        name=fields.name,
        location=location,
        endpoint=endpoint,
        internal_ip=internal_ip,
        pod_cidr=pod_cidr,
        public_key=public_key,
        leader=leader,
        persistent_keepalive=keepalive,
        allowed_location_ips=location_ips,
        discovered_endpoints=discovered,
    )


def _discovered(fields: _Fields) -> Tuple[Tuple[str, Endpoint], ...]:
    value = fields.get("discovered_endpoints")
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise fields.fail(
            InvalidFieldError, "discovered_endpoints", value, "expected a mapping of public key to ip:port"
        )
    result = []
    for key, item in value.items():
        try:
            parse_key(key)
        except ValueError as exc:
            raise fields.fail(InvalidKeyError, "discovered_endpoints", key, f"{exc}; " + _KEY_HINT) from None
        if isinstance(item, Mapping):  # Kilo's annotation form {"IP": ..., "Port": ...}
            host = str(item.get("IP") or "")
            text = f"[{host}]:{item.get('Port')}" if ":" in host else f"{host}:{item.get('Port')}"
        else:
            text = item
        endpoint = fields.endpoint("discovered_endpoints", text)
        if endpoint.ip is None:
            raise fields.fail(
                InvalidEndpointError, "discovered_endpoints", item, "expected an IP endpoint ip:port (no DNS name)"
            )
        result.append((key, endpoint))
    return tuple(result)


def parse_peer(raw: Any, index: int = 0) -> PeerSpec:
    """Validate one peer dict."""
    fields = _Fields("peer", raw, PEER_FIELDS, index)
    allowed_ips = fields.interfaces("allowed_ips", "10.5.0.1/32")
    if not allowed_ips:
        raise fields.fail(
            InvalidFieldError,
            "allowed_ips",
            fields.get("allowed_ips"),
            "expected at least one CIDR such as 10.5.0.1/32 (Kilo ignores peers without allowed IPs)",
        )
    public_key = fields.required_key("public_key")
    endpoint_value = fields.get("endpoint")
    endpoint = None if endpoint_value in (None, "") else fields.endpoint("endpoint", endpoint_value)
    return PeerSpec(
        name=fields.name,
        allowed_ips=allowed_ips,
        public_key=public_key,
        preshared_key=fields.key("preshared_key", required=False),
        endpoint=endpoint,
        persistent_keepalive=fields.keepalive("persistent_keepalive", 0),
    )


# --------------------------------------------------------------------------------------------
# primitives of the algorithm
# --------------------------------------------------------------------------------------------
def is_public(address: Optional[IPAddress]) -> bool:
    """Kilo's public test for leader choice (SPEC 2.1); None (DNS endpoint) is not public."""
    if address is None:
        return False
    if address.version == 4:
        return not any(address in network for network in _PRIVATE_V4)
    packed = address.packed
    return not (packed[0] == 0xFD and packed[1] == 0x00)


def leader_index(nodes: Sequence[NodeSpec]) -> int:
    """Index of the leader among name-sorted nodes (SPEC 2.4); 0 for an empty list."""
    first_annotated: Optional[int] = None
    first_public: Optional[int] = None
    for index, node in enumerate(nodes):
        public = is_public(node.endpoint.ip)
        if node.leader and public:
            return index
        if node.leader and first_annotated is None:
            first_annotated = index
        if public and first_public is None:
            first_public = index
    if first_annotated is not None:
        return first_annotated
    if first_public is not None:
        return first_public
    return 0


def segment_key(node: NodeSpec, granularity: str) -> str:
    """SPEC 2.2 (``cross``: one segment per node, like ``full``)."""
    if granularity == "location" and node.internal_ip is not None:
        return "location:" + node.location
    return "node:" + node.name


def allocate_ips(subnet: IPNetwork, count: int) -> List[IPAddress]:
    """The i-th segment gets network address + i + 1 (SPEC 2.8); fails when the pool is too small."""
    capacity = subnet.num_addresses - 1
    if count > capacity:
        raise SubnetTooSmallError(
            f'option subnet: the WireGuard subnet "{cidr_text(subnet)}" is too small: {count} segment(s) need '
            f"{count} WireGuard IP(s) (network address + 1, + 2, ...) but it holds only {max(capacity, 0)}; "
            "use a larger subnet such as 10.4.0.0/16",
            "option",
            "subnet",
            "subnet",
        )
    base = subnet.network_address
    return [base + index + 1 for index in range(count)]


def dedup_peer_ips(allowed: Sequence[Sequence[str]]) -> List[Tuple[str, ...]]:
    """Textual de-duplication across peers in the given order (SPEC 2.6)."""
    seen: set = set()
    result = []
    for ips in allowed:
        kept = []
        for text in ips:
            if text not in seen:
                seen.add(text)
                kept.append(text)
        result.append(tuple(kept))
    return result


_Key = Tuple[int, int, int]  # (version, network as int, prefix length)


def _key(value: Any) -> _Key:
    """Key of a network, an interface (its network) or a single address (its /32 or /128)."""
    if isinstance(value, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):  # subclasses of the addresses
        value = value.network
    elif isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return (value.version, int(value), value.max_prefixlen)
    network = value
    return (network.version, int(network.network_address), network.prefixlen)


class CidrIndex:
    """CIDRs with owners; answers "overlaps?" without scanning every entry.

    Two CIDRs overlap iff one contains the other, so a query walks the (at most 33/129) supernets of
    the queried range and bisects the sorted entries for its subnets.
    """

    def __init__(self) -> None:
        self._owners: Dict[_Key, Dict[Any, int]] = {}
        self._sorted: List[_Key] = []
        self._dirty = False

    def add(self, value: Any, owner: Any) -> None:
        key = _key(value)
        owners = self._owners.get(key)
        if owners is None:
            owners = self._owners[key] = {}
            self._dirty = True
        owners[owner] = owners.get(owner, 0) + 1

    def remove(self, value: Any, owner: Any) -> None:
        owners = self._owners[_key(value)]
        owners[owner] -= 1
        if not owners[owner]:
            del owners[owner]

    def _other(self, key: _Key, exclude: Any) -> Any:
        owners = self._owners.get(key)
        if owners:
            for owner in owners:
                if owner != exclude:
                    return owner
        return None

    def overlapping(self, value: Any, exclude: Any = None) -> Any:
        """An owner (other than ``exclude``) of an entry overlapping ``value``, else None."""
        version, start, prefix = _key(value)
        bits = 32 if version == 4 else 128
        for length in range(prefix + 1):
            mask = ((1 << length) - 1) << (bits - length)
            owner = self._other((version, start & mask, length), exclude)
            if owner is not None:
                return owner
        if self._dirty:
            self._sorted = sorted(self._owners)
            self._dirty = False
        end = start | ((1 << (bits - prefix)) - 1)
        position = bisect.bisect_left(self._sorted, (version, start, prefix + 1))
        for key in self._sorted[position:]:
            if key[0] != version or key[1] > end:
                break
            owner = self._other(key, exclude)
            if owner is not None:
                return owner
        return None

    def containing(self, address: IPAddress) -> Any:
        """An owner of an entry that contains ``address``, else None."""
        version = address.version
        bits = address.max_prefixlen
        number = int(address)
        for length in range(bits + 1):
            mask = ((1 << length) - 1) << (bits - length)
            owner = self._other((version, number & mask, length), None)
            if owner is not None:
                return owner
        return None


# --------------------------------------------------------------------------------------------
# options
# --------------------------------------------------------------------------------------------
def _option_cidr(name: str, value: Any, example: str) -> IPNetwork:
    try:
        return parse_network(value)
    except ValueError as exc:
        raise InvalidCIDRError(
            f"option {name}: invalid value {value!r}: {exc}; " + _CIDR_HINT.format(example=example),
            "option",
            name,
            name,
        ) from None


def _check_options(granularity: Any, port: Any) -> int:
    if granularity not in GRANULARITIES:
        raise InvalidGranularityError(
            f"option granularity: invalid value {granularity!r}: expected location, full or cross (experimental)",
            "option",
            "granularity",
            "granularity",
        )
    try:
        number = parse_int(port)
    except ValueError:
        number = -1
    if not 1 <= number <= 65535:
        raise InvalidPortError(
            f"option port: invalid value {port!r}: expected a UDP port number 1-65535", "option", "port", "port"
        )
    return number


# --------------------------------------------------------------------------------------------
# the build
# --------------------------------------------------------------------------------------------
def build_topology(
    nodes: Iterable[Mapping[str, Any]],
    peers: Iterable[Mapping[str, Any]] = (),
    granularity: str = "location",
    port: Any = 51820,
    subnet: str = "10.4.0.0/16",
    service_cidrs: Iterable[str] = (),
    persistent_keepalive: Any = 0,
    *,
    allow_duplicate_keys: bool = False,
) -> Topology:
    """Validate the inputs and compute the whole mesh (SPEC 2) in one pass.

    ``allow_duplicate_keys`` accepts a public key used twice (Kilo does not check this; upstream's
    own test fixture does it). Without it a repeated key is an error.
    """
    listen_port = _check_options(granularity, port)
    pool = _option_cidr("subnet", subnet, "10.4.0.0/16")
    if isinstance(service_cidrs, str):
        service_cidrs = [service_cidrs]
    services = tuple(_option_cidr("service_cidrs", cidr, "10.43.0.0/16") for cidr in service_cidrs)
    default_keepalive = _keepalive(
        persistent_keepalive,
        lambda expected: InvalidKeepaliveError(
            f"option persistent_keepalive: invalid value {persistent_keepalive!r}: {expected}",
            "option",
            "persistent_keepalive",
            "persistent_keepalive",
        ),
    )

    node_specs = [parse_node(raw, default_keepalive, index) for index, raw in enumerate(nodes)]
    peer_specs = [parse_peer(raw, index) for index, raw in enumerate(peers)]
    nodes_by_name = _unique("node", node_specs)
    _unique("peer", peer_specs)
    if not allow_duplicate_keys:
        _check_keys(node_specs, peer_specs)
    _check_pod_cidrs(node_specs)

    # segments (SPEC 2.2, 2.3)
    groups: Dict[str, List[NodeSpec]] = {}
    for node in node_specs:
        groups.setdefault(segment_key(node, granularity), []).append(node)
    keys = sorted(groups)
    wireguard_ips = allocate_ips(pool, len(keys))

    # peers (SPEC 2.6)
    sorted_peers = sorted(peer_specs, key=lambda peer: peer.name)
    deduped = dedup_peer_ips([peer.allowed_ips_text for peer in sorted_peers])
    mesh_peers = tuple(Peer(spec=spec, allowed_ips=deduped[index]) for index, spec in enumerate(sorted_peers))
    _check_peer_overlaps(sorted_peers, node_specs, pool, services)

    segments = _segments(groups, keys, wireguard_ips, mesh_peers)
    node_segment = {node.name: segment.index for segment in segments for node in segment.nodes}

    # discovered endpoints, first writer wins in segment/name order (SPEC 2.7)
    discovered: Dict[str, Endpoint] = {}
    for segment in segments:
        for node in segment.nodes:
            for key, endpoint in node.discovered_endpoints:
                discovered.setdefault(key, endpoint)

    return Topology(
        granularity=granularity,
        port=listen_port,
        subnet=pool,
        service_cidrs=services,
        segments=tuple(segments),
        peers=mesh_peers,
        node_segment=node_segment,
        discovered=discovered,
        nodes_by_name={name: nodes_by_name[name] for name in sorted(nodes_by_name)},
        peers_by_name={peer.name: peer for peer in mesh_peers},
    )


def _unique(kind: str, specs: Sequence[Any]) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    for spec in specs:
        if spec.name in result:
            raise DuplicateNameError(
                f'{kind} "{spec.name}": field name has a duplicate value {spec.name!r}: '
                f"expected every {kind} name to be unique",
                kind,
                spec.name,
                "name",
            )
        result[spec.name] = spec
    return result


def _check_keys(node_specs: Sequence[NodeSpec], peer_specs: Sequence[PeerSpec]) -> None:
    owners: Dict[str, str] = {}
    for kind, specs in (("node", node_specs), ("peer", peer_specs)):
        for spec in specs:
            who = f'{kind} "{spec.name}"'
            other = owners.get(spec.public_key)
            if other is not None:
                raise DuplicateKeyError(
                    f"{who}: field public_key has the value {spec.public_key!r}, which {other} already uses: "
                    "expected every node and peer to have its own WireGuard key",
                    kind,
                    spec.name,
                    "public_key",
                )
            owners[spec.public_key] = who


def _check_pod_cidrs(node_specs: Sequence[NodeSpec]) -> None:
    ordered = sorted(node_specs, key=lambda node: (_key(node.pod_cidr), node.name))
    widest: Optional[NodeSpec] = None
    for node in ordered:
        cidr = node.pod_cidr
        if widest is not None and widest.pod_cidr.version == cidr.version and widest.pod_cidr.overlaps(cidr):
            raise OverlapError(
                f'node "{node.name}": field pod_cidr has the value "{cidr_text(cidr)}", which overlaps the pod '
                f'CIDR "{cidr_text(widest.pod_cidr)}" of node "{widest.name}": expected disjoint pod CIDRs',
                "node",
                node.name,
                "pod_cidr",
            )
        if (
            widest is None
            or widest.pod_cidr.version != cidr.version
            or int(cidr.broadcast_address) > int(widest.pod_cidr.broadcast_address)
        ):
            widest = node


def _check_peer_overlaps(
    peer_specs: Sequence[PeerSpec],
    node_specs: Sequence[NodeSpec],
    pool: IPNetwork,
    services: Sequence[IPNetwork],
) -> None:
    if not peer_specs:
        return
    cluster = CidrIndex()
    cluster.add(pool, f'the WireGuard subnet "{cidr_text(pool)}"')
    for cidr in services:
        cluster.add(cidr, f'the service CIDR "{cidr_text(cidr)}"')
    for node in node_specs:
        cluster.add(node.pod_cidr, ("the pod CIDR", node.pod_text, node.name))
        if node.internal_ip is not None:
            cluster.add(node.internal_ip.ip, ("the internal IP", node.internal_address, node.name))
    for peer in peer_specs:
        for allowed in peer.allowed_ips:
            owner = cluster.overlapping(allowed)
            if isinstance(owner, tuple):
                owner = f'{owner[0]} "{owner[1]}" of node "{owner[2]}"'
            if owner is not None:
                raise OverlapError(
                    f'peer "{peer.name}": field allowed_ips has the value "{cidr_text(allowed)}", which overlaps '
                    f"{owner}: expected peer addresses outside the cluster's pod CIDRs, WireGuard subnet, "
                    "internal IPs and service CIDRs",
                    "peer",
                    peer.name,
                    "allowed_ips",
                )


def _segments(
    groups: Dict[str, List[NodeSpec]],
    keys: Sequence[str],
    wireguard_ips: Sequence[IPAddress],
    mesh_peers: Sequence[Peer],
) -> List[Segment]:
    members: List[List[NodeSpec]] = [sorted(groups[key], key=lambda node: node.name) for key in keys]

    # allowed IPs without the WireGuard IP (SPEC 2.5) and the static part of filter rule 2
    base_allowed: List[List[str]] = []
    node_ranges = CidrIndex()
    for index, nodes in enumerate(members):
        allowed = []
        for node in nodes:
            allowed.append(node.pod_text)
            node_ranges.add(node.pod_cidr, index)
            if node.internal_ip is not None and node.internal_text is not None:
                allowed.append(node.internal_text)
                node_ranges.add(node.internal_ip.ip, index)
        base_allowed.append(allowed)

    # location IPs: union, textual de-dup, sorted by text (SPEC 2.5)
    location_ips: List[List[Tuple[str, IPInterface]]] = []
    present = CidrIndex()
    for index, nodes in enumerate(members):
        by_text: Dict[str, IPInterface] = {}
        for node in nodes:
            for cidr in node.allowed_location_ips:
                by_text.setdefault(cidr_text(cidr), cidr)
        ordered = sorted(by_text.items())
        for _text, cidr in ordered:
            present.add(cidr.network, index)
        location_ips.append(ordered)

    peer_ranges = CidrIndex()
    for peer in mesh_peers:
        for text in peer.allowed_ips:
            peer_ranges.add(parse_interface(text).network, peer.name)

    # allocation loop with the order-dependent location-IP filter (SPEC 2.8, 2.9)
    segments = []
    for index, nodes in enumerate(members):
        wireguard_ip = wireguard_ips[index]
        node_ranges.add(wireguard_ip, index)
        kept = []
        for text, cidr in location_ips[index]:
            dropped = (
                present.overlapping(cidr.network, exclude=index) is not None
                or node_ranges.containing(cidr.ip) is not None
                or peer_ranges.overlapping(cidr.network) is not None
            )
            if dropped:
                present.remove(cidr.network, index)
            else:
                kept.append(text)
        leader = nodes[leader_index(nodes)]
        key = keys[index]
        segments.append(
            Segment(
                index=index,
                key=key,
                location="location:" + nodes[0].location,
                nodes=tuple(nodes),
                leader=leader,
                wireguard_ip=wireguard_ip,
                allowed_ips=tuple(base_allowed[index]) + (single_cidr(wireguard_ip),),
                allowed_location_ips=tuple(kept),
            )
        )
    return segments
