# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors
"""Filters of kilo.mesh.

Docs are in the sidecar files wg_conf.yml, wg_conf_parse.yml, endpoint_split.yml and node_digest.yml.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.kilo.mesh.plugins.module_utils._node_state import digest
from ansible_collections.kilo.mesh.plugins.module_utils._wireguard import WireGuardError, parse_config
from ansible_collections.kilo.mesh.plugins.module_utils.topology import (
    WgPeer,
    endpoint_problem,
    interface_lines,
    render_conf,
)

_PEER_KEYS = ("public_key", "allowed_ips", "endpoint", "persistent_keepalive", "preshared_key")
_FORMATS = ("setconf", "quick")


def _peer(item: Any, index: int) -> WgPeer:
    if not isinstance(item, Mapping):
        raise AnsibleFilterError(f"wg_conf: peer #{index + 1} must be a dict, got {type(item).__name__}")
    unknown = sorted(str(key) for key in item if key not in _PEER_KEYS)
    if unknown:
        raise AnsibleFilterError(
            f"wg_conf: peer #{index + 1} has unknown key(s) {', '.join(unknown)}; known: {', '.join(_PEER_KEYS)}"
        )
    public_key = item.get("public_key")
    if not isinstance(public_key, str) or not public_key:
        raise AnsibleFilterError(f"wg_conf: peer #{index + 1} needs a public_key string")
    allowed = item.get("allowed_ips") or []
    if isinstance(allowed, str) or not isinstance(allowed, Sequence):
        raise AnsibleFilterError(f"wg_conf: peer #{index + 1} ({public_key}): allowed_ips must be a list")
    keepalive = item.get("persistent_keepalive") or 0
    if isinstance(keepalive, bool) or not isinstance(keepalive, int) or keepalive < 0:
        raise AnsibleFilterError(
            f"wg_conf: peer #{index + 1} ({public_key}): persistent_keepalive must be a whole number >= 0"
        )
    return WgPeer(
        public_key=public_key,
        allowed_ips=tuple(str(ip) for ip in allowed),
        endpoint=item.get("endpoint") or None,
        persistent_keepalive=keepalive,
        preshared_key=item.get("preshared_key") or None,
    )


def wg_conf(
    data: Any,
    interface: Mapping[str, Any] | None = None,
    private_key: str | None = None,
    format: str = "setconf",  # noqa: A002 - the documented option name
) -> str:
    """A node view of kilo.mesh.topology (or a list of peer dicts) -> WireGuard configuration text."""
    if format not in _FORMATS:
        raise AnsibleFilterError(f"wg_conf: format must be one of {', '.join(_FORMATS)}, got {format!r}")
    if isinstance(data, Mapping):
        peers = data.get("peers") or []
        if interface is None:
            interface = data.get("interface")
    elif isinstance(data, Sequence) and not isinstance(data, str):
        peers = data
    else:
        raise AnsibleFilterError(
            f"wg_conf: input must be a node view (dict with peers) or a list of peer dicts, got {type(data).__name__}"
        )
    if interface is not None and not isinstance(interface, Mapping):
        raise AnsibleFilterError("wg_conf: interface must be a dict (address, listen_port, mtu)")
    sections = [_peer(item, index) for index, item in enumerate(peers)]
    if interface is None and not private_key:
        return render_conf(sections)
    interface = interface or {}
    address = interface.get("address") if format == "quick" else None
    lines = interface_lines(
        address=[str(item) for item in ([address] if isinstance(address, str) else address or [])],
        private_key=private_key,
        listen_port=interface.get("listen_port") or None,
        mtu=(interface.get("mtu") or None) if format == "quick" else None,
    )
    return render_conf(sections, interface_lines=lines)


def endpoint_split(text: Any) -> dict:
    """``host:port`` -> {host, port, ip, dns, text} with Kilo's endpoint rules."""
    if not isinstance(text, str):
        raise AnsibleFilterError(f"endpoint_split: input must be a string host:port, got {type(text).__name__}")
    endpoint, reason = endpoint_problem(text)
    if endpoint is None:
        raise AnsibleFilterError(
            f"endpoint_split: {text!r} is not a valid endpoint: {reason}; expected host:port with an IPv4 address, "
            "[IPv6]:port or a lowercase DNS name, port 1-65535"
        )
    return {
        "host": endpoint.host,
        "port": endpoint.port,
        "ip": None if endpoint.ip is None else str(endpoint.ip),
        "dns": endpoint.dns,
        "text": endpoint.text,
    }


def wg_conf_parse(text: Any) -> dict:
    """WireGuard configuration text (wg-quick or wg setconf format) -> {interface, peers}."""
    if not isinstance(text, str):
        raise AnsibleFilterError(f"wg_conf_parse: input must be the text of a configuration, got {type(text).__name__}")
    try:
        return parse_config(text)
    except WireGuardError as exc:  # messages name lines and keys, never values
        raise AnsibleFilterError(f"wg_conf_parse: {exc}") from exc


_COLLECTION_ROOT = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=1)
def collection_version() -> str:
    """This collection's version: MANIFEST.json of an installed collection, else galaxy.yml of a checkout."""
    manifest = _COLLECTION_ROOT / "MANIFEST.json"
    if manifest.is_file():
        return str(json.loads(manifest.read_text())["collection_info"]["version"])
    galaxy = _COLLECTION_ROOT / "galaxy.yml"
    if galaxy.is_file():
        return str(yaml.safe_load(galaxy.read_text())["version"])
    return "unknown"


def node_digest(data: Any) -> str:
    """SHA-256 of what the mesh role applies to a node (canonical JSON) and of the collection's version: the value
    kilo.mesh.mesh_node_record keeps. A new version of the collection gives every node a new digest, so the mesh
    role applies every node once after an upgrade (its tasks or templates may have changed)."""
    try:
        return digest({"collection": collection_version(), "inputs": data})
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(
            f"node_digest: the input is not plain data (dicts, lists, strings, numbers): {exc}"
        ) from None


class FilterModule:
    def filters(self) -> dict:
        return {
            "wg_conf": wg_conf,
            "wg_conf_parse": wg_conf_parse,
            "endpoint_split": endpoint_split,
            "node_digest": node_digest,
        }
