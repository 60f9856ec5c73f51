# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""kilo.mesh.mesh_node_probe and kilo.mesh.mesh_node_record run for real through ansible-playbook against
localhost: keys, files and the record under tmp_path, an interface name that does not exist (both modules only
read the host's links and routes). The whole role on a lab is in tests/lab/test_mesh_changes.py."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest

PLAYBOOK = """---
- name: Exercise the mesh node probe and record
  hosts: all
  gather_facts: false
  tasks:
    - name: Run the module
      kilo.mesh.{{ module }}: "{{ module_args }}"
"""
JSON_ENV = {"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
PRIVATE = "GL7dw2lNtGHnojxT4dDr6f8Lt2BrtIQqql+kIpxd3lk="


@pytest.fixture()
def node(playbook_runner, tmp_path):
    """``node(module, *ansible_args, **module_args)`` -> the task result on localhost."""
    playbook = tmp_path / "play.yml"

    def _run(module: str, *args: str, **module_args):
        playbook.write_text(PLAYBOOK.replace("{{ module }}", module))
        common = {"interface": "kmtest0", "state_file": str(tmp_path / "state" / "mesh-state.json")}
        proc = playbook_runner(
            playbook,
            *args,
            inventory="localhost,",
            extra_vars={
                "module_args": dict(common, **module_args),
                "ansible_connection": "local",
                "ansible_python_interpreter": "/usr/bin/python3",
            },
            check=False,
            env=JSON_ENV,
        )
        text = proc.stdout
        return json.loads(text[text.index("{") :])["plays"][0]["tasks"][0]["hosts"]["localhost"]

    return _run


def test_probe_reads_the_key_without_changing_it(node, tmp_path: Path) -> None:
    key = tmp_path / "key"
    result = node("mesh_node_probe", key_path=str(key))
    assert result["public_key"] is None and result["key_ok"] is False and not key.exists()
    assert result["applied_digest"] is None and result["peers"] == []
    assert result["wg_version"].startswith("wireguard-tools")
    key.write_text(PRIVATE + "\n")
    key.chmod(0o600)
    result = node("mesh_node_probe", key_path=str(key))
    wg = subprocess.run(["wg", "pubkey"], input=PRIVATE, capture_output=True, text=True, check=True)
    assert result["public_key"] == wg.stdout.strip() and result["key_ok"] is True
    assert result["changed"] is False
    key.chmod(0o644)
    assert node("mesh_node_probe", key_path=str(key))["key_ok"] is False
    assert stat.S_IMODE(key.stat().st_mode) == 0o644  # a probe never fixes anything


def test_probe_refuses_a_file_that_is_not_a_key_without_showing_it(node, tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("not-a-key-but-maybe-a-secret\n")
    result = node("mesh_node_probe", key_path=str(key))
    assert result["failed"] and f"the key file {key} exists but is not a valid WireGuard private key" in result["msg"]
    assert "maybe-a-secret" not in json.dumps(result)


def test_record_then_probe_gives_the_digest_back_until_something_drifts(node, tmp_path: Path) -> None:
    conf = tmp_path / "kmtest0.conf"
    conf.write_text("[Interface]\nListenPort = 51820\n")
    state = tmp_path / "state" / "mesh-state.json"
    files = [str(conf)]
    probe = node("mesh_node_probe", key_path=str(tmp_path / "key"), files=files)
    assert probe["applied_digest"] is None
    checked = node("mesh_node_record", "--check", digest="d1", files=files)
    assert checked["changed"] is True and not state.exists()
    recorded = node("mesh_node_record", digest="d1", files=files)
    assert recorded["changed"] is True and recorded["live"] == probe["live"]
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert node("mesh_node_record", digest="d1", files=files)["changed"] is False
    probe = node("mesh_node_probe", key_path=str(tmp_path / "key"), files=files)
    assert probe["applied_digest"] == "d1" and probe["drifted"] == []
    conf.write_text("[Interface]\nListenPort = 51821\n")  # edited behind the role's back
    probe = node("mesh_node_probe", key_path=str(tmp_path / "key"), files=files)
    assert probe["applied_digest"] is None and probe["drifted"] == ["files"]
    conf.unlink()
    assert node("mesh_node_probe", key_path=str(tmp_path / "key"), files=files)["drifted"] == ["files"]
