# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Kubernetes Node and Peer objects -> engine node / peer dicts (SPEC 1.2-1.4).

Private to the collection, no stable API. Pure: stdlib only, works on plain dicts as returned by the
Kubernetes API (``ApiClient.sanitize_for_serialization`` or ``kubectl get -o json``). It never talks
to a cluster; :mod:`k8s_cluster` does that and calls these functions.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

ANNOTATION_PREFIX = "kilo.squat.ai/"
DEFAULT_TOPOLOGY_LABEL = "topology.kubernetes.io/region"
#: a node is ready only when its last check-in is strictly younger than this (2 x 30 s period)
CHECK_IN_WINDOW = 60

#: annotations an administrator sets (the kilo role manages exactly these)
USER_ANNOTATIONS = (
    "location",
    "leader",
    "force-endpoint",
    "force-internal-ip",
    "persistent-keepalive",
    "allowed-location-ips",
)
#: annotations the agent writes about its own node (never touched by the collection)
AGENT_ANNOTATIONS = (
    "endpoint",
    "internal-ip",
    "key",
    "last-seen",
    "wireguard-ip",
    "discovered-endpoints",
    "granularity",
    "cni-compatibility-ip",
)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DECIMAL = re.compile(r"^[0-9]+$")
_SIGNED_DECIMAL = re.compile(r"^[+-]?[0-9]+$")
_IPV4_OCTETS = re.compile(r"^[0-9]+(\.[0-9]+){3}$")
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_ZERO_KEY = bytes(32)

_Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def _annotation(annotations: Mapping[str, Any], key: str) -> Optional[str]:
    value = annotations.get(ANNOTATION_PREFIX + key)
    return None if value is None else str(value)


def _parse_ip(text: str) -> Optional[_Address]:
    """An IP literal as Go's net.ParseIP sees it: no zone, no IPv4 leading zeros."""
    if not text or "%" in text:
        return None
    if _IPV4_OCTETS.match(text) and any(len(part) > 1 and part[0] == "0" for part in text.split(".")):
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_dns_subdomain(text: str) -> bool:
    """Lowercase RFC 1123 subdomain (no per-label length check, like upstream)."""
    if not text or len(text) > 253:
        return False
    return all(_DNS_LABEL.match(label) for label in text.split("."))


