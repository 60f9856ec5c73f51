# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The verify role names a WireGuard peer without handshake by its node or peer name, not by a key prefix.

A real ansible-playbook run renders the role's results template (roles/verify/templates/results.json.j2)
for a leader of a topology computed by the kilo.mesh.topology lookup, with the state ``wg show dump``
would give: one node peer and one mesh peer that never completed a handshake.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _key(number: int) -> str:
    return base64.b64encode(bytes([number]) * 32).decode()


NODES = [
    {"name": "n1", "location": "a", "endpoint": "198.51.100.1:51820", "internal_ip": "10.240.1.1/24",
     "pod_cidr": "10.2.1.0/24", "public_key": _key(1)},
    {"name": "n2", "location": "b", "endpoint": "198.51.100.2:51820", "internal_ip": "10.240.2.1/24",
     "pod_cidr": "10.2.2.0/24", "public_key": _key(2)},
]  # fmt: skip
PEERS = [{"name": "laptop", "allowed_ips": ["10.5.0.1/32"], "public_key": _key(50)}]

PLAYBOOK = [
    {
        "name": "Render the verify results of n1",
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {
            "mesh_topology": "{{ lookup('kilo.mesh.topology', nodes=test_nodes, peers=test_peers) }}",
            "_verify_node_name": "n1",
            "verify_interface": "kilo0",
            "verify_handshake_max_age": 180,
            "__verify_targets": [],
            "__verify_ping": {"stdout_lines": []},
            "__verify_clock": {"stdout": "1000"},
            # wg show dump without secrets: public key, endpoint, latest handshake, rx, tx
            "__verify_dump": {
                "stdout_lines": [f"{_key(2)}\t198.51.100.2:51820\t0\t0\t0", f"{_key(50)}\t(none)\t0\t0\t0"]
            },
        },
        "tasks": [
            {
                "name": "Write the results",
                "ansible.builtin.copy": {
                    "content": "{{ lookup('ansible.builtin.template', test_template) }}",
                    "dest": "{{ test_out }}",
                    "mode": "0644",
                },
            }
        ],
    }
]


def test_peer_without_handshake_is_named(tmp_path: Path, playbook_runner) -> None:
    playbook = tmp_path / "verify.yml"
    playbook.write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False))
    out = tmp_path / "results.json"
    playbook_runner(
        playbook,
        inventory="localhost,",
        extra_vars={
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "test_nodes": NODES,
            "test_peers": PEERS,
            "test_out": str(out),
            "test_template": str(REPO / "roles" / "verify" / "templates" / "results.json.j2"),
        },
    )
    peers = {peer["public_key"]: peer for peer in json.loads(out.read_text())["peers"]}
    assert peers[_key(2)]["peer"] == "n2"
    assert peers[_key(50)]["peer"] == "peer laptop"
    assert peers[_key(50)]["problems"][0] == "no handshake" and peers[_key(50)]["ok"] is False
