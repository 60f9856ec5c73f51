# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Kubernetes Node and Peer objects -> engine node / peer dicts (docs/kilo/annotations.md, docs/kilo/peers.md).

Private to the collection, no stable API. Pure: stdlib only, works on plain dicts as returned by the
Kubernetes API (``ApiClient.sanitize_for_serialization`` or ``kubectl get -o json``). It never talks
to a cluster; :mod:`k8s_cluster` does that and calls these functions.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from .constants import DEFAULT_TOPOLOGY_LABEL
from .parse import (
    ZERO_KEY,
    endpoint_problem,
    ip_endpoint_text,
    ip_literal,
    is_dns_subdomain,
    parse_interface,
    parse_network,
)
from .parse import parse_key as _parse_key
from .schema import (
    ALLOWED_LOCATION_IPS,
    ANNOTATION_PREFIX,
    FORCE_ENDPOINT,
    FORCE_INTERNAL_IP,
    LEADER,
    LOCATION,
    NO_INTERNAL_IP,
    PERSISTENT_KEEPALIVE,
)

#: a node is ready only when its last check-in is strictly younger than this (2 x 30 s period)
CHECK_IN_WINDOW = 60

_DECIMAL = re.compile(r"^[0-9]+$")
_SIGNED_DECIMAL = re.compile(r"^[+-]?[0-9]+$")
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

_Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def _annotation(annotations: Mapping[str, Any], key: str) -> Optional[str]:
    value = annotations.get(ANNOTATION_PREFIX + key)
    return None if value is None else str(value)


def _parse_ip(text: str) -> Optional[_Address]:
    """An IP literal as Kilo accepts it (no zone, no IPv4 leading zeros, IPv4-mapped -> IPv4)."""
    return ip_literal(text)


def parse_endpoint(text: Optional[str]) -> Optional[str]:
    """The endpoint text form (docs/kilo/annotations.md#endpoint-grammar), or None when the value yields no endpoint.

    IP endpoints are normalised (``[::ffff:1.2.3.4]:51820`` -> ``1.2.3.4:51820``); DNS endpoints are
    returned verbatim (``example.com:051820`` stays so).
    """
    if not text:
        return None
    endpoint, _reason = endpoint_problem(text)
    return None if endpoint is None else endpoint.text


def parse_cidr(text: Optional[str]) -> Optional[str]:
    """``ip/len`` with host bits kept (``10.240.0.2/24``); None when invalid."""
    if not text:
        return None
    try:
        return parse_interface(text).with_prefixlen
    except ValueError:
        return None


def _network(text: Optional[str]) -> Optional[str]:
    if not text:
        return None
    try:
        return parse_network(text).with_prefixlen
    except ValueError:
        return None


def parse_key(text: Optional[str]) -> Optional[str]:
    """A usable WireGuard key (44-character base64 of 32 bytes, not all zeros), or None."""
    if not text:
        return None
    try:
        return _parse_key(text)
    except ValueError:
        return None


def _parse_int64(text: Optional[str]) -> int:
    if text is None or not _SIGNED_DECIMAL.match(text):
        return 0
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else 0


def _discovered_endpoints(text: Optional[str]) -> Dict[str, str]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    result: Dict[str, str] = {}
    for key, addr in sorted(data.items()):
        if addr is None:
            continue
        if not isinstance(addr, dict):
            return {}
        ip = _parse_ip(str(addr.get("IP") or ""))
        port = addr.get("Port", 0)
        if ip is None or not isinstance(port, int) or isinstance(port, bool) or not 0 < port <= 65535:
            continue
        result[str(key)] = ip_endpoint_text(ip, port)
    return result


def node_fields(obj: Mapping[str, Any], topology_label: str = DEFAULT_TOPOLOGY_LABEL) -> Dict[str, Any]:
    """Every field Kilo reads from a Node (docs/kilo/annotations.md#node-record), ready or not.

    Returns the engine node dict fields plus ``last_seen`` (int), ``wireguard_ip``,
    ``granularity`` and ``key_valid`` (False for a missing, unparsable or all-zero key).
    """
    metadata = obj.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    labels = metadata.get("labels") or {}
    spec = obj.get("spec") or {}

    endpoint = parse_endpoint(_annotation(annotations, FORCE_ENDPOINT))
    if endpoint is None:
        endpoint = parse_endpoint(_annotation(annotations, "endpoint"))

    force_internal = _annotation(annotations, FORCE_INTERNAL_IP)
    if force_internal in ("", NO_INTERNAL_IP):
        internal_ip = None
    else:
        internal_ip = parse_cidr(force_internal)
        if internal_ip is None:
            internal_ip = parse_cidr(_annotation(annotations, "internal-ip"))

    location = _annotation(annotations, LOCATION)
    if location is None:
        location = str(labels.get(topology_label, ""))

    key = parse_key(_annotation(annotations, "key"))

    allowed = _annotation(annotations, ALLOWED_LOCATION_IPS)
    allowed_location_ips = [] if allowed is None else [c for c in map(parse_cidr, allowed.split(",")) if c]

    last_seen_text = _annotation(annotations, "last-seen")
    last_seen = int(last_seen_text) if last_seen_text and _DECIMAL.match(last_seen_text) else 0

    granularity = _annotation(annotations, "granularity")
    return {
        "name": str(metadata.get("name", "")),
        "location": location,
        "endpoint": endpoint,
        "internal_ip": internal_ip,
        "pod_cidr": _network(spec.get("podCIDR")),
        "public_key": key,
        "leader": _annotation(annotations, LEADER) is not None,
        "persistent_keepalive": _parse_int64(_annotation(annotations, PERSISTENT_KEEPALIVE)),
        "allowed_location_ips": allowed_location_ips,
        "discovered_endpoints": _discovered_endpoints(_annotation(annotations, "discovered-endpoints")),
        "last_seen": last_seen,
        "wireguard_ip": parse_cidr(_annotation(annotations, "wireguard-ip")),
        "granularity": granularity if granularity in ("location", "full") else None,
        "key_valid": key is not None,
    }


