# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Parsers for endpoints, CIDRs, keys and small integers, following Kilo's rules.

Kilo's endpoint grammar is described in docs/kilo/annotations.md (section "Endpoint grammar"); where
this parser is stricter, docs/deviations.md says why.

The one endpoint grammar and the one WireGuard key parser of the collection: the engine, the
Kubernetes reader (kube.py), the node-side helpers (``_wireguard.py``), the modules and the filters
all use these. Each ``*_problem`` helper returns ``(value, None)`` or ``(None, reason)``; the
``parse_*`` helpers raise plain :class:`ValueError` with the reason, which never contains a key.
build.py turns reasons into TopologyErrors that name the node/peer and field.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from typing import Any, Optional, Tuple, Union

from .constants import KEY_BYTES, KEY_LENGTH
from .model import Endpoint, IPAddress, IPInterface, IPNetwork

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_DIGITS = re.compile(r"^[0-9]+$")
_DOTTED_QUAD = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$")
ZERO_KEY = base64.b64encode(bytes(KEY_BYTES)).decode("ascii")
#: kind -> (what it is, the command that prints one)
KEY_KINDS = {
    "public": ("public key", "wg pubkey"),
    "private": ("private key", "wg genkey"),
    "preshared": ("preshared key", "wg genpsk"),
}


def is_dns_subdomain(text: str) -> bool:
    """Lowercase RFC 1123 subdomain, at most 253 characters (no per-label length check, like Kilo)."""
    return 0 < len(text) <= 253 and _DNS_SUBDOMAIN.match(text) is not None


def split_host_port(text: str) -> Tuple[Optional[Tuple[str, str]], Optional[str]]:
    """Standard ``host:port`` split; an IPv6 host must be in brackets."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None, "missing ']' after the IPv6 address"
        if end + 1 == len(text):
            return None, "missing port (expected [address]:port)"
        if text[end + 1] != ":":
            return None, "unexpected text after ']' (expected [address]:port)"
        host, port = text[1:end], text[end + 2 :]
        if ":" in port:
            return None, "too many colons"
        if "[" in text[1:] or "]" in text[end + 1 :]:
            return None, "unexpected bracket"
        return (host, port), None
    colon = text.rfind(":")
    if colon < 0:
        return None, "missing port (expected host:port)"
    host, port = text[:colon], text[colon + 1 :]
    if ":" in host:
        return None, "too many colons (an IPv6 address must be written as [address]:port)"
    if "[" in host or "]" in host:
        return None, "unexpected bracket"
    return (host, port), None


def ip_literal(host: str) -> Optional[IPAddress]:
    """An IP literal as Kilo accepts it: no zone, no IPv4 leading zeros; IPv4-mapped IPv6 -> IPv4."""
    if "%" in host or not host:
        return None
    if _DOTTED_QUAD.match(host) and any(len(part) > 1 and part.startswith("0") for part in host.split(".")):
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def ip_endpoint_text(address: IPAddress, port: int) -> str:
    if address.version == 6:
        return f"[{address.compressed}]:{port}"
    return f"{address}:{port}"


def endpoint_problem(text: str) -> Tuple[Optional[Endpoint], Optional[str]]:
    """Kilo's endpoint parser (docs/kilo/annotations.md#endpoint-grammar): an IP endpoint, a DNS endpoint, or why it is
    neither."""
    if text == "":
        return None, "it is empty"
    parts, reason = split_host_port(text)
    if parts is None:
        return None, reason
    host, port_text = parts
    if not _DIGITS.match(port_text):
        return None, f"port {port_text!r} is not a decimal number"
    port = int(port_text)
    if not 1 <= port <= 65535:
        return None, f"port {port} is outside 1..65535"
    address = ip_literal(host)
    if address is not None:
        return Endpoint(text=ip_endpoint_text(address, port), port=port, ip=address), None
    if _DOTTED_QUAD.match(host):
        # Kilo would take it for a DNS name; a resolver reads 051 as octal 41 and dials another host
        if any(len(part) > 1 and part.startswith("0") for part in host.split(".")):
            return None, (
                f"host {host!r} is an IPv4 address with leading zeros, which resolvers read as octal; "
                "write it without leading zeros (e.g. 198.51.100.2)"
            )
        return None, f"host {host!r} is not an IPv4 address (four numbers 0-255) nor a DNS name"
    if is_dns_subdomain(host):
        return Endpoint(text=text, port=port, dns=host), None
    if "%" in host:
        return None, f"host {host!r} has an IPv6 zone, which Kilo rejects"
    return None, (
        f"host {host!r} is neither an IP address nor a lowercase RFC 1123 DNS name "
        "(letters a-z, digits, '-' and '.', at most 253 characters)"
    )


def parse_endpoint(text: str) -> Endpoint:
    endpoint, reason = endpoint_problem(text)
    if endpoint is None:
        raise ValueError(reason)
    return endpoint


def _split_cidr(text: str) -> Tuple[str, str]:
    if "/" not in text:
        raise ValueError("no prefix length")
    address, _sep, prefix = text.rpartition("/")
    if not _DIGITS.match(prefix):
        raise ValueError("the prefix length must be a decimal number")
    if "%" in address:
        raise ValueError("IPv6 zones are not allowed")
    if _DOTTED_QUAD.match(address) and any(len(part) > 1 and part.startswith("0") for part in address.split(".")):
        raise ValueError("IPv4 octets must not have leading zeros")
    return address, prefix


def parse_interface(text: str) -> IPInterface:
    """A CIDR that keeps its host bits (``10.240.0.2/24``); raises ValueError."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    address_text, prefix = _split_cidr(text)
    try:
        address = ipaddress.ip_address(address_text)
        # (int, prefix) tuples skip a second parse of the address text
        if address.version == 4:
            return ipaddress.IPv4Interface((int(address), int(prefix)))
        return ipaddress.IPv6Interface((int(address), int(prefix)))
    except ValueError as exc:
        raise ValueError(str(exc)) from None


def parse_network(text: str) -> IPNetwork:
    """A CIDR reduced to its network address (``10.2.1.7/24`` -> ``10.2.1.0/24``)."""
    return parse_interface(text).network


def key_hint(kind: str = "public") -> str:
    """What a key of ``kind`` (public, private, preshared) looks like, for error messages."""
    what, tool = KEY_KINDS[kind]
    return (
        f"expected a WireGuard {what}: {KEY_LENGTH} characters of standard base64 encoding {KEY_BYTES} bytes ({tool})"
    )


def decode_key(text: Any) -> bytes:
    """The raw bytes of a WireGuard key (standard base64 with padding of 32 bytes); raises ValueError.

    The reason never contains the text: it may be a private or preshared key.
    """
    if not isinstance(text, str):
        raise ValueError("not a string")
    if len(text) != KEY_LENGTH:
        raise ValueError(f"it is {len(text)} characters long, a key is {KEY_LENGTH}")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("it is not standard base64") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"it decodes to {len(raw)} bytes, a key is {KEY_BYTES}")
    return raw


def parse_key(text: Any, allow_zero: bool = False) -> str:
    """A WireGuard key; the all-zero key (which WireGuard ignores) only with ``allow_zero``."""
    raw = decode_key(text)
    if raw == bytes(KEY_BYTES) and not allow_zero:
        raise ValueError("it is the all-zero key")
    return text


def parse_int(value: Union[int, str]) -> int:
    """An integer given as int or decimal string (bools are rejected)."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.match(r"^[+-]?[0-9]+$", value.strip()):
        return int(value.strip())
    raise ValueError("not an integer")
