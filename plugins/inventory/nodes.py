# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors
from __future__ import annotations

DOCUMENTATION = r"""
---
name: nodes
short_description: Inventory of a Kubernetes cluster's Nodes with their Kilo annotations
version_added: 0.1.0
description:
  - Reads every Node of a cluster and adds it as a host, with the Kilo settings of its annotations as host vars
    (V(kilo_location), V(kilo_endpoint), V(kilo_internal_ip), V(kilo_pod_cidr), V(kilo_leader), V(kilo_public_key),
    V(kilo_persistent_keepalive), V(kilo_allowed_location_ips), V(kilo_wireguard_ip), V(kilo_ready)), parsed as
    Kilo parses them.
  - C(ansible_host) is the Node's InternalIP address from its status.
  - Groups are V(kilo) (all nodes) and V(kilo_location_<location>) (sanitised; the default location is
    V(kilo_location_)).
  - The inventory file name must end in C(kilo_nodes.yml) or C(kilo_nodes.yaml).
author:
  - kilo.mesh contributors (@kilo-mesh)
requirements:
  - kubernetes (Python library)
extends_documentation_fragment:
  - ansible.builtin.constructed
options:
  plugin:
    description: Marks this file as an inventory of this plugin.
    type: str
    required: true
    choices: [kilo.mesh.nodes]
  kubeconfig:
    description: Path of the kubeconfig; default is the kubernetes client's ($KUBECONFIG, ~/.kube/config).
    type: path
  context:
    description: kubeconfig context; default is the current one.
    type: str
  topology_label:
    description:
      - Node label used as location when the C(kilo.squat.ai/location) annotation is absent (kg's --topology-label).
    type: str
    default: topology.kubernetes.io/region
"""

EXAMPLES = r"""
---
# inventory/kilo_nodes.yml
plugin: kilo.mesh.nodes
kubeconfig: ~/.kube/config
keyed_groups:
  - key: kilo_leader
    prefix: leader
compose:
  ansible_user: "'root'"
"""

import re

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

from ansible_collections.kilo.mesh.plugins.module_utils.k8s_cluster import ClusterReadError, list_objects
from ansible_collections.kilo.mesh.plugins.module_utils.topology import kube, schema

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def _internal_address(obj: dict) -> str | None:
    for address in (obj.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return address.get("address")
    return None


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "kilo.mesh.nodes"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(("kilo_nodes.yml", "kilo_nodes.yaml"))

    def parse(self, inventory, loader, path, cache=False):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            nodes, _peers = list_objects(self.get_option("kubeconfig"), self.get_option("context"))
        except ClusterReadError as exc:
            raise AnsibleParserError(f"kilo.mesh.nodes: {exc}") from exc
        self.populate(nodes)

    def populate(self, nodes: list) -> None:
        self.inventory.add_group("kilo")
        strict = self.get_option("strict")
        for obj in nodes:
            fields = kube.node_fields(obj, self.get_option("topology_label"))
            name = fields["name"]
            self.inventory.add_host(name, group="kilo")
            location_group = "kilo_location_" + _UNSAFE.sub("_", fields["location"])
            self.inventory.add_group(location_group)
            self.inventory.add_host(name, group=location_group)
            # the kilo_* variables of the node schema (the lookup and the roles read them back the same way)
            host_vars = schema.host_vars_from_node(fields)
            host_vars.update(
                kilo_discovered_endpoints=fields["discovered_endpoints"],
                kilo_wireguard_ip=fields["wireguard_ip"],
                kilo_ready=kube.node_ready(fields, None),
            )
            address = _internal_address(obj)
            if address:
                host_vars["ansible_host"] = address
            for key, value in host_vars.items():
                self.inventory.set_variable(name, key, value)
            self._set_composite_vars(self.get_option("compose"), host_vars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), host_vars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), host_vars, name, strict=strict)