ENGINE_NODE_FIELDS = (
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


def node_ready(fields: Mapping[str, Any], now: Optional[float]) -> bool:
    """docs/kilo/annotations.md#readiness. ``now=None`` skips the last-seen check (for offline snapshots)."""
    if not fields.get("endpoint") or not fields.get("key_valid") or not fields.get("pod_cidr"):
        return False
    return now is None or now - int(fields.get("last_seen") or 0) < CHECK_IN_WINDOW


def node_from_k8s(
    obj: Mapping[str, Any], topology_label: str = DEFAULT_TOPOLOGY_LABEL, now: Optional[float] = None
) -> Optional[Dict[str, Any]]:
    """The engine node dict for a ready Node, or None when Kilo would leave the node out
    (docs/kilo/annotations.md#readiness).

    ``now`` is the current Unix time; None disables the last-seen freshness check.
    """
    fields = node_fields(obj, topology_label)
    if not node_ready(fields, now):
        return None
    return {name: fields[name] for name in ENGINE_NODE_FIELDS}


def _peer_endpoint(endpoint: Any) -> Tuple[bool, Optional[str]]:
    """(valid, text) for a Peer's spec.endpoint."""
    if endpoint is None:
        return True, None
    if not isinstance(endpoint, dict):
        return False, None
    dns_or_ip = endpoint.get("dnsOrIP") or {}
    dns = dns_or_ip.get("dns") or ""
    ip_text = dns_or_ip.get("ip") or ""
    port = endpoint.get("port")
    if not dns and not ip_text:
        return False, None
    if dns and not is_dns_subdomain(dns):
        return False, None
    ip = _parse_ip(ip_text) if ip_text else None
    if ip_text and ip is None:
        return False, None
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        return False, None
    if dns:  # upstream: the DNS name replaces the IP when both are set
        return True, "{0}:{1}".format(dns, port)
    if ip is None:  # unreachable: an endpoint without DNS name has an IP here
        raise AssertionError("endpoint has neither an IP address nor a DNS name")
    return True, ip_endpoint_text(ip, port)


def _is_zero_key(text: Any) -> bool:
    return text == ZERO_KEY


def _is_valid_key_text(text: str) -> bool:
    """A preshared key may be anything that decodes to 32 bytes (all zeros included)."""
    return parse_key(text) is not None or _is_zero_key(text)


def peer_from_k8s(obj: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The engine peer dict for a valid, ready Peer; None when kg/kgctl would drop or ignore it."""
    metadata = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    allowed = spec.get("allowedIPs") or []
    if not isinstance(allowed, list):
        return None
    allowed_ips: List[str] = []
    for item in allowed:
        cidr = parse_cidr(item if isinstance(item, str) else None)
        if cidr is None:
            return None
        allowed_ips.append(cidr)
    valid, endpoint = _peer_endpoint(spec.get("endpoint"))
    if not valid:
        return None
    keepalive = spec.get("persistentKeepalive", 0) or 0
    if not isinstance(keepalive, int) or isinstance(keepalive, bool) or keepalive < 0:
        return None
    public_key = spec.get("publicKey")
    key = parse_key(public_key)
    if key is None and not _is_zero_key(public_key):
        return None  # invalid: kg drops the Peer
    if not allowed_ips or key is None:
        return None  # valid but not ready (no allowed IPs, all-zero key)
    psk = spec.get("presharedKey")
    psk = psk if isinstance(psk, str) and _is_valid_key_text(psk) else None
    return {
        "name": str(metadata.get("name", "")),
        "allowed_ips": allowed_ips,
        "public_key": key,
        "preshared_key": psk,
        "endpoint": endpoint,
        "persistent_keepalive": keepalive,
    }


def subnet_hint(objs: List[Mapping[str, Any]]) -> Optional[str]:
    """The pool kgctl would infer: network of the last listed node's valid ``wireguard-ip``
    (docs/kilo/config-formats.md#subnet-inference)."""
    hint = None
    for obj in objs:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        network = _network(_annotation(annotations, "wireguard-ip"))
        if network is not None:
            hint = network
    return hint


def granularity_hint(objs: List[Mapping[str, Any]], topology_label: str = DEFAULT_TOPOLOGY_LABEL) -> Optional[str]:
    """The granularity of kgctl's ``auto`` mode: the ``granularity`` annotation of the first listed Node
    (ready or not), or None when it has no valid one (see docs/deviations.md, item 12)."""
    if not objs:
        return None
    return node_fields(objs[0], topology_label)["granularity"]
