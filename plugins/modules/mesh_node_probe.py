#!/usr/bin/python
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mesh_node_probe
short_description: Read in one call what the mesh role needs from a node, and whether it still runs what was applied
version_added: 0.3.0
description:
  - Reads, without changing anything, everything the P(kilo.mesh.mesh#role) role needs from a node before it
    computes the topology, in one remote call - the public key of the node's WireGuard key, whether the
    WireGuard tools are installed, the peers' endpoints and latest handshakes on the interface (Kilo's
    discovered endpoints), and the C(os_family) and C(service_mgr) facts when the play did not gather them.
  - It also fingerprints the node's live mesh state (the interface, the routes of O(route_protocols), the
    content of O(files), the units of O(units)) and compares it with the record that
    M(kilo.mesh.mesh_node_record) wrote when the role last applied the node. When they are equal,
    RV(applied_digest) is the digest of what was applied then; the role applies nothing when it equals the
    digest of what it would apply now (the P(kilo.mesh.node_digest#filter) filter). Anything that drifted since -
    a route deleted, the interface gone, a peer removed, a file edited - makes RV(applied_digest) V(null), so
    the node is applied again.
  - The private key never leaves the node; preshared keys and file contents enter the fingerprint only as
    SHA-256 digests. Peer endpoints, handshake times and transfer counters are not part of it (they change
    while the mesh is fine).
author:
  - kilo.mesh contributors (@kilo-mesh)
extends_documentation_fragment:
  - kilo.mesh._attributes
  - kilo.mesh._attributes.read_only
  - kilo.mesh._node_state
options:
  key_path:
    description: Path of the node's WireGuard private key (written by M(kilo.mesh.wireguard_key)).
    type: path
    default: /var/lib/kilo/key
  wait_for_handshakes:
    description:
      - Public keys of peers to wait for. The module reads the interface until each of these peers that the
        interface has completed a handshake, or O(wait_timeout) passed (a peer that does not answer is not
        an error). Keys that are not peers of the interface are ignored.
    type: list
    elements: str
    default: []
  wait_timeout:
    description: Seconds to wait for O(wait_for_handshakes).
    type: int
    default: 10
  os_facts:
    description:
      - The C(os_family) and C(service_mgr) facts the controller already has. When one is missing, the module
        gathers the distribution, platform and service_mgr facts itself and returns them as RV(ansible_facts).
      - Omit it to gather nothing (for example when the task is delegated to another node).
    type: dict
notes:
  - The record is a cache of what was applied. To apply every node regardless, set the role's
    C(mesh_force_apply) (or delete O(state_file)).
seealso:
  - module: kilo.mesh.mesh_node_record
  - module: kilo.mesh.wireguard_key
"""

EXAMPLES = r"""
- name: Probe the node
  kilo.mesh.mesh_node_probe:
    interface: kilo0
    files: [/etc/wireguard/kilo0.conf, /var/lib/kilo/mesh-routes]
  register: probe

- name: Wait up to 10 s for the handshakes of two peers and read their endpoints
  kilo.mesh.mesh_node_probe:
    wait_for_handshakes:
      - xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
      - HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=
  register: settled
"""

RETURN = r"""
public_key:
  description: Public key of the private key at O(key_path); V(null) when there is no key file yet.
  returned: always
  type: str
  sample: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
key_ok:
  description:
    - The key file holds a valid key and has mode C(0600).
    - V(false) means M(kilo.mesh.wireguard_key) has work to do.
  returned: always
  type: bool
  sample: true
wg_version:
  description: First line of C(wg --version); V(null) when the WireGuard tools are missing.
  returned: always
  type: str
  sample: wireguard-tools v1.0.20210914 - https://git.zx2c4.com/wireguard-tools/
peers:
  description: The interface's peers (empty without the interface), sorted by public key.
  returned: always
  type: list
  elements: dict
  contains:
    public_key:
      description: The peer's public key.
      type: str
    endpoint:
      description: The peer's current endpoint (learned from handshakes when it roamed), V(null) when unknown.
      type: str
    latest_handshake:
      description: Time of the latest handshake, seconds since the epoch; 0 when there was none.
      type: int
  sample:
    - public_key: HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=
      endpoint: 203.0.113.7:40312
      latest_handshake: 1764900000
live:
  description: Fingerprint (SHA-256) of the node's live mesh state.
  returned: always
  type: str
drifted:
  description: Parts of the fingerprint (V(interface), V(routes), V(files), V(units)) that differ from the record.
  returned: always
  type: list
  elements: str
  sample: [routes]
applied_digest:
  description:
    - The digest recorded by M(kilo.mesh.mesh_node_record) when the node still runs what it recorded.
    - V(null) without a record, or when anything drifted since.
  returned: always
  type: str
ansible_facts:
  description:
    - The distribution, platform and service_mgr facts.
    - Only when O(os_facts) was given and lacked C(os_family) or C(service_mgr).
  returned: when gathered
  type: dict
  sample: {os_family: Debian, service_mgr: systemd}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kilo.mesh.plugins.module_utils._argspec import node_state_argument_spec
from ansible_collections.kilo.mesh.plugins.module_utils._node_state import (
    applied_digest,
    drifted_parts,
    fingerprint,
    key_file_mode_ok,
    peer_state,
    read_dump,
    read_record,
    runner,
    wait_for_handshakes,
)
from ansible_collections.kilo.mesh.plugins.module_utils._os_facts import os_facts_or_gather
from ansible_collections.kilo.mesh.plugins.module_utils._wireguard import (
    WireGuardError,
    is_valid_key,
    public_key_of,
    read_key_file,
)


def read_public_key(path, run):
    """(public key or None, key file ok). An invalid key file is an error naming the path, never its text."""
    text = read_key_file(path)
    if text is None:
        return None, False
    if not is_valid_key(text):
        raise WireGuardError(
            "the key file {0} exists but is not a valid WireGuard private key (expected 44 characters of base64 "
            "encoding 32 bytes); check mesh_key_path, or replace the file with kilo.mesh.wireguard_key "
            "force=true".format(path)
        )
    return public_key_of(text.strip(), run), key_file_mode_ok(path)


def main():
    argument_spec = node_state_argument_spec()
    argument_spec.update(
        key_path=dict(type="path", default="/var/lib/kilo/key", no_log=False),
        wait_for_handshakes=dict(type="list", elements="str", default=[], no_log=False),
        wait_timeout=dict(type="int", default=10),
        os_facts=dict(type="dict"),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
    )
    params = module.params
    run = runner(module)

    try:
        gathered = None
        if params["os_facts"] is not None:
            _facts, gathered = os_facts_or_gather(module, params["os_facts"], keys=("os_family", "service_mgr"))
        public_key, key_ok = read_public_key(params["key_path"], run)
        wg = module.get_bin_path("wg", opt_dirs=["/usr/sbin", "/sbin"])
        wg_version = None
        dump = None
        if wg:
            rc, out, _err = run([wg, "--version"])
            wg_version = out.strip().splitlines()[0] if rc == 0 and out.strip() else None
            if params["wait_for_handshakes"]:
                dump = wait_for_handshakes(
                    run, params["interface"], params["wait_for_handshakes"], params["wait_timeout"]
                )
            else:
                dump = read_dump(run, params["interface"])
        live = fingerprint(run, params["interface"], params["route_protocols"], params["files"], params["units"], dump)
        record = read_record(params["state_file"])
    except (WireGuardError, OSError) as exc:
        module.fail_json(msg="mesh node probe: {0}".format(exc))
    result = dict(
        changed=False,
        public_key=public_key,
        key_ok=key_ok,
        wg_version=wg_version,
        peers=peer_state(dump),
        live=live["live"],
        drifted=drifted_parts(record, live),
        applied_digest=applied_digest(record, live),
    )
    if gathered is not None:
        result["ansible_facts"] = gathered
    module.exit_json(**result)


if __name__ == "__main__":
    main()
