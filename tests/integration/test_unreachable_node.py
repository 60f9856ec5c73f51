# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The mesh role on a play where one node cannot be reached from the start (issue 13, messages): the run stops
before any node changes, naming the unreachable node, instead of failing every host on a delegated loop
(``fatal: [dc1-a -> {{ item }}]``). The reachable node is this machine (local connection) and the unreachable
one an ssh port on loopback where nothing listens; the node's key path is a fresh temporary directory, so the
test can show that nothing was written."""

from __future__ import annotations

import base64
import socket
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    """A loopback TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_node_is_named_and_nothing_changes(tmp_path: Path, playbook_runner) -> None:
    key_dir = tmp_path / "keys"
    common = {"kilo_location": "a", "mesh_key_path": str(key_dir / "key")}
    inventory = {
        "kilo": {
            "hosts": {
                "near": dict(
                    common,
                    ansible_connection="local",
                    ansible_python_interpreter=str(Path(__import__("sys").executable)),
                    kilo_endpoint="192.0.2.1:51820",
                    kilo_pod_cidr="10.2.1.0/24",
                ),
                "far": dict(
                    common,
                    ansible_connection="ssh",
                    ansible_host="127.0.0.1",
                    ansible_port=_closed_port(),
                    ansible_ssh_common_args="-o ConnectTimeout=5 -o BatchMode=yes",
                    kilo_location="b",
                    kilo_endpoint="192.0.2.2:51820",
                    kilo_pod_cidr="10.2.2.0/24",
                    kilo_public_key=base64.b64encode(bytes([3]) * 32).decode(),
                ),
            }
        }
    }
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Mesh",
                    "hosts": "kilo",
                    "gather_facts": False,
                    "tasks": [{"ansible.builtin.include_role": {"name": "kilo.mesh.mesh"}}],
                }
            ]
        )
    )
    run = playbook_runner(playbook, inventory=tmp_path / "inventory.yml", check=False)
    assert run.returncode != 0, run.stdout
    assert "UNREACHABLE" in run.stdout  # the node really was unreachable
    assert "mesh node(s) far could not be reached" in run.stdout, run.stdout
    assert "nothing was changed on any node" in run.stdout
    assert "{{ item }}" not in run.stdout, run.stdout
    assert not key_dir.exists(), "a key was written although the run stopped before any change"
