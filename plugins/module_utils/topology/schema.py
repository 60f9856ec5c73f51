# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The one node schema: inventory ``kilo_*`` host variables <-> engine node dicts <-> Kilo's annotations.

Private to the collection, no stable API. Pure (stdlib and this package only), so the lookup, the
``kilo.mesh.mesh_topology`` and ``kilo.mesh.node_annotations`` action plugins, the inventory plugin and
the unit tests share exactly one rule for every node field:

* :func:`node_from_host_vars` maps a host's ``kilo_*`` variables (every accepted form: a list or a
  comma-separated string, booleans as ``true``/``"yes"``/``1``, integers as numbers or digit strings)
  to the engine's node dict; a value of the wrong form is refused with :class:`HostVarError`.
* :func:`node_annotations` maps a node (dict or ``NodeSpec``) to the user annotations of Kilo's Node
  object, in exactly the format Kilo's agent parses; :func:`topology.kube.node_fields` reads them back.
* :func:`host_vars_from_node` is the inverse of :func:`node_from_host_vars` (inventory plugin).
* :func:`host_error_message` adds the inventory host and variable to an engine error about a node.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from .build import parse_node
from .errors import InvalidFieldError, TopologyError

ANNOTATION_PREFIX = "kilo.squat.ai/"

#: user annotations (an administrator sets them; the kilo role manages exactly these)
LOCATION = "location"
LEADER = "leader"
FORCE_ENDPOINT = "force-endpoint"
FORCE_INTERNAL_IP = "force-internal-ip"
PERSISTENT_KEEPALIVE = "persistent-keepalive"
ALLOWED_LOCATION_IPS = "allowed-location-ips"
USER_ANNOTATIONS = (LOCATION, LEADER, FORCE_ENDPOINT, FORCE_INTERNAL_IP, PERSISTENT_KEEPALIVE, ALLOWED_LOCATION_IPS)
#: value of force-internal-ip that means "this node has no internal IP"
NO_INTERNAL_IP = "-"
#: the value of the leader annotation the role writes (Kilo only checks that the annotation exists)
LEADER_TRUE = "true"

#: inventory host variable -> engine node field (``kilo_node_name`` gives the node's name)
HOST_VARS = {
    "kilo_location": "location",
    "kilo_endpoint": "endpoint",
    "kilo_internal_ip": "internal_ip",
    "kilo_pod_cidr": "pod_cidr",
    "kilo_leader": "leader",
    "kilo_persistent_keepalive": "persistent_keepalive",
    "kilo_allowed_location_ips": "allowed_location_ips",
    "kilo_public_key": "public_key",
}
NODE_NAME_VAR = "kilo_node_name"
#: every host variable the schema reads
NODE_VARS = (NODE_NAME_VAR, *HOST_VARS)
#: engine node field -> inventory host variable
FIELD_VARS = {field: var for var, field in HOST_VARS.items()}
FIELD_VARS["name"] = NODE_NAME_VAR

_TRUE = ("true", "yes", "on", "y", "t", "1")
_FALSE = ("false", "no", "off", "n", "f", "0")
_FIX = "fix the host variable {var} of host {host} (inventory, host_vars/ or group_vars/)"


class HostVarError(InvalidFieldError):
    """A ``kilo_*`` host variable has a value of the wrong form. ``host`` and ``var`` name it."""

    def __init__(self, host: str, var: str, value: Any, expected: str, node: Optional[str] = None) -> None:
        shown = "(value not shown)" if var == "kilo_public_key" else repr(value)
        message = f"host {host!r}: {var} has invalid value {shown}: {expected}; " + _FIX.format(var=var, host=host)
        super().__init__(message, "node", node or host, HOST_VARS.get(var, "name"))
        self.host = host
        self.var = var


