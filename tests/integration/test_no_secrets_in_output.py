# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""No preshared key in the output of a real ``ansible-playbook -vvv --diff`` run of playbooks/graph.yml.

The graph module gets the whole lookup result (peers with ``preshared_key``, leader configurations
with ``PresharedKey = ...`` lines) as its ``topology`` option, which Ansible echoes in ``module_args``.
"""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
PSK = base64.b64encode(bytes(range(100, 132))).decode()  # a valid preshared key, easy to grep for
NODES = {
    "n1": {"kilo_location": "a", "kilo_pod_cidr": "10.2.1.0/24", "kilo_internal_ip": "10.240.1.1/24", "key": 1},
    "n2": {"kilo_location": "b", "kilo_pod_cidr": "10.2.2.0/24", "kilo_internal_ip": "10.240.2.1/24", "key": 2},
}


def _key(number: int) -> str:
    return base64.b64encode(bytes([number]) * 32).decode()


def _inventory(tmp_path: Path) -> Path:
    hosts = {}
    for index, (name, values) in enumerate(sorted(NODES.items())):
        host = {key: value for key, value in values.items() if key != "key"}
        host.update(kilo_endpoint=f"198.51.100.{index + 1}:51820", kilo_public_key=_key(values["key"]))
        hosts[name] = host
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "children": {"kilo": {"hosts": hosts}},
        }
    }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def test_graph_playbook_never_prints_a_preshared_key(tmp_path: Path, playbook_runner) -> None:
    dest = tmp_path / "mesh.dot"
    peers = [
        {"name": "laptop", "allowed_ips": ["10.5.0.1/32"], "public_key": _key(50), "preshared_key": PSK},
        {"name": "office", "allowed_ips": ["10.6.0.0/24"], "public_key": _key(51)},
    ]
    run = playbook_runner(
        REPO / "playbooks" / "graph.yml",
        "-vvv",
        "--diff",
        inventory=_inventory(tmp_path),
        extra_vars={
            "kilo_graph_peers": peers,
            "kilo_graph_format": "dot",
            "kilo_graph_dest": str(dest),
            # no key files on this machine: the inventory's kilo_public_key is used
            "mesh_key_path": str(tmp_path / "no-such-key"),
        },
    )
    assert "Write the graph of the inventory's mesh" in run.stdout
    assert PSK not in run.stdout
    assert PSK[:16] not in run.stdout and base64.b64decode(PSK).hex() not in run.stdout
    # only the key is masked: the graph and the echoed arguments keep every name
    dot = dest.read_text()
    assert all(name in dot for name in ("n1", "n2", "laptop", "office"))
    # where ansible-core echoes the module arguments (-vvv "invocation", not on 2.21 and newer), they are
    # echoed with the key masked, names and addresses intact
    if '"module_args"' in run.stdout:
        assert "PresharedKey = ********" in run.stdout, "the preshared key was not in the module arguments at all"
        assert '"preshared_key": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in run.stdout
        assert '"leader": "n1"' in run.stdout and '"address": "10.4.0.1/16"' in run.stdout
