# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Text output: ``wg setconf`` configurations like ``kgctl showconf`` (docs/kilo/config-formats.md), wg-quick
client files, and the ``--as-peer`` Peer objects as JSON or YAML (own tiny YAML emitter, stdlib only).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Union

from .errors import InvalidCIDRError, InvalidFieldError
from .model import Endpoint, Peer, WgPeer, cidr_text
from .parse import parse_interface

if TYPE_CHECKING:  # pragma: no cover
    from .model import TopologyData as Topology

OUTPUTS = ("wireguard", "json", "yaml")
PEER_API_VERSION = "kilo.squat.ai/v1alpha1"


# --------------------------------------------------------------------------------------------
# wg setconf text (docs/kilo/config-formats.md#setconf-grammar)
# --------------------------------------------------------------------------------------------
def render_peer(peer: WgPeer) -> List[str]:
    lines = ["[Peer]"]
    if peer.allowed_ips:
        lines.append("AllowedIPs = " + ", ".join(peer.allowed_ips))
    if peer.endpoint:
        lines.append(f"Endpoint = {peer.endpoint}")
    lines.append(f"PersistentKeepalive = {peer.persistent_keepalive}")
    if peer.preshared_key:
        lines.append(f"PresharedKey = {peer.preshared_key}")
    if peer.public_key:
        lines.append(f"PublicKey = {peer.public_key}")
    return lines


def interface_lines(
    address: Sequence[str] = (),
    private_key: Optional[str] = None,
    listen_port: Optional[int] = None,
    dns: Sequence[str] = (),
    mtu: Optional[int] = None,
    table: Optional[str] = None,
    post_up: Sequence[str] = (),
) -> List[str]:
    """The lines under ``[Interface]``, the one place that knows them and their order.

    Address, PrivateKey, ListenPort, DNS, MTU, Table, PostUp; unset fields print nothing. ``kgctl
    showconf node`` prints PrivateKey then ListenPort; Address, DNS, MTU, Table and PostUp are
    wg-quick fields (client files, the node's wg-quick file of kilo.mesh.wireguard_interface).
    """
    lines = []
    if address:
        lines.append("Address = " + ", ".join(address))
    if private_key:
        lines.append(f"PrivateKey = {private_key}")
    if listen_port is not None:
        lines.append(f"ListenPort = {listen_port}")
    if dns:
        lines.append("DNS = " + ", ".join(dns))
    if mtu is not None:
        lines.append(f"MTU = {mtu}")
    if table is not None:
        lines.append(f"Table = {table}")
    lines.extend(f"PostUp = {command}" for command in post_up)
    return lines


def render_conf(
    peers: Sequence[WgPeer],
    listen_port: Optional[int] = None,
    private_key: Optional[str] = None,
    interface: bool = False,
    interface_lines: Optional[Sequence[str]] = None,
) -> str:
    """Configuration text (docs/kilo/config-formats.md#setconf-grammar). ``interface=True`` prints
    ``[Interface]`` (PrivateKey if given, ListenPort); ``interface_lines`` (from :func:`interface_lines`)
    replaces the lines under ``[Interface]`` (wg-quick client files)."""
    blocks: List[List[str]] = []
    if interface or interface_lines is not None:
        head = ["[Interface]"]
        if interface_lines is not None:
            head.extend(interface_lines)
        else:
            head.extend(_interface_lines(private_key=private_key, listen_port=listen_port))
        blocks.append(head)
    blocks.extend(render_peer(peer) for peer in peers)
    return "\n".join("\n".join(block) + "\n" for block in blocks)


_interface_lines = interface_lines


