#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Dual-licensed: Apache License 2.0 (see LICENSES/Apache-2.0.txt) or
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# Copyright: (c) 2026, kilo.mesh contributors

from __future__ import annotations

DOCUMENTATION = r"""
---
module: graph
short_description: Picture of a Kilo mesh as Graphviz DOT, SVG or PNG (kgctl graph)
version_added: 0.1.0
author:
  - kilo.mesh contributors (@kilo-mesh)
description:
  - The equivalent of C(kgctl graph), without kgctl. It draws the mesh of a live cluster (O(source=cluster))
    or of inventory data (O(source=inventory)) as a Graphviz graph with one cluster per segment, the
    leaders' WireGuard IPs and endpoints, and the peers.
  - The DOT text is the same as kgctl's, byte for byte.
  - With O(format=svg) or O(format=png) the graph is rendered with Graphviz (the O(layout) program, V(circo) by
    default like Kilo's agent) into O(dest). Graphviz must be installed on the host that runs the module.
extends_documentation_fragment:
  - ansible.builtin.files
  - kilo.mesh._kube
  - kilo.mesh._kube.topology
  - kilo.mesh._attributes
  - kilo.mesh._attributes.FULL_SUPPORT
attributes:
  check_mode:
    details:
      - In check mode O(dest) is not written; for rendered formats the picture is still rendered (into a temporary
        file) to tell whether it would change.
  diff_mode:
    details:
      - With O(format=dot) and O(dest), the diff shows the old and new DOT text.
options:
  topology:
    description:
      - A topology already computed by the P(kilo.mesh.topology#lookup) lookup (its whole result).
      - When set, O(source) and the other topology options are not used.
      - It may hold preshared keys (peers' C(preshared_key), C(PresharedKey) lines of the configurations), which
        are never logged or shown in the task's output, also not with C(-vvv).
    type: dict
  format:
    description:
      - V(dot) writes the DOT text; V(svg) and V(png) render it with Graphviz.
    type: str
    choices: [dot, svg, png]
    default: dot
  layout:
    description:
      - Graphviz layout program for V(svg) and V(png) (V(circo) draws rings; V(dot) also draws the segment boxes).
    type: str
    choices: [circo, dot, neato, twopi, fdp]
    default: circo
  dest:
    description:
      - File to write. Required with O(format=svg) and O(format=png).
    type: path
seealso:
  - module: kilo.mesh.showconf
  - name: kgctl graph
    description: The kgctl command this module replaces.
    link: https://kilo.squat.ai/docs/kgctl
"""

EXAMPLES = r"""
---
- name: Picture of the mesh the kilo.mesh.mesh role builds, as SVG on the controller
  kilo.mesh.graph:
    topology: "{{ lookup('kilo.mesh.topology', group='kilo') }}"
    format: svg
    dest: "{{ playbook_dir }}/mesh.svg"
  delegate_to: localhost
  run_once: true

- name: Picture of nodes given as data
  kilo.mesh.graph:
    source: inventory
    nodes: "{{ my_nodes }}"
    peers: "{{ my_peers }}"
  delegate_to: localhost

- name: DOT of a live cluster
  kilo.mesh.graph:
    kubeconfig: ~/.kube/config
  delegate_to: localhost
  register: __graph
"""

RETURN = r"""
dot:
  description: The DOT text, as C(kgctl graph) prints it.
  returned: always
  type: str
  sample: "digraph kilo {\n\tlabel=\"10.4.0.0/16\";\n..."
graph:
  description: The picture as data (subnet, segments with their nodes and leader, peers).
  returned: always
  type: dict
  sample:
    subnet: 10.4.0.0/16
    segments:
      - key: location:dc1
        leader: dc1-a
        nodes:
          - name: dc1-a
            pod_cidr: 10.42.1.0/24
            internal_ip: 10.10.1.11
            wireguard_ip: 10.4.0.1
            endpoint: "198.51.100.11:51820"
    peers:
      - {name: laptop, endpoint: null}
dest:
  description: The file written (or that would be written).
  returned: when O(dest) is set
  type: str
  sample: /root/mesh.svg
"""

import os
import re
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.kilo.mesh.plugins.module_utils._argspec import (
    topology_from_params,
    topology_source_argument_spec,
)
from ansible_collections.kilo.mesh.plugins.module_utils._files import write_atomic
from ansible_collections.kilo.mesh.plugins.module_utils.topology.errors import TopologyError
from ansible_collections.kilo.mesh.plugins.module_utils.topology.graph import (
    graph_from_dict,
    graph_from_topology,
    graph_to_dict,
    render_dot,
)


