#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mesh_topology
short_description: Compute the Kilo mesh topology once, on the controller, from the inventory
version_added: 0.3.0
author:
  - kilo.mesh contributors (@kilo-mesh)
description:
  - Reads the V(kilo_*) host variables of every host of O(group) (templated in each host's context, through
    the public C(hostvars)), maps them to nodes with the collection's one node schema (the same rule as the
    P(kilo.mesh.topology#lookup) lookup and the C(kilo.mesh.kilo) role), and computes the whole mesh exactly like
    Kilo. The result is the lookup's output.
  - Runs on the controller only and connects to no host. Run it once per play (C(run_once=true)) and hand its
    result to every host; this is what the C(kilo.mesh.mesh) role does.
  - The result holds the preshared keys of O(peers), so it is hidden from every output (also with V(-v)),
    like a task with C(no_log); register it to use it. Bad input fails the task with a message that names the
    host, the variable, the value and the fix; that message is shown.
  - The engine's warnings (if any) are shown as Ansible warnings.
extends_documentation_fragment:
  - kilo.mesh._attributes
  - kilo.mesh._attributes.controller_action
options:
  group:
    description:
      - Inventory group whose hosts are the mesh nodes (all of them, also under V(--limit)), when O(nodes) is not given.
      - "Host variables read: V(kilo_node_name) (default: the inventory hostname), V(kilo_location), V(kilo_endpoint),
        V(kilo_internal_ip), V(kilo_pod_cidr), V(kilo_leader), V(kilo_persistent_keepalive),
        V(kilo_allowed_location_ips) and V(kilo_public_key), in the forms the P(kilo.mesh.topology#lookup) lookup
        documents."
    type: str
    default: kilo
  nodes:
    description: Mesh nodes as dicts (the lookup's O(kilo.mesh.topology#lookup:nodes)) instead of O(group).
    type: list
    elements: dict
  peers:
    description: Kilo Peers as dicts (the lookup's O(kilo.mesh.topology#lookup:peers)).
    type: list
    elements: dict
    default: []
  granularity:
    description: How nodes are grouped into segments. V(cross) is experimental.
    type: str
    choices: [location, full, cross]
    default: location
  port:
    description: WireGuard listen port printed in node configurations.
    type: int
    default: 51820
  subnet:
    description: Pool of WireGuard IPs.
    type: str
    default: 10.4.0.0/16
  service_cidrs:
    description: Kubernetes service CIDRs; peer allowed IPs must not overlap them.
    type: list
    elements: str
    default: []
  persistent_keepalive:
    description: Persistent keepalive in seconds for nodes that set none.
    type: int
    default: 0
  routes:
    description: Include each node's V(routes) and V(rules).
    type: bool
    default: true
  public_key_var:
    description:
      - Name of a host variable whose value, when defined, replaces V(kilo_public_key) (for example the public
        key a role read on the node).
    type: str
  peer_state_var:
    description:
      - Name of a host variable holding the RV(kilo.mesh.mesh_node_probe#module:peers) list of
        M(kilo.mesh.mesh_node_probe) (each peer's public key, endpoint and latest handshake). Peers with a
        handshake become the node's discovered endpoints (Kilo's C(discovered-endpoints)).
    type: str
  previous_key_var:
    description:
      - Name of a host variable holding the public key a node had before a key rotation (the C(kilo.mesh.mesh)
        role's C(rotate) entry point sets it). Endpoints the nodes learned from handshakes under that key are kept
        for the node's new key, so a node behind NAT stays reachable at the address its peers know.
    type: str
    version_added: 0.2.0
notes:
  - Every run templates every host's V(kilo_*) variables once; see the performance guide for when to use this
    action and when a per-host lookup call.
seealso:
  - plugin: kilo.mesh.topology
    plugin_type: lookup
"""

EXAMPLES = r"""
---
- name: Compute the mesh once for the play
  kilo.mesh.mesh_topology:
    group: kilo
    persistent_keepalive: 25
  run_once: true
  register: mesh

- name: Show this node's WireGuard configuration (leaders only; empty for other nodes)
  ansible.builtin.debug:
    msg: "{{ mesh.topology.nodes[kilo_node_name | default(inventory_hostname)].conf }}"
  no_log: true
"""

RETURN = r"""
topology:
  description: The topology, exactly the P(kilo.mesh.topology#lookup) lookup's output.
  returned: success
  type: dict
hosts_by_node:
  description: Inventory host of each node name (empty with O(nodes)).
  returned: success
  type: dict
  sample: {gcp-1: gcp-1.example.com}
node_by_host:
  description: Node name of each inventory host of O(group) (the inverse of RV(hosts_by_node); empty with O(nodes)).
  returned: success
  type: dict
  sample: {gcp-1.example.com: gcp-1}
keepalive_keys:
  description: Public keys of the nodes with a persistent keepalive (their own or O(persistent_keepalive)), sorted.
  returned: success
  type: list
  elements: str
"""
