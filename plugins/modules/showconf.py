#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors

from __future__ import annotations

DOCUMENTATION = r"""
---
module: showconf
short_description: WireGuard configuration of a Kilo node or peer (kgctl showconf)
version_added: 0.1.0
author:
  - kilo.mesh contributors (@kilo-mesh)
description:
  - The equivalent of C(kgctl showconf node NAME) and C(kgctl showconf peer NAME), without kgctl, against a live
    cluster (O(source=cluster)) or inventory data (O(source=inventory)).
  - With O(as_peer=true) the node or peer is shown as a C([Peer]) section or, with O(output=yaml) or O(output=json),
    as a Kilo C(Peer) object, ready to be applied to another cluster (multi-cluster) or given to another peer.
  - With O(client=true) (peers only) the result is a complete wg-quick configuration for the peer itself
    (C([Interface]) with its address and, from O(private_key_path), its private key, then the mesh as
    C(showconf peer) gives it).
  - Optionally writes the text to O(dest) (atomically, mode V(0600) unless O(mode) is set).
  - A node that is not the leader of its segment has no configuration; like kgctl the module then succeeds
    with RV(leader=false), an empty RV(config) and a message, and writes nothing.
extends_documentation_fragment:
  - ansible.builtin.files
  - kilo.mesh._kube
  - kilo.mesh._kube.topology
  - kilo.mesh._attributes
  - kilo.mesh._attributes.FULL_SUPPORT
attributes:
  check_mode:
    details:
      - In check mode O(dest) is not written; the C(changed) flag tells whether it would be.
  diff_mode:
    details:
      - With O(dest), the diff shows the old and new file content with key material hidden.
options:
  kind:
    description:
      - Show a V(node) or a V(peer).
    type: str
    choices: [node, peer]
    required: true
  name:
    description:
      - Name of the node (Kubernetes node name) or of the Peer.
    type: str
    required: true
  as_peer:
    description:
      - Show the node or peer as a peer of someone else (C(kgctl showconf --as-peer)).
      - The YAML and JSON forms fix three upstream kgctl bugs (a DNS endpoint is written as its host name,
        no endpoint object without an endpoint, keepalive in seconds), so the objects can be applied as they are.
    type: bool
    default: false
  allowed_ips:
    description:
      - Extra allowed IPs appended with O(as_peer=true) (C(kgctl --allowed-ips)), for example the service CIDR.
    type: list
    elements: str
    default: []
  output:
    description:
      - Output format with O(as_peer=true); V(wireguard) otherwise.
    type: str
    choices: [wireguard, json, yaml]
    default: wireguard
  port:
    description:
      - C(ListenPort) printed in a node configuration (C(kgctl --port)).
    type: int
    default: 51820
  client:
    description:
      - Return the complete wg-quick configuration of the peer O(name) (O(kind=peer) only).
    type: bool
    default: false
  private_key_path:
    description:
      - With O(client=true), a file holding the peer's WireGuard private key, read on the host that runs the
        module; its key becomes the C(PrivateKey) line. Without it the line is left out (the user adds it).
    type: path
  address:
    description:
      - With O(client=true), the C(Address) of the peer's interface; defaults to the peer's allowed IPs.
    type: list
    elements: str
  dns:
    description:
      - With O(client=true), optional C(DNS) servers of the peer's interface.
    type: list
    elements: str
  mtu:
    description:
      - With O(client=true), optional C(MTU) of the peer's interface.
    type: int
  listen_port:
    description:
      - With O(client=true), optional C(ListenPort) of the peer's interface. Set it to the port of the peer's
        endpoint when the peer has one, so that nodes behind NAT can reach the peer.
    type: int
  topology:
    description:
      - A topology already computed by the P(kilo.mesh.topology#lookup) lookup (its whole result), for example
        in an agentless mesh built by the M(kilo.mesh.mesh) role. Only O(kind=peer) is supported then.
      - When set, O(source) and the other topology options are not used.
    type: dict
  dest:
    description:
      - Write the configuration to this file. Missing parent directories are not created.
    type: path
notes:
  - O(peers) with O(source=cluster) adds peers to (or replaces peers of) the cluster's Peers, so a configuration
    can be shown before the Peer is applied (the M(kilo.mesh.peer) module in check mode).
seealso:
  - module: kilo.mesh.peer
  - module: kilo.mesh.graph
  - name: kgctl documentation
    description: The kgctl showconf command.
    link: https://kilo.squat.ai/docs/kgctl
"""

