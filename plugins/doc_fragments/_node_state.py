# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors

# This doc fragment is PRIVATE to the kilo.mesh collection. It can change at any time.
# Do not use it from other collections or standalone modules.

from __future__ import annotations


class ModuleDocFragment:
    # What a mesh node's fingerprint covers (kilo.mesh.mesh_node_probe, kilo.mesh.mesh_node_record; argument
    # spec: node_state_argument_spec() in plugins/module_utils/_argspec.py). Give both modules the same values.
    DOCUMENTATION = r"""
options:
  interface:
    description: Name of the WireGuard interface.
    type: str
    default: kilo0
  route_protocols:
    description: Route protocol numbers whose routes (all tables, IPv4 and IPv6) belong to the mesh state.
    type: list
    elements: int
    default: [117, 211]
  files:
    description:
      - Files whose content belongs to the mesh state (wg-quick configuration, route restore file, units).
      - A missing file is part of the state too.
    type: list
    elements: path
    default: []
  units:
    description:
      - systemd units whose C(is-enabled) and C(is-active) states belong to the mesh state. They are read only
        on a node booted with systemd (C(/run/systemd/system) exists).
    type: list
    elements: str
    default: []
  state_file:
    description: The record of what was applied, written by M(kilo.mesh.mesh_node_record) (mode C(0600)).
    type: path
    default: /var/lib/kilo/mesh-state.json
"""
