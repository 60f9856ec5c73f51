# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors
"""Action of kilo.mesh.node_annotations (documented in plugins/modules/node_annotations.py): runs on the controller."""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.kilo.mesh.plugins.module_utils.topology import TopologyError
from ansible_collections.kilo.mesh.plugins.module_utils.topology.schema import (
    check_node,
    host_error_message,
    node_annotations,
)
from ansible_collections.kilo.mesh.plugins.plugin_utils.mesh import MeshError, read_nodes

ARGUMENT_SPEC = {"group": {"type": "str", "default": "kilo_nodes"}}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict | None = None) -> dict:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        group = args["group"]
        if not (task_vars.get("groups") or {}).get(group):
            result.update(changed=False, patches=[], nodes={})
            return result
        try:
            nodes, hosts_by_node = read_nodes(task_vars, group, require_key=False)
            for node in nodes:
                try:
                    check_node(node)
                except TopologyError as exc:
                    raise MeshError(host_error_message(exc, hosts_by_node)) from None
        except MeshError as exc:
            result.update(failed=True, msg=f"kilo.mesh.node_annotations: {exc}")
            return result
        hosts = [str(host) for host in task_vars["groups"][group]]
        by_host = sorted(zip(hosts, nodes, strict=True), key=lambda item: item[0])
        patches = [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": node["name"], "annotations": node_annotations(node)},
            }
            for _host, node in by_host
        ]
        result.update(changed=False, patches=patches, nodes={host: node["name"] for host, node in by_host})
        return result