EXAMPLES = r"""
---
- name: Configuration of a leader, as kgctl showconf node gcp-1
  kilo.mesh.showconf:
    kind: node
    name: gcp-1
  delegate_to: localhost
  register: __gcp1

- name: A Peer of cluster 1's leader for cluster 2 (multi-cluster)
  kilo.mesh.showconf:
    kubeconfig: ~/.kube/cluster1
    kind: node
    name: gcp-1
    as_peer: true
    output: yaml
    allowed_ips: [10.43.0.0/16]
  delegate_to: localhost

- name: Client configuration of a laptop, written on the controller
  kilo.mesh.showconf:
    kind: peer
    name: laptop
    client: true
    private_key_path: ~/kilo-peers/laptop.key
    dest: ~/kilo-peers/laptop.conf
  delegate_to: localhost

- name: From inventory data (no cluster)
  kilo.mesh.showconf:
    source: inventory
    nodes: "{{ my_nodes }}"
    peers: "{{ my_peers }}"
    kind: peer
    name: laptop
  delegate_to: localhost
"""

RETURN = r"""
config:
  description:
    - The configuration text, exactly as kgctl prints it (JSON without a trailing newline).
    - C(PrivateKey) and C(PresharedKey) values are replaced by V((redacted\)); the file at O(dest) has the real ones.
    - Empty for a node that is not a leader.
  returned: always
  type: str
  sample: "[Peer]\nAllowedIPs = 10.5.0.1/32\nPersistentKeepalive = 10\nPublicKey = ZWVl...ZWU=\n"
leader:
  description: With O(kind=node), whether the node leads its segment (only leaders have a configuration).
  returned: always
  type: bool
  sample: true
msg:
  description: What was shown, or why there is no configuration.
  returned: always
  type: str
  sample: Node "gcp-2" is not a leader node
dest:
  description: The file written (or that would be written).
  returned: when O(dest) is set and there is a configuration
  type: str
  sample: /root/kilo-peers/laptop.conf
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.kilo.mesh.plugins.module_utils._argspec import (
    topology_from_params,
    topology_source_argument_spec,
)
from ansible_collections.kilo.mesh.plugins.module_utils._files import write_atomic
from ansible_collections.kilo.mesh.plugins.module_utils._wireguard import redact_config, secret_values
from ansible_collections.kilo.mesh.plugins.module_utils.topology.constants import DEFAULT_PORT
from ansible_collections.kilo.mesh.plugins.module_utils.topology.errors import NotLeaderError, TopologyError
from ansible_collections.kilo.mesh.plugins.module_utils.topology.render import interface_lines


def hide_preshared_keys(module):
    """Preshared keys given in O(peers) or inside O(topology) are never shown (invocation, results)."""
    for peer in module.params.get("peers") or []:
        if peer.get("preshared_key"):
            module.no_log_values.add(peer["preshared_key"])
    for peer in ((module.params.get("topology") or {}).get("peers") or {}).values():
        module.no_log_values.update(secret_values((peer or {}).get("conf") or ""))


def _read_private_key(module, path):
    try:
        with open(path, "rb") as handle:
            key = handle.read().decode("ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        module.fail_json(msg="cannot read the peer private key from %s: %s" % (path, to_native(exc)))
    if len(key) != 44:
        module.fail_json(msg="%s does not hold a WireGuard private key (44 characters of base64)" % path)
    return key


def render(module, topology):
    """(config text, leader flag, message); raises TopologyError for unknown names and bad options."""
    params = module.params
    name = params["name"]
    if params["kind"] == "node":
        try:
            if params["as_peer"]:
                text = topology.node_as_peer(name, allowed_ips=params["allowed_ips"], output=params["output"])
            else:
                text = topology.node_conf(name)
        except NotLeaderError as exc:
            return "", False, str(exc)
        return text, True, 'configuration of node "%s"' % name
    if params["client"]:
        key = _read_private_key(module, params["private_key_path"]) if params["private_key_path"] else None
        text = topology.peer_client_conf(
            name,
            private_key=key,
            address=params["address"],
            dns=params["dns"],
            mtu=params["mtu"],
            listen_port=params["listen_port"],
        )
        return text, True, 'client configuration of peer "%s"' % name
    if params["as_peer"]:
        text = topology.peer_as_peer(name, allowed_ips=params["allowed_ips"], output=params["output"])
    else:
        text = topology.peer_conf(name)
    return text, True, 'configuration of peer "%s"' % name


def render_from_lookup(module, data):
    """Peer configurations from a kilo.mesh.topology lookup result (its ``peers.NAME.conf``)."""
    params = module.params
    name = params["name"]
    if params["kind"] != "peer" or params["as_peer"]:
        raise TopologyError("topology= supports kind=peer (showconf peer and client configurations) only")
    peer = (data.get("peers") or {}).get(name)
    if peer is None:
        raise TopologyError('did not find any peer named "%s" in the topology' % name)
    sections = peer["conf"]
    if not params["client"]:
        return sections, True, 'configuration of peer "%s"' % name
    port = params["listen_port"]
    if port is not None and not 1 <= port <= 65535:
        raise TopologyError("option listen_port has invalid value %r: expected 1..65535" % port)
    # the engine's [Interface] block (the same as peer_client_conf's)
    lines = interface_lines(
        address=params["address"] or peer["allowed_ips"],
        private_key=_read_private_key(module, params["private_key_path"]) if params["private_key_path"] else None,
        listen_port=port,
        dns=params["dns"] or (),
        mtu=params["mtu"],
    )
    text = "\n".join(["[Interface]"] + lines) + "\n\n" + sections
    return text, True, 'client configuration of peer "%s"' % name


def run_module():
    argument_spec = topology_source_argument_spec()
    argument_spec.update(
        kind={"type": "str", "choices": ["node", "peer"], "required": True},
        name={"type": "str", "required": True},
        as_peer={"type": "bool", "default": False},
        allowed_ips={"type": "list", "elements": "str", "default": []},
        output={"type": "str", "choices": ["wireguard", "json", "yaml"], "default": "wireguard"},
        port={"type": "int", "default": DEFAULT_PORT},
        client={"type": "bool", "default": False},
        private_key_path={"type": "path", "no_log": False},
        address={"type": "list", "elements": "str"},
        dns={"type": "list", "elements": "str"},
        mtu={"type": "int"},
        listen_port={"type": "int"},
        topology={"type": "dict"},
        dest={"type": "path"},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        add_file_common_args=True,
        mutually_exclusive=[["client", "as_peer"]],
    )
    params = module.params
    hide_preshared_keys(module)
    if params["client"] and params["kind"] != "peer":
        module.fail_json(msg="client=true needs kind=peer: only peers have client configurations")
    for option in ("private_key_path", "address", "dns", "mtu", "listen_port"):
        if params[option] is not None and not params["client"]:
            module.fail_json(msg="%s is only used with client=true" % option)

    try:
        if params["topology"] is not None:
            text, leader, msg = render_from_lookup(module, params["topology"])
        else:
            text, leader, msg = render(module, topology_from_params(params))
    except TopologyError as exc:
        module.fail_json(msg=str(exc))
    except ImportError as exc:
        module.fail_json(
            msg="source=cluster needs the kubernetes Python library on the host running the module: %s"
            % to_native(exc),
            exception=traceback.format_exc(),
        )
    except Exception as exc:  # API and kubeconfig problems from read_cluster
        module.fail_json(msg="cannot read the cluster: %s" % to_native(exc), exception=traceback.format_exc())

    result = {"changed": False, "config": redact_config(text), "leader": leader, "msg": msg}
    dest = params["dest"]
    if dest and leader:
        result["dest"] = dest
        before = None
        if os.path.exists(dest):
            with open(dest, "rb") as handle:
                before = handle.read().decode("utf-8", "replace")
        if before != text:
            result["changed"] = True
            if not module.check_mode:
                try:
                    write_atomic(dest, text)
                except OSError as exc:
                    module.fail_json(msg="cannot write %s: %s" % (dest, to_native(exc)))
        if params["mode"] is None:
            params["mode"] = "0600"
        if os.path.exists(dest):
            file_args = module.load_file_common_arguments(params, path=dest)
            result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"])
        if module._diff:
            result["diff"] = {
                "before": redact_config(before or ""),
                "after": redact_config(text),
                "before_header": dest,
                "after_header": dest,
            }
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
