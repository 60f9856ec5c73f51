#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mesh_node_record
short_description: Record on a mesh node what the mesh role applied, so the next run can skip an unchanged node
version_added: 0.3.0
description:
  - Writes O(state_file) (mode C(0600)) with O(digest), the digest of everything the P(kilo.mesh.mesh#role) role
    passed to its apply tasks (the P(kilo.mesh.node_digest#filter) filter), and a fingerprint of the node's live
    mesh state taken now, after the apply tasks ran.
  - The next M(kilo.mesh.mesh_node_probe) takes the fingerprint again. While it is unchanged and the role would
    apply the same digest, the role runs nothing else on the node; see M(kilo.mesh.mesh_node_probe) for what
    the fingerprint covers. Use the same O(interface), O(route_protocols), O(files) and O(units) as the probe.
  - The record holds digests only, no key material.
author:
  - kilo.mesh contributors (@kilo-mesh)
extends_documentation_fragment:
  - kilo.mesh._attributes
  - kilo.mesh._node_state
attributes:
  check_mode:
    support: full
    details: In check mode the record is not written; the result says whether it would change.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  digest:
    description: Digest of what was applied (the P(kilo.mesh.node_digest#filter) filter of the apply inputs).
    type: str
    required: true
seealso:
  - module: kilo.mesh.mesh_node_probe
"""

EXAMPLES = r"""
- name: Record what was applied
  kilo.mesh.mesh_node_record:
    digest: "{{ apply_inputs | kilo.mesh.node_digest }}"
    interface: kilo0
    files: [/etc/wireguard/kilo0.conf, /var/lib/kilo/mesh-routes]
"""

RETURN = r"""
live:
  description: Fingerprint (SHA-256) of the node's live mesh state that was recorded.
  returned: always
  type: str
state_file:
  description: Path of the record.
  returned: always
  type: str
  sample: /var/lib/kilo/mesh-state.json
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kilo.mesh.plugins.module_utils._argspec import node_state_argument_spec
from ansible_collections.kilo.mesh.plugins.module_utils._node_state import (
    fingerprint,
    read_dump,
    runner,
    write_record,
)
from ansible_collections.kilo.mesh.plugins.module_utils._wireguard import WireGuardError


def main():
    argument_spec = node_state_argument_spec()
    argument_spec.update(digest=dict(type="str", required=True))
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
    )
    params = module.params
    run = runner(module)

    path = params["state_file"]
    try:
        dump = (
            read_dump(run, params["interface"]) if module.get_bin_path("wg", opt_dirs=["/usr/sbin", "/sbin"]) else None
        )
        live = fingerprint(run, params["interface"], params["route_protocols"], params["files"], params["units"], dump)
        changed = write_record(path, params["digest"], live, check_mode=module.check_mode)
    except (WireGuardError, OSError) as exc:
        module.fail_json(msg="mesh node record {0}: {1}".format(path, exc))
    module.exit_json(changed=changed, live=live["live"], state_file=path)


if __name__ == "__main__":
    main()