def parse_bool(value: Any) -> Optional[bool]:
    """``True``/``False`` for every accepted boolean form (bool, 0/1, ``"true"``, ``"yes"``, ...); None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def split_cidrs(value: Any) -> Optional[List[str]]:
    """A list of CIDR strings from a list or a comma-separated string (spaces allowed); None when neither."""
    if isinstance(value, str):
        items: Iterable[Any] = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return None
    result = []
    for item in items:
        if not isinstance(item, str):
            return None
        if item.strip():
            result.append(item.strip())
    return result


def _text(value: Any) -> Optional[str]:
    """Strings as they are, numbers as their text (YAML reads ``location: 1`` as an int); None otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def node_from_host_vars(
    host: str,
    values: Mapping[str, Any],
    public_key: Optional[str] = None,
    discovered_endpoints: Optional[Mapping[str, str]] = None,
) -> Dict[str, Any]:
    """The engine node dict of one inventory host.

    ``values`` holds the host's (templated) variables of :data:`NODE_VARS` that are defined.
    ``public_key`` (read on the node by the mesh role) replaces ``kilo_public_key``;
    ``discovered_endpoints`` (public key -> ``ip:port``) is added as is. Fields whose variable is not
    defined are left out (the engine's defaults apply), so :func:`node_annotations` can tell "unset"
    from "empty". Raises :class:`HostVarError` for a value of the wrong form; the engine validates
    the content (CIDRs, endpoints, keys).
    """
    raw_name = values.get(NODE_NAME_VAR, host)
    name = _text(raw_name)
    if not name:
        raise HostVarError(host, NODE_NAME_VAR, raw_name, "expected a non-empty string (the Kubernetes Node name)")
    node: Dict[str, Any] = {"name": name}

    def fail(var: str, expected: str) -> HostVarError:
        return HostVarError(host, var, values[var], expected, name)

    for var in ("kilo_location", "kilo_endpoint", "kilo_pod_cidr", "kilo_public_key"):
        if values.get(var) is None:
            continue
        text = _text(values[var])
        if text is None:
            raise fail(var, "expected a string")
        if text or var == "kilo_location":
            node[HOST_VARS[var]] = text

    if "kilo_internal_ip" in values:
        value = values["kilo_internal_ip"]
        if value in (None, "", NO_INTERNAL_IP):
            node["internal_ip"] = None
        elif isinstance(value, str):
            node["internal_ip"] = value
        else:
            raise fail("kilo_internal_ip", "expected a CIDR with host bits such as 10.240.0.2/24, or '-' for none")

    if values.get("kilo_leader") is not None:
        leader = parse_bool(values["kilo_leader"])
        if leader is None:
            raise fail("kilo_leader", "expected a boolean (true/false, yes/no or 1/0)")
        node["leader"] = leader

    if values.get("kilo_persistent_keepalive") is not None:
        value = values["kilo_persistent_keepalive"]
        if isinstance(value, int) and not isinstance(value, bool):
            keepalive = value
        elif isinstance(value, str) and value.strip().isdigit():
            keepalive = int(value.strip())
        else:
            raise fail("kilo_persistent_keepalive", "expected a whole number of seconds such as 25 (0 disables)")
        if keepalive < 0:
            raise fail("kilo_persistent_keepalive", "expected 0 or more seconds")
        node["persistent_keepalive"] = keepalive

    if values.get("kilo_allowed_location_ips") is not None:
        cidrs = split_cidrs(values["kilo_allowed_location_ips"])
        if cidrs is None:
            raise fail(
                "kilo_allowed_location_ips",
                "expected a list of CIDRs or a comma-separated string such as '192.168.60.0/24,192.168.61.0/24'",
            )
        node["allowed_location_ips"] = cidrs

    if public_key:
        node["public_key"] = public_key
    if discovered_endpoints:
        node["discovered_endpoints"] = dict(discovered_endpoints)
    return node


def host_vars_from_node(fields: Mapping[str, Any]) -> Dict[str, Any]:
    """The ``kilo_*`` host variables of a node dict (inverse of :func:`node_from_host_vars`)."""
    result = {NODE_NAME_VAR: fields["name"]}
    for var, field in HOST_VARS.items():
        if field in fields:
            result[var] = fields[field]
    return result


# a valid stand-in for each field the engine requires but an annotation does not carry
_REQUIRED_STANDINS = {
    "endpoint": "192.0.2.1:51820",
    "pod_cidr": "10.255.255.0/24",
    "public_key": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
}


def check_node(node: Mapping[str, Any]) -> None:
    """Validate the fields a node dict sets with the engine's own parser (the same messages as the
    lookup); fields it leaves out are not checked. Raises :class:`TopologyError`."""
    parse_node({**_REQUIRED_STANDINS, **{k: v for k, v in node.items() if v is not None or k == "internal_ip"}})


