# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors
"""Action of kilo.mesh.mesh_topology (documented in plugins/modules/mesh_topology.py): runs on the controller."""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.kilo.mesh.plugins.module_utils.topology.constants import (
    DEFAULT_PORT,
    DEFAULT_SUBNET,
    GRANULARITIES,
)
from ansible_collections.kilo.mesh.plugins.plugin_utils.mesh import MeshError, compute, read_nodes

display = Display()

ARGUMENT_SPEC = {
    "group": {"type": "str", "default": "kilo"},
    "nodes": {"type": "list", "elements": "dict"},
    "peers": {"type": "list", "elements": "dict", "default": []},
    "granularity": {"type": "str", "choices": list(GRANULARITIES), "default": "location"},
    "port": {"type": "int", "default": DEFAULT_PORT},
    "subnet": {"type": "str", "default": DEFAULT_SUBNET},
    "service_cidrs": {"type": "list", "elements": "str", "default": []},
    "persistent_keepalive": {"type": "int", "default": 0},
    "routes": {"type": "bool", "default": True},
    "public_key_var": {"type": "str"},
    "peer_state_var": {"type": "str"},
    "previous_key_var": {"type": "str"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict | None = None) -> dict:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        hosts_by_node: dict[str, str] = {}
        nodes = args["nodes"]
        try:
            if nodes is None:
                nodes, hosts_by_node = read_nodes(
                    task_vars,
                    args["group"],
                    args["public_key_var"],
                    args["peer_state_var"],
                    previous_key_var=args["previous_key_var"],
                )
            inputs = {name: args[name] for name in ARGUMENT_SPEC if name in _ENGINE_OPTIONS}
            topology, warnings = compute(dict(inputs, nodes=nodes), hosts_by_node)
        except MeshError as exc:
            # the inputs and the result stay hidden; the message names the host, variable and fix
            result.update(failed=True, msg=f"kilo.mesh.mesh_topology: {exc}")
            return result
        for warning in warnings:
            display.warning(f"kilo.mesh.mesh_topology: {warning}")
        default = args["persistent_keepalive"]
        keepalive_keys = sorted(
            str(node["public_key"])
            for node in nodes
            if (default if node.get("persistent_keepalive") is None else int(node["persistent_keepalive"])) > 0
        )
        # the topology holds the preshared keys of the peers: keep it out of every output (-v included)
        result.update(
            changed=False,
            topology=topology,
            hosts_by_node=hosts_by_node,
            node_by_host={host: name for name, host in hosts_by_node.items()},
            keepalive_keys=keepalive_keys,
            _ansible_no_log=True,
        )
        return result


_ENGINE_OPTIONS = ("peers", "granularity", "port", "subnet", "service_cidrs", "persistent_keepalive", "routes")