# --------------------------------------------------------------------------------------------
# sections of kgctl showconf node / peer (docs/kilo/config-formats.md#showconf-node, #showconf-peer)
# --------------------------------------------------------------------------------------------
def effective_endpoint(
    discovered: Mapping[str, Endpoint],
    local: Mapping[str, Endpoint],
    public_key: str,
    keepalive: int,
    configured: Optional[Endpoint],
) -> Optional[Endpoint]:
    """The endpoint Kilo uses for a remote segment or peer (docs/kilo/topology.md#endpoint-choice).

    The remote side's keepalive decides whether its discovered endpoint is used: the local node's
    own discovered endpoints (``local``) first, then the cluster-wide map
    (docs/kilo/topology.md#discovered-endpoints). The route rule of docs/kilo/routes.md#routes compares
    against this same endpoint.
    """
    if keepalive:
        found = local.get(public_key) or discovered.get(public_key)
        if found is not None:
            return found
    return configured


def _endpoint(
    discovered: Mapping[str, Endpoint],
    local: Mapping[str, Endpoint],
    public_key: str,
    keepalive: int,
    configured: Optional[Endpoint],
) -> Optional[str]:
    """Text of :func:`effective_endpoint` for an ``Endpoint =`` line (None: no line)."""
    endpoint = effective_endpoint(discovered, local, public_key, keepalive, configured)
    return endpoint.text if endpoint is not None else None


def node_sections(topo: Topology, name: str) -> List[WgPeer]:
    """``[Peer]`` sections of ``kgctl showconf node NAME`` (NAME must be a leader)."""
    node = topo.nodes_by_name[name]
    own = topo.segments[topo.node_segment[name]]
    local = dict(node.discovered_endpoints)
    keepalive = node.persistent_keepalive
    sections = []
    for segment in topo.segments:
        if segment is own or (topo.granularity == "cross" and segment.location == own.location):
            continue
        sections.append(
            WgPeer(
                public_key=segment.public_key,
                allowed_ips=segment.allowed_ips + segment.allowed_location_ips,
                endpoint=_endpoint(
                    topo.discovered, local, segment.public_key, segment.persistent_keepalive, segment.endpoint
                ),
                persistent_keepalive=keepalive,
            )
        )
    for peer in topo.peers:
        sections.append(_peer_section(topo, local, peer, keepalive, peer.spec.preshared_key))
    return sections


def node_conf(topo: Topology, name: str, private_key: Optional[str] = None) -> str:
    """``kgctl showconf node NAME`` byte for byte (raises NotLeaderError); with ``private_key`` the agent's form."""
    topo.require_leader(name)
    return render_conf(node_sections(topo, name), listen_port=topo.port, private_key=private_key, interface=True)


def peer_conf(topo: Topology, name: str) -> str:
    """``kgctl showconf peer NAME`` byte for byte."""
    return render_conf(peer_sections(topo, topo.peer(name)))


def _peer_section(
    topo: Topology, local: Mapping[str, Endpoint], peer: Peer, keepalive: int, preshared_key: Optional[str]
) -> WgPeer:
    spec = peer.spec
    return WgPeer(
        public_key=spec.public_key,
        allowed_ips=peer.allowed_ips,
        endpoint=_endpoint(topo.discovered, local, spec.public_key, spec.persistent_keepalive, spec.endpoint),
        persistent_keepalive=keepalive,
        preshared_key=preshared_key,
    )


def peer_sections(topo: Topology, peer: Peer) -> List[WgPeer]:
    """``[Peer]`` sections of ``kgctl showconf peer NAME``: every segment, then every other peer."""
    spec = peer.spec
    keepalive = spec.persistent_keepalive
    sections = [
        WgPeer(
            public_key=segment.public_key,
            allowed_ips=segment.allowed_ips + segment.allowed_location_ips,
            endpoint=_endpoint(topo.discovered, {}, segment.public_key, segment.persistent_keepalive, segment.endpoint),
            persistent_keepalive=keepalive,
            preshared_key=spec.preshared_key,
        )
        for segment in topo.segments
    ]
    for other in topo.peers:
        if other.name != peer.name:
            sections.append(_peer_section(topo, {}, other, keepalive, None))
    return sections