def _render(module, dot_text, directory):
    """The picture Graphviz renders from ``dot_text`` (bytes); its scratch file in ``directory`` is removed."""
    program = module.get_bin_path(module.params["layout"])
    if program is None:
        module.fail_json(
            msg="format=%s needs Graphviz, but %s is not installed on this host: install the graphviz package "
            "(apt-get install graphviz, dnf install graphviz) or use format=dot"
            % (module.params["format"], module.params["layout"])
        )
    fd, out = tempfile.mkstemp(prefix=".graph-", suffix="." + module.params["format"], dir=directory)
    os.close(fd)
    rc, _stdout, stderr = module.run_command(
        [program, "-T" + module.params["format"], "-o", out], data=dot_text, binary_data=True
    )
    try:
        if rc != 0:
            module.fail_json(msg="%s failed to render the graph (rc=%s): %s" % (program, rc, stderr.strip()))
        with open(out, "rb") as handle:
            return handle.read()
    finally:
        os.unlink(out)


_SECRET_FIELDS = ("preshared_key", "private_key")
_SECRET_LINE = re.compile(r"^[ \t]*(?:PresharedKey|PrivateKey)[ \t]*=[ \t]*(\S+)", re.MULTILINE)


def _leaves(value):
    """Every string, number of ``value`` (what Ansible masks for an option with no_log)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, str):
        if value:
            yield value
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def _secrets(value, field=None):
    """The keys in a lookup result: preshared/private key fields and PresharedKey/PrivateKey lines."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _secrets(item, name)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _secrets(item, field)
    elif isinstance(value, str):
        if field in _SECRET_FIELDS and value:
            yield value
        for match in _SECRET_LINE.finditer(value):
            yield match.group(1)


def _hide_secrets(module):
    """Mask exactly the keys of O(topology) and O(peers) in every output of the module.

    O(topology) is a no_log option, so Ansible never logs it and masks it while the arguments are
    validated; that masks every name and number in it too, which would blank the graph. After the
    validation the mask is narrowed down to the keys it holds.
    """
    topology = module.params["topology"]
    if topology:
        module.no_log_values.difference_update(_leaves(topology))
        module.no_log_values.update(_secrets(topology))
    for peer in module.params["peers"]:  # preshared keys of inventory peers are never shown
        if isinstance(peer, dict) and peer.get("preshared_key"):
            module.no_log_values.add(peer["preshared_key"])


def _from_lookup(data):
    """The lookup result -> MeshGraph (its ``segments`` have the shape graph_from_dict reads)."""
    peers = data.get("peers") or {}
    if isinstance(peers, dict):
        peers = [dict(value or {}, name=name) for name, value in sorted(peers.items())]
    return graph_from_dict(
        {
            "subnet": data["subnet"],
            "segments": data["segments"],
            "peers": [{"name": peer["name"], "endpoint": peer.get("endpoint")} for peer in peers],
        }
    )


def run_module():
    argument_spec = topology_source_argument_spec()
    argument_spec.update(
        topology={"type": "dict", "no_log": True},
        format={"type": "str", "choices": ["dot", "svg", "png"], "default": "dot"},
        layout={"type": "str", "choices": ["circo", "dot", "neato", "twopi", "fdp"], "default": "circo"},
        dest={"type": "path"},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        add_file_common_args=True,
        required_if=[("format", "svg", ["dest"]), ("format", "png", ["dest"])],
    )
    params = module.params
    _hide_secrets(module)
    try:
        if params["topology"] is not None:
            picture = _from_lookup(params["topology"])
        else:
            picture = graph_from_topology(topology_from_params(params))
    except TopologyError as exc:
        module.fail_json(msg=str(exc))
    except (KeyError, TypeError) as exc:
        module.fail_json(msg="topology is not a kilo.mesh.topology lookup result: missing or bad %s" % exc)
    except Exception as exc:  # API and kubeconfig problems from read_cluster
        module.fail_json(msg="cannot read the mesh: %s" % to_native(exc), exception=traceback.format_exc())
    dot_text = render_dot(picture)
    result = {"changed": False, "dot": dot_text, "graph": graph_to_dict(picture)}

    dest = params["dest"]
    if dest:
        result["dest"] = dest
        directory = os.path.dirname(os.path.abspath(dest))
        if not os.path.isdir(directory):
            module.fail_json(msg="the directory of dest %s does not exist" % dest)
        before = None
        if os.path.exists(dest):
            with open(dest, "rb") as handle:
                before = handle.read()
        after = to_bytes(dot_text) if params["format"] == "dot" else _render(module, to_bytes(dot_text), directory)
        if before != after:
            result["changed"] = True
            if not module.check_mode:
                try:
                    write_atomic(dest, after, mode=0o644)
                except OSError as exc:
                    module.fail_json(msg="cannot write %s: %s" % (dest, to_native(exc)))
        if os.path.exists(dest):
            file_args = module.load_file_common_arguments(params, path=dest)
            result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"])
        if module._diff and params["format"] == "dot":
            result["diff"] = {
                "before": (before or b"").decode("utf-8", "replace"),
                "after": dot_text,
                "before_header": dest,
                "after_header": dest,
            }
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
