#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors

from __future__ import annotations

DOCUMENTATION = r"""
---
module: node_annotations
short_description: Kilo's user annotations of every Node, from the inventory's kilo_* host variables
version_added: 0.3.0
author:
  - kilo.mesh contributors (@kilo-mesh)
description:
  - Reads the V(kilo_*) host variables of every host of O(group) with the collection's one node schema (the
    same rule as the P(kilo.mesh.topology#lookup) lookup) and returns, per Node, a JSON merge patch of Kilo's
    six user annotations (C(kilo.squat.ai/location), C(leader), C(force-endpoint), C(force-internal-ip),
    C(persistent-keepalive), C(allowed-location-ips)) in exactly the format Kilo's agent parses. An annotation
    whose variable is not set is V(null) (removed by the patch).
  - Values are validated like the lookup validates them; a bad one fails with a message naming the host, the
    variable, the value and the fix.
  - Runs on the controller only and changes nothing; the C(kilo.mesh.kilo) role applies the patches.
extends_documentation_fragment:
  - kilo.mesh._attributes
  - kilo.mesh._attributes.controller_action
options:
  group:
    description: Inventory group whose hosts are the Nodes. A group that does not exist or is empty gives no patches.
    type: str
    default: kilo_nodes
seealso:
  - plugin: kilo.mesh.topology
    plugin_type: lookup
"""

EXAMPLES = r"""
---
- name: Compute the annotation patches
  kilo.mesh.node_annotations:
    group: kilo_nodes
  run_once: true
  register: annotations

- name: Patch the Nodes
  kubernetes.core.k8s:
    state: patched
    merge_type: merge
    definition: "{{ item }}"
  loop: "{{ annotations.patches }}"
"""

RETURN = r"""
patches:
  description: One Node object per host of O(group) (sorted by host) with C(metadata.annotations) as a merge patch.
  returned: success
  type: list
  elements: dict
  sample:
    - apiVersion: v1
      kind: Node
      metadata:
        name: dc1-a
        annotations:
          kilo.squat.ai/location: dc1
          kilo.squat.ai/leader: "true"
          kilo.squat.ai/force-endpoint: 192.0.2.10:51820
          kilo.squat.ai/force-internal-ip: "-"
          kilo.squat.ai/persistent-keepalive: "25"
          kilo.squat.ai/allowed-location-ips: 192.168.60.0/24,192.168.61.0/24
nodes:
  description: Kubernetes Node name of each inventory host of O(group).
  returned: success
  type: dict
  sample: {dc1-a.example.com: dc1-a}
"""