# --------------------------------------------------------------------------------------------
# --as-peer (docs/kilo/config-formats.md#as-peer)
# --------------------------------------------------------------------------------------------
def _extra_ips(allowed_ips: Union[str, Sequence[str]]) -> List[str]:
    if isinstance(allowed_ips, str):
        allowed_ips = [ip for ip in allowed_ips.split(",") if ip]
    result = []
    for text in allowed_ips:
        try:
            result.append(cidr_text(parse_interface(text).network))
        except ValueError as exc:
            raise InvalidCIDRError(
                f"option allowed_ips: invalid value {text!r}: {exc}; expected a CIDR such as 10.43.0.0/16",
                "option",
                "allowed_ips",
                "allowed_ips",
            ) from None
    return result


def _dedup(items: Sequence[str]) -> List[str]:
    seen: set = set()
    result = []
    for item in items:
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result


def _check_output(output: str) -> None:
    if output not in OUTPUTS:
        raise InvalidFieldError(
            f"option output: invalid value {output!r}: expected wireguard, json or yaml", "option", "output", "output"
        )


def peer_document(
    name: str,
    allowed_ips: Sequence[str],
    endpoint: Optional[Endpoint],
    public_key: str,
    keepalive: int = 0,
    preshared_key: Optional[str] = None,
) -> Dict[str, Any]:
    """A Kilo ``Peer`` object (kilo.squat.ai/v1alpha1) as a dict: what ``--as-peer`` prints, what
    kilo.mesh.peer sends to the cluster. Zero keepalive and no preshared key leave their fields out."""
    spec: Dict[str, Any] = {"allowedIPs": list(allowed_ips)}
    if endpoint is not None:
        dns_or_ip = {"dns": endpoint.dns} if endpoint.dns is not None else {"ip": str(endpoint.ip)}
        spec["endpoint"] = {"dnsOrIP": dns_or_ip, "port": endpoint.port}
    if keepalive > 0:
        spec["persistentKeepalive"] = keepalive
    if preshared_key:
        spec["presharedKey"] = preshared_key
    spec["publicKey"] = public_key
    return {"kind": "Peer", "apiVersion": PEER_API_VERSION, "metadata": {"name": name}, "spec": spec}


def _as_peer(
    name: str,
    allowed_ips: Sequence[str],
    endpoint: Optional[Endpoint],
    public_key: str,
    keepalive: int,
    preshared_key: Optional[str],
    output: str,
) -> str:
    if output == "wireguard":
        section = WgPeer(
            public_key=public_key,
            allowed_ips=tuple(allowed_ips),
            endpoint=endpoint.text if endpoint is not None else None,
            persistent_keepalive=keepalive,
            preshared_key=preshared_key,
        )
        return render_conf([section])
    document = peer_document(name, allowed_ips, endpoint, public_key, keepalive, preshared_key)
    if output == "json":
        return to_go_json(document)
    return to_yaml(document)


def node_as_peer(topo: Topology, name: str, allowed_ips: Union[str, Sequence[str]], output: str) -> str:
    """The node's segment as a Peer of another cluster (location IPs left out, like Kilo)."""
    _check_output(output)
    segment = topo.segments[topo.node_segment[name]]
    ips = _dedup(list(segment.allowed_ips) + _extra_ips(allowed_ips))
    return _as_peer(name, ips, segment.endpoint, segment.public_key, 0, None, output)


def peer_as_peer(topo: Topology, peer: Peer, allowed_ips: Union[str, Sequence[str]], output: str) -> str:
    """A Peer with its own (not de-duplicated) allowed IPs plus ``allowed_ips``."""
    _check_output(output)
    spec = peer.spec
    ips = _dedup(list(spec.allowed_ips_text) + _extra_ips(allowed_ips))
    return _as_peer(
        spec.name, ips, spec.endpoint, spec.public_key, spec.persistent_keepalive, spec.preshared_key, output
    )


def _words(value: Union[None, str, Sequence[Any]]) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return [str(item) for item in value]


