# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Parsers for endpoints, CIDRs, keys and small integers, following Kilo's rules (SPEC 1.2).

Each ``*_problem`` helper returns ``(value, None)`` or ``(None, reason)``; the ``parse_*`` helpers
raise plain :class:`ValueError` with the reason. build.py turns reasons into TopologyErrors that
name the node/peer and field.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from typing import Optional, Tuple, Union

from .model import Endpoint, IPAddress, IPInterface, IPNetwork

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_DIGITS = re.compile(r"^[0-9]+$")
_DOTTED_QUAD = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$")
_KEY_BYTES = 32
ZERO_KEY = base64.b64encode(bytes(_KEY_BYTES)).decode("ascii")


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
    """Kilo's endpoint parser (SPEC 1.2): an IP endpoint, a DNS endpoint, or why it is neither."""
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


def parse_key(text: str) -> str:
    """A WireGuard key: standard base64 with padding (44 characters) of 32 bytes, not all zeros."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    if len(text) != 44:
        raise ValueError(f"it is {len(text)} characters long, a key is 44")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("it is not standard base64") from None
    if len(raw) != _KEY_BYTES:
        raise ValueError(f"it decodes to {len(raw)} bytes, a key is 32")
    if raw == bytes(_KEY_BYTES):
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