def _split_host_port(text: str) -> Optional[Tuple[str, str]]:
    """``host:port`` with Go's SplitHostPort rules (IPv6 hosts in brackets)."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            return None
        host, port = text[1:end], text[end + 2 :]
        if "[" in host or "]" in port or "[" in port:
            return None
        return host, port
    colon = text.rfind(":")
    if colon < 0:
        return None
    host, port = text[:colon], text[colon + 1 :]
    if ":" in host or "[" in host or "]" in host:
        return None
    return host, port


def _endpoint_text(ip: _Address, port: int) -> str:
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped
        if mapped is not None:
            return "{0}:{1}".format(mapped, port)
        return "[{0}]:{1}".format(ip.compressed, port)
    return "{0}:{1}".format(ip, port)


def parse_endpoint(text: Optional[str]) -> Optional[str]:
    """Return the endpoint text form (SPEC 1.2 endpoint parser) or None when there is no endpoint.

    IP endpoints are normalised (``[::ffff:1.2.3.4]:51820`` -> ``1.2.3.4:51820``); DNS endpoints are
    returned verbatim (``example.com:051820`` stays so).
    """
    if not text:
        return None
    parts = _split_host_port(text)
    if parts is None:
        return None
    host, port_text = parts
    if not _DECIMAL.match(port_text):
        return None
    port = int(port_text)
    if not 1 <= port <= 65535:
        return None
    ip = _parse_ip(host)
    if ip is not None:
        return _endpoint_text(ip, port)
    if _is_dns_subdomain(host):
        return text
    return None


def parse_cidr(text: Optional[str]) -> Optional[str]:
    """``ip/len`` (Go ParseCIDR) with host bits kept, as ``ip/len`` text; None when invalid."""
    if not text or text.count("/") != 1:
        return None
    address, prefix = text.split("/")
    if not _DECIMAL.match(prefix):
        return None
    ip = _parse_ip(address)
    if ip is None:
        return None
    bits = int(prefix)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
        bits -= 96
    if not 0 <= bits <= ip.max_prefixlen:
        return None
    return "{0}/{1}".format(ip.compressed, bits)


def _network(text: Optional[str]) -> Optional[str]:
    cidr = parse_cidr(text)
    if cidr is None:
        return None
    return ipaddress.ip_network(cidr, strict=False).with_prefixlen


def parse_key(text: Optional[str]) -> Optional[bytes]:
    """Standard base64 with padding decoding to exactly 32 bytes; None otherwise."""
    if not text:
        return None
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    return raw if len(raw) == 32 else None


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
        result[str(key)] = _endpoint_text(ip, port)
    return result


def node_fields(obj: Mapping[str, Any], topology_label: str = DEFAULT_TOPOLOGY_LABEL) -> Dict[str, Any]:
    """Every field Kilo reads from a Node (SPEC 1.1/1.2), ready or not.

    Returns the engine node dict fields plus ``last_seen`` (int), ``wireguard_ip``,
    ``granularity`` and ``key_valid`` (False for a missing, unparsable or all-zero key).
    """
    metadata = obj.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    labels = metadata.get("labels") or {}
    spec = obj.get("spec") or {}

    endpoint = parse_endpoint(_annotation(annotations, "force-endpoint"))
    if endpoint is None:
        endpoint = parse_endpoint(_annotation(annotations, "endpoint"))

    force_internal = _annotation(annotations, "force-internal-ip")
    if force_internal in ("", "-"):
        internal_ip = None
    else:
        internal_ip = parse_cidr(force_internal)
        if internal_ip is None:
            internal_ip = parse_cidr(_annotation(annotations, "internal-ip"))

    location = _annotation(annotations, "location")
    if location is None:
        location = str(labels.get(topology_label, ""))

    key = parse_key(_annotation(annotations, "key"))
    key_valid = key is not None and key != _ZERO_KEY

    allowed = _annotation(annotations, "allowed-location-ips")
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
        "public_key": base64.b64encode(key).decode("ascii") if key_valid and key is not None else None,
        "leader": _annotation(annotations, "leader") is not None,
        "persistent_keepalive": _parse_int64(_annotation(annotations, "persistent-keepalive")),
        "allowed_location_ips": allowed_location_ips,
        "discovered_endpoints": _discovered_endpoints(_annotation(annotations, "discovered-endpoints")),
        "last_seen": last_seen,
        "wireguard_ip": parse_cidr(_annotation(annotations, "wireguard-ip")),
        "granularity": granularity if granularity in ("location", "full") else None,
        "key_valid": key_valid,
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
    """SPEC 1.3. ``now=None`` skips the last-seen check (for offline snapshots)."""
    if not fields.get("endpoint") or not fields.get("key_valid") or not fields.get("pod_cidr"):
        return False
    return now is None or now - int(fields.get("last_seen") or 0) < CHECK_IN_WINDOW


def node_from_k8s(
    obj: Mapping[str, Any], topology_label: str = DEFAULT_TOPOLOGY_LABEL, now: Optional[float] = None
) -> Optional[Dict[str, Any]]:
    """The engine node dict for a ready Node, or None when Kilo would leave the node out (SPEC 1.3).

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
    if dns and not _is_dns_subdomain(dns):
        return False, None
    ip = _parse_ip(ip_text) if ip_text else None
    if ip_text and ip is None:
        return False, None
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        return False, None
    if dns:  # upstream: the DNS name replaces the IP when both are set
        return True, "{0}:{1}".format(dns, port)
    assert ip is not None
    return True, _endpoint_text(ip, port)


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
    key = parse_key(spec.get("publicKey"))
    if key is None:
        return None
    if not allowed_ips or key == _ZERO_KEY:
        return None
    psk = parse_key(spec.get("presharedKey"))
    return {
        "name": str(metadata.get("name", "")),
        "allowed_ips": allowed_ips,
        "public_key": base64.b64encode(key).decode("ascii"),
        "preshared_key": base64.b64encode(psk).decode("ascii") if psk is not None else None,
        "endpoint": endpoint,
        "persistent_keepalive": keepalive,
    }


def subnet_hint(objs: List[Mapping[str, Any]]) -> Optional[str]:
    """The pool kgctl would infer: network of the last listed node's valid ``wireguard-ip`` (SPEC 8.13)."""
    hint = None
    for obj in objs:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        network = _network(_annotation(annotations, "wireguard-ip"))
        if network is not None:
            hint = network
    return hint