def peer_client_conf(
    topo: Topology,
    peer: Peer,
    private_key: Optional[str],
    address: Union[None, str, Sequence[str]],
    dns: Union[None, str, Sequence[str]],
    mtu: Optional[int],
    listen_port: Optional[int] = None,
) -> str:
    """wg-quick file for the peer: :func:`interface_lines`, then the showconf-peer sections."""
    addresses = _words(address) or list(peer.spec.allowed_ips_text)
    for text in addresses:
        try:
            parse_interface(text)
        except ValueError as exc:
            raise InvalidCIDRError(
                f'peer "{peer.name}": field address has invalid value {text!r}: {exc}; '
                "expected a CIDR such as 10.5.0.1/32",
                "peer",
                peer.name,
                "address",
            ) from None
    if mtu is not None and (isinstance(mtu, bool) or not isinstance(mtu, int) or not 576 <= mtu <= 65535):
        raise InvalidFieldError(
            f'peer "{peer.name}": field mtu has invalid value {mtu!r}: expected an integer 576-65535',
            "peer",
            peer.name,
            "mtu",
        )
    if listen_port is not None and (
        isinstance(listen_port, bool) or not isinstance(listen_port, int) or not 1 <= listen_port <= 65535
    ):
        raise InvalidFieldError(
            f'peer "{peer.name}": field listen_port has invalid value {listen_port!r}: expected an integer 1-65535',
            "peer",
            peer.name,
            "listen_port",
        )
    lines = interface_lines(
        address=addresses, private_key=private_key, listen_port=listen_port, dns=_words(dns), mtu=mtu
    )
    return render_conf(peer_sections(topo, peer), interface_lines=lines)


# --------------------------------------------------------------------------------------------
# JSON like Go's json.MarshalIndent, YAML like sigs.k8s.io/yaml (docs/kilo/config-formats.md#as-peer)
# --------------------------------------------------------------------------------------------
def to_go_json(document: Any) -> str:
    """Two-space indented JSON, HTML characters escaped like Go, no trailing newline."""
    text = json.dumps(document, indent=2, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_YAML_SPECIAL = re.compile(
    r"""^(?:
        y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
        |null|Null|NULL|~
        |[-+]?(?:0|[1-9][0-9_]*)
        |[-+]?0b[01_]+|[-+]?0[0-7_]+|[-+]?0x[0-9a-fA-F_]+
        |[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?
        |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
        |[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*
    )$""",
    re.VERBOSE,
)
_YAML_INDICATORS = "#,[]{}&*!|>'\"%@`"


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if text == "" or _YAML_SPECIAL.match(text):
        return json.dumps(text, ensure_ascii=False)
    plain = not (
        text[0] in _YAML_INDICATORS
        or (text[0] in "-?:" and (len(text) == 1 or text[1] == " "))
        or text != text.strip()
        or ": " in text
        or " #" in text
        or text.endswith(":")
        or any(char in text for char in "\n\r\t")
    )
    if plain:
        return text
    if any(char in text for char in "\n\r\t"):
        return json.dumps(text, ensure_ascii=False)
    return "'" + text.replace("'", "''") + "'"


def _yaml_lines(value: Any, indent: int, lines: List[str]) -> None:
    pad = " " * indent
    for key in sorted(value):
        item = value[key]
        if isinstance(item, Mapping):
            if not item:
                lines.append(f"{pad}{key}: {{}}")
                continue
            lines.append(f"{pad}{key}:")
            _yaml_lines(item, indent + 2, lines)
        elif isinstance(item, (list, tuple)):
            if not item:
                lines.append(f"{pad}{key}: []")
                continue
            lines.append(f"{pad}{key}:")
            for element in item:
                if isinstance(element, Mapping) and element:
                    nested: List[str] = []
                    _yaml_lines(element, indent + 2, nested)
                    lines.append(f"{pad}- " + nested[0][indent + 2 :])
                    lines.extend(nested[1:])
                else:
                    lines.append(f"{pad}- {_yaml_scalar(element)}")
        else:
            lines.append(f"{pad}{key}: {_yaml_scalar(item)}")


def to_yaml(document: Mapping[str, Any]) -> str:
    """Block YAML: keys sorted at every level, two-space indentation, list items at the parent's
    indentation, strings that would read as another type quoted; ends with a newline."""
    lines: List[str] = []
    _yaml_lines(document, 0, lines)
    return "\n".join(lines) + "\n"
