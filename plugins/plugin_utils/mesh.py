# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors
"""Controller-side glue shared by the ``kilo.mesh.topology`` lookup and the ``kilo.mesh.mesh_topology`` and
``kilo.mesh.node_annotations`` action plugins (private, no stable API).

Reads the mesh nodes from the inventory through the public ``hostvars`` mapping (each value templated
in its host's context), maps them with the one node schema (``module_utils/topology/schema.py``) and
runs the engine. Errors are :class:`MeshError` with a message ready for the user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleError
from jinja2 import Undefined, UndefinedError

from ansible_collections.kilo.mesh.plugins.module_utils.topology import TopologyError, build_topology
from ansible_collections.kilo.mesh.plugins.module_utils.topology.schema import (
    NODE_VARS,
    HostVarError,
    carry_discovered_endpoints,
    discovered_from_peer_state,
    host_error_message,
    node_from_host_vars,
)


class MeshError(Exception):
    """Bad input; the message names the host, node or peer, the variable or field and the fix."""


def _template(host_vars: Any, host: str, var: str) -> Any:
    """One host variable, templated in the host's context; a template error names the host and variable
    (inside a lookup an undefined variable comes back as a jinja2 Undefined value instead of an error)."""
    try:
        value = host_vars[var]
        if isinstance(value, Undefined):
            str(value)  # raises the undefined error with its message
            raise AnsibleError("undefined value")
        return value
    except (AnsibleError, UndefinedError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        raise MeshError(
            f"host {host!r}: the value of host variable {var} cannot be templated: {message}; "
            f"fix {var} of host {host} (or the variables it uses)"
        ) from None


def read_nodes(
    variables: Mapping[str, Any],
    group: str,
    public_key_var: str | None = None,
    peer_state_var: str | None = None,
    require_key: bool = True,
    previous_key_var: str | None = None,
) -> tuple[list[dict], dict[str, str]]:
    """(node dicts, inventory host per node name) of the hosts of ``group``.

    ``public_key_var`` names a host variable whose value replaces ``kilo_public_key`` (the mesh role's
    key read on the node); ``peer_state_var`` names a host variable holding the ``peers`` list of
    kilo.mesh.mesh_node_probe (its discovered endpoints). Every call templates every host's
    ``kilo_*`` variables: always correct, never stale. ``previous_key_var`` names a host variable holding the
    key a node had before a rotation: endpoints the nodes learned for that key are kept for the new one.
    """
    groups = variables.get("groups") or {}
    hostvars = variables.get("hostvars") or {}
    if group not in groups:
        raise MeshError(
            f"inventory group {group!r} does not exist; put the mesh nodes in it, set group=..., or pass nodes=..."
        )
    nodes: list[dict] = []
    hosts_by_node: dict[str, str] = {}
    renamed_keys: dict[str, str] = {}
    for host in groups[group]:
        host_vars = hostvars[host]
        values = {var: _template(host_vars, host, var) for var in NODE_VARS if var in host_vars}
        public_key = None
        if public_key_var and public_key_var in host_vars:
            public_key = _template(host_vars, host, public_key_var)
        discovered = None
        if peer_state_var and peer_state_var in host_vars:
            discovered = discovered_from_peer_state(_template(host_vars, host, peer_state_var))
        try:
            node = node_from_host_vars(host, values, public_key=public_key, discovered_endpoints=discovered)
        except HostVarError as exc:
            raise MeshError(str(exc)) from None
        if require_key and not node.get("public_key"):
            raise MeshError(
                f"host {host!r} has no kilo_public_key; run the kilo.mesh.wireguard_key module on every host of "
                "the group first (and register its public_key as kilo_public_key), or pass nodes=..."
            )
        if previous_key_var and previous_key_var in host_vars and node.get("public_key"):
            previous = _template(host_vars, host, previous_key_var)
            if previous:
                renamed_keys[str(previous)] = str(node["public_key"])
        hosts_by_node[node["name"]] = str(host)
        nodes.append(node)
    carry_discovered_endpoints(nodes, renamed_keys)
    if not nodes:
        raise MeshError(f"inventory group {group!r} has no hosts")
    return nodes, hosts_by_node


def compute(inputs: dict[str, Any], hosts_by_node: Mapping[str, str] | None = None) -> tuple[dict, tuple]:
    """(lookup output, engine warnings) for the engine inputs (``routes`` selects the route lists).

    Each peer entry also carries the peer's ``endpoint`` (normalised, or None), which the graph needs.
    """
    inputs = dict(inputs)
    routes = inputs.pop("routes", True)
    try:
        topology = build_topology(**inputs)
        result = topology.to_dict(routes=routes)
        for name, entry in result.get("peers", {}).items():
            endpoint = topology.peer(name).endpoint
            entry["endpoint"] = endpoint.text if endpoint is not None else None
    except TopologyError as exc:
        raise MeshError(host_error_message(exc, hosts_by_node or {})) from None
    return result, tuple(getattr(topology, "warnings", ()) or ())