def _node_dict(node: Any) -> Dict[str, Any]:
    """A node dict from a dict or a ``NodeSpec`` (whose fields are all set)."""
    if isinstance(node, Mapping):
        return dict(node)
    return {
        "name": node.name,
        "location": node.location,
        "endpoint": node.endpoint.text if node.endpoint is not None else None,
        "internal_ip": node.internal_ip.with_prefixlen if node.internal_ip is not None else None,
        "leader": node.leader,
        "persistent_keepalive": node.persistent_keepalive,
        "allowed_location_ips": [ip.with_prefixlen for ip in node.allowed_location_ips],
    }


def node_annotations(node: Any) -> Dict[str, Optional[str]]:
    """Kilo's user annotations (full keys) of a node; None removes an annotation (JSON merge patch).

    The values are in the format Kilo's agent parses: ``leader`` is ``"true"`` (or removed),
    ``force-internal-ip`` is ``"-"`` for "no internal IP", ``persistent-keepalive`` an integer string,
    ``allowed-location-ips`` the CIDRs joined with ``,`` and no spaces. A field that a node dict leaves
    out removes its annotation.
    """
    fields = _node_dict(node)
    result: Dict[str, Optional[str]] = {}
    location = fields.get("location")
    result[LOCATION] = None if location is None else str(location)
    result[LEADER] = LEADER_TRUE if fields.get("leader") is True else None
    endpoint = fields.get("endpoint")
    result[FORCE_ENDPOINT] = str(endpoint) if endpoint else None
    if "internal_ip" not in fields:
        result[FORCE_INTERNAL_IP] = None
    else:
        internal = fields["internal_ip"]
        result[FORCE_INTERNAL_IP] = NO_INTERNAL_IP if internal in (None, "", NO_INTERNAL_IP) else str(internal)
    keepalive = fields.get("persistent_keepalive")
    result[PERSISTENT_KEEPALIVE] = None if keepalive is None else str(int(keepalive))
    cidrs = split_cidrs(fields.get("allowed_location_ips") or [])
    result[ALLOWED_LOCATION_IPS] = ",".join(cidrs) if cidrs else None
    return {ANNOTATION_PREFIX + key: value for key, value in result.items()}


def discovered_from_peer_state(peers: Any) -> Dict[str, str]:
    """Endpoints a node's WireGuard interface learned from completed handshakes (Kilo's discovered
    endpoints): public key -> ``ip:port``, from the ``peers`` list of kilo.mesh.mesh_node_probe (each with
    ``public_key``, ``endpoint`` and ``latest_handshake``). Peers without an endpoint or a handshake, and
    anything that is not such a list, give nothing."""
    if isinstance(peers, Mapping) or not isinstance(peers, Sequence) or isinstance(peers, str):
        return {}
    found: Dict[str, str] = {}
    for peer in peers:
        if not isinstance(peer, Mapping):
            continue
        key, endpoint = peer.get("public_key"), peer.get("endpoint")
        if isinstance(key, str) and isinstance(endpoint, str) and endpoint and peer.get("latest_handshake"):
            found[key] = endpoint
    return found


def carry_discovered_endpoints(nodes: Sequence[Dict[str, Any]], renamed_keys: Mapping[str, str]) -> None:
    """After a key rotation (``renamed_keys``: old public key -> new one), give each node's endpoint learned from
    handshakes under the old key to the new key too, in every node's ``discovered_endpoints``: the others reach a
    node behind NAT only at the endpoint they learned. An endpoint already known for the new key stays."""
    for node in nodes:
        discovered = node.get("discovered_endpoints")
        if not discovered:
            continue
        for old, new in renamed_keys.items():
            if old != new and old in discovered and new not in discovered:
                discovered[new] = discovered[old]


def host_error_message(exc: TopologyError, hosts_by_node: Mapping[str, str]) -> str:
    """The engine's message, plus the inventory host and variable when the error is about a node field."""
    message = str(exc)
    if isinstance(exc, HostVarError) or exc.kind != "node" or not exc.field:
        return message
    var = FIELD_VARS.get(exc.field)
    host = hosts_by_node.get(str(exc.name))
    if var is None or host is None:
        return message
    return f"{message} (inventory host variable {var} of host {host!r}; " + _FIX.format(var=var, host=host) + ")"
