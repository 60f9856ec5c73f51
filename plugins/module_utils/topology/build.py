# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""``build_topology``: validate the inputs and compute the whole mesh in one pass (docs/kilo/topology.md).

Segments, leaders, WireGuard IPs, per-segment allowed IPs, filtered location IPs, de-duplicated
peer IPs and the discovered-endpoints map are computed once here; every later per-node view in
model.py / render.py / routes.py only looks them up.
"""

from __future__ import annotations

import bisect
import ipaddress
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Type

from .constants import DEFAULT_PORT, DEFAULT_SUBNET, GRANULARITIES
from .errors import (
    AddressFamilyError,
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
    describe_key,
)
from .model import (
    Endpoint,
    IPAddress,
    IPInterface,
    IPNetwork,
    NodeSpec,
    Peer,
    PeerSpec,
    Segment,
    cidr_text,
    single_cidr,
)
from .parse import endpoint_problem, key_hint, parse_int, parse_interface, parse_key, parse_network
from .views import Topology

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
#: WireGuard stores the keepalive interval in 16 bits
MAX_KEEPALIVE = 65535
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
        hint = key_hint("preshared" if field == "preshared_key" else "public")
        if value in (None, ""):
            raise self.fail(InvalidKeyError, field, value, "the field is required; " + hint)
        try:
            return parse_key(value)
        except ValueError as exc:  # the value is never shown: it may be a secret
            message = describe_key(self.kind, self.name, field, f"{exc}; {hint}")
            raise InvalidKeyError(message, self.kind, self.name, field) from None

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
    if number > MAX_KEEPALIVE:
        raise fail(
            f"expected at most {MAX_KEEPALIVE} seconds (WireGuard stores the keepalive interval in 16 bits and "
            "wg would refuse the value on the nodes); 25 keeps a NAT mapping open"
        )
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
        raise InvalidFieldError(
            f'node "{fields.name}": field discovered_endpoints has an invalid value of type {type(value).__name__} '
            "(not shown, it may hold keys): expected a mapping of public key to ip:port",
            "node",
            fields.name,
            "discovered_endpoints",
        )
    result = []
    for key, item in value.items():
        try:
            parse_key(key)
        except ValueError as exc:
            message = describe_key("node", fields.name, "discovered_endpoints", f"one of its keys: {exc}; {_KEY_HINT}")
            raise InvalidKeyError(message, "node", fields.name, "discovered_endpoints") from None
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
    """Kilo's public test for leader choice (docs/kilo/topology.md, "Public addresses").

    None (a DNS endpoint) is not public.
    """
    if address is None:
        return False
    if address.version == 4:
        return not any(address in network for network in _PRIVATE_V4)
    packed = address.packed
    return not (packed[0] == 0xFD and packed[1] == 0x00)


def leader_index(nodes: Sequence[NodeSpec]) -> int:
    """Index of the leader among name-sorted nodes (docs/kilo/topology.md, "Leader election"); 0 for an empty list."""
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
    """Segment key (docs/kilo/topology.md, "Segments"; ``cross``: one segment per node, like ``full``)."""
    if granularity == "location" and node.internal_ip is not None:
        return "location:" + node.location
    return "node:" + node.name


def allocate_ips(subnet: IPNetwork, count: int) -> List[IPAddress]:
    """The i-th segment gets network address + i + 1; fails when the pool is too small.

    Kilo's allocator (docs/kilo/topology.md, "WireGuard IP allocation"); build_topology also keeps an
    IPv4 broadcast address out (``_check_pool``).
    """
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
    """Textual de-duplication across peers in the given order (docs/kilo/topology.md, "Peer de-duplication")."""
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


def check_granularity(granularity: Any) -> None:
    """Raise InvalidGranularityError, listing the valid values, unless ``granularity`` is one of them."""
    if granularity not in GRANULARITIES:
        names = [f"{value} (experimental)" if value == "cross" else value for value in GRANULARITIES]
        raise InvalidGranularityError(
            f"option granularity: invalid value {granularity!r}: expected {', '.join(names[:-1])} or {names[-1]}",
            "option",
            "granularity",
            "granularity",
        )


def _check_options(granularity: Any, port: Any) -> int:
    check_granularity(granularity)
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
    port: Any = DEFAULT_PORT,
    subnet: str = DEFAULT_SUBNET,
    service_cidrs: Iterable[str] = (),
    persistent_keepalive: Any = 0,
    *,
    allow_duplicate_keys: bool = False,
    kilo_compatible: bool = False,
) -> Topology:
    """Validate the inputs and compute the whole mesh (docs/kilo/topology.md) in one pass.

    ``allow_duplicate_keys`` accepts a public key used twice (Kilo does not check this; upstream's
    own test fixture does it). Without it a repeated key is an error.

    Input that Kilo accepts but that breaks routing on the nodes (the refusals listed in
    docs/deviations.md, "Refused because it breaks routing") is an error; ``kilo_compatible``
    accepts it like Kilo does, with one entry in ``Topology.warnings`` each (used to reproduce
    upstream's own fixtures). Input that works but is probably a mistake always only warns.
    """
    listen_port = _check_options(granularity, port)
    pool = _option_cidr("subnet", subnet, DEFAULT_SUBNET)
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
    checks = _Checks(kilo_compatible)
    _check_routing(checks, node_specs, peer_specs, pool)
    _check_suspicious(checks, node_specs, services)

    # segments and their order (docs/kilo/topology.md)
    groups: Dict[str, List[NodeSpec]] = {}
    for node in node_specs:
        groups.setdefault(segment_key(node, granularity), []).append(node)
    keys = sorted(groups)
    _check_pool(pool, len(keys))
    wireguard_ips = allocate_ips(pool, len(keys))

    # peers, de-duplicated like Kilo
    sorted_peers = sorted(peer_specs, key=lambda peer: peer.name)
    deduped = dedup_peer_ips([peer.allowed_ips_text for peer in sorted_peers])
    mesh_peers = tuple(Peer(spec=spec, allowed_ips=deduped[index]) for index, spec in enumerate(sorted_peers))
    _check_peer_overlaps(sorted_peers, node_specs, pool, services)

    segments = _segments(groups, keys, wireguard_ips, mesh_peers)
    node_segment = {node.name: segment.index for segment in segments for node in segment.nodes}

    # discovered endpoints, first writer wins in segment/name order
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
        warnings=tuple(checks.warnings),
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
                    f"{who}: field public_key has a value (not shown) which {other} already uses: "
                    "expected every node and peer to have its own WireGuard key (wg genkey | wg pubkey)",
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


class _Checks:
    """Collects the findings of the routing checks: errors (raised) and warnings."""

    def __init__(self, kilo_compatible: bool) -> None:
        self.kilo_compatible = kilo_compatible
        self.warnings: List[str] = []

    def refuse(self, error: TopologyError) -> None:
        """Kilo accepts it but routing breaks: an error, or a warning with ``kilo_compatible``."""
        if not self.kilo_compatible:
            raise error
        self.warnings.append(f"{error} (accepted for Kilo compatibility)")

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def _family(version: int) -> str:
    return "IPv4" if version == 4 else "IPv6"


def _check_routing(checks: _Checks, nodes: Sequence[NodeSpec], peers: Sequence[PeerSpec], pool: IPNetwork) -> None:
    """Refuse node and peer addresses that Kilo accepts but that break routing on the nodes."""
    pool_text = cidr_text(pool)
    pods = CidrIndex()
    for node in nodes:
        pods.add(node.pod_cidr, (node.name, node.pod_text))
    internal_owner: Dict[Any, str] = {}
    for node in sorted(nodes, key=lambda item: item.name):
        pod = node.pod_cidr
        if pod.version != pool.version:
            checks.refuse(
                _field_error(
                    AddressFamilyError,
                    node.name,
                    "pod_cidr",
                    node.pod_text,
                    f"an {_family(pod.version)} pod CIDR in an {_family(pool.version)} mesh (WireGuard subnet "
                    f'"{pool_text}"): routes to it would go via an {_family(pool.version)} WireGuard IP, which the '
                    f"kernel refuses; expected an {_family(pool.version)} pod CIDR, or an "
                    f"{_family(pod.version)} subnet option",
                )
            )
        elif pod.overlaps(pool):
            checks.refuse(
                OverlapError(
                    f'node "{node.name}": field pod_cidr has the value "{node.pod_text}", which overlaps the '
                    f'WireGuard subnet "{pool_text}": pod traffic would be routed into the tunnel as WireGuard IPs; '
                    "expected a pod CIDR outside the WireGuard subnet (or another subnet option)",
                    "node",
                    node.name,
                    "pod_cidr",
                )
            )
        internal = node.internal_ip
        if internal is None:
            continue
        value = cidr_text(internal)
        if internal.version != pool.version:
            checks.refuse(
                _field_error(
                    AddressFamilyError,
                    node.name,
                    "internal_ip",
                    value,
                    f"an {_family(internal.version)} internal IP in an {_family(pool.version)} mesh (WireGuard "
                    f'subnet "{pool_text}"): the routes to it would go via an {_family(pool.version)} address, '
                    f"which the kernel refuses; expected an {_family(pool.version)} address, or no internal IP",
                )
            )
            continue
        network = internal.network
        if network.num_addresses > 2 and internal.ip in (network.network_address, network.broadcast_address):
            which = "network" if internal.ip == network.network_address else "broadcast"
            if which == "network" or internal.version == 4:
                checks.refuse(
                    _field_error(
                        InvalidCIDRError,
                        node.name,
                        "internal_ip",
                        value,
                        f"{internal.ip} is the {which} address of {cidr_text(network)}, not a host address; "
                        f"expected the node's own address with the prefix length of its network, such as "
                        f"{network.network_address + 1}/{network.prefixlen}",
                    )
                )
        other = internal_owner.get(internal.ip)
        if other is not None:
            checks.refuse(
                OverlapError(
                    f'node "{node.name}": field internal_ip has the value "{value}", whose address node "{other}" '
                    "also has: traffic for it would reach only one of them; expected every node to have its own "
                    "internal IP (or none)",
                    "node",
                    node.name,
                    "internal_ip",
                )
            )
        internal_owner.setdefault(internal.ip, node.name)
        owner = pods.containing(internal.ip)
        if owner is not None and owner[0] != node.name:
            checks.refuse(
                OverlapError(
                    f'node "{node.name}": field internal_ip has the value "{value}", which is inside the pod CIDR '
                    f'"{owner[1]}" of node "{owner[0]}": traffic to that pod address would be sent to '
                    "this node instead; expected internal IPs outside every pod CIDR",
                    "node",
                    node.name,
                    "internal_ip",
                )
            )
    claimed: Dict[_Key, Tuple[str, str]] = {}
    for peer in sorted(peers, key=lambda item: item.name):
        for allowed in peer.allowed_ips:
            key = _key(allowed)
            first = claimed.get(key)
            if first is not None and first[0] != peer.name:
                checks.refuse(
                    OverlapError(
                        f'peer "{peer.name}": field allowed_ips has the value "{cidr_text(allowed)}", which peer '
                        f'"{first[0]}" also claims ("{first[1]}"): WireGuard routes one address range to one peer '
                        "only, so one of them would get no traffic; expected every peer to have its own allowed IPs",
                        "peer",
                        peer.name,
                        "allowed_ips",
                    )
                )
            claimed.setdefault(key, (peer.name, cidr_text(allowed)))


def _field_error(cls: Type[TopologyError], name: str, field: str, value: str, expected: str) -> TopologyError:
    return cls(describe("node", name, field, value, expected), "node", name, field)


def _check_suspicious(checks: _Checks, nodes: Sequence[NodeSpec], services: Sequence[IPNetwork]) -> None:
    """Warnings: input that works but is probably a mistake."""
    pods = CidrIndex()
    for node in nodes:
        pods.add(node.pod_cidr, (node.name, node.pod_text))
    for service in services:
        owner = pods.overlapping(service)
        if owner is not None:
            checks.warn(
                f'option service_cidrs: the service CIDR "{cidr_text(service)}" overlaps the pod CIDR "{owner[1]}" '
                f'of node "{owner[0]}": service and pod addresses are routed differently; expected disjoint ranges'
            )
    without = sorted(node.name for node in nodes if not node.location)
    if len(without) == 1 and len(nodes) > 1:
        checks.warn(
            f'node "{without[0]}": field location is empty while every other node has one: it forms a location '
            "of its own (the default location); set its location (kilo_location) if that is not intended"
        )
    spellings: Dict[str, List[str]] = {}
    for node in nodes:
        if node.location:
            names = spellings.setdefault(node.location.lower(), [])
            if node.location not in names:
                names.append(node.location)
    for names in spellings.values():
        if len(names) > 1:
            listed = ", ".join(f'"{name}"' for name in sorted(names))
            checks.warn(
                f"field location: the locations {listed} differ only in case and are different locations (one "
                "leader and one WireGuard IP each); use one spelling if they are meant to be one location"
            )


def _check_pool(pool: IPNetwork, count: int) -> None:
    """An IPv4 pool must not hand out its broadcast address (Kilo's allocator would, docs/deviations.md row 1)."""
    if pool.version != 4 or pool.prefixlen > 30 or count < pool.num_addresses - 1:
        return
    usable = pool.num_addresses - 2
    raise SubnetTooSmallError(
        f'option subnet: the WireGuard subnet "{cidr_text(pool)}" is too small: {count} segment(s) need '
        f"{count} WireGuard IP(s) (network address + 1, + 2, ...) but it holds only {usable} besides its "
        f"broadcast address {pool.broadcast_address}, which a leader cannot use; use a larger subnet such as "
        "10.4.0.0/16",
        "option",
        "subnet",
        "subnet",
    )


def _segments(
    groups: Dict[str, List[NodeSpec]],
    keys: Sequence[str],
    wireguard_ips: Sequence[IPAddress],
    mesh_peers: Sequence[Peer],
) -> List[Segment]:
    members: List[List[NodeSpec]] = [sorted(groups[key], key=lambda node: node.name) for key in keys]

    # allowed IPs without the WireGuard IP and the static part of filter rule 2
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

    # location IPs: union, textual de-dup, sorted by text
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

    # allocation loop with the order-dependent location-IP filter (docs/kilo/topology.md, "Allowed location IPs")
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
