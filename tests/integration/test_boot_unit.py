# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The mesh role's kilo-mesh-routes systemd unit, rendered by a real ansible-playbook and checked by systemd."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROLE = Path(__file__).resolve().parents[2] / "roles" / "mesh"
PLAYBOOK = """---
- name: Render the boot unit of the mesh role
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Load the role's defaults
      ansible.builtin.include_vars:
        file: {role}/defaults/main.yml
    - name: Render the unit
      ansible.builtin.template:
        src: {role}/templates/kilo-mesh-routes.service.j2
        dest: "{{{{ out }}}}/kilo-mesh-routes.service"
        mode: "0644"
"""


def _render(tmp_path: Path, playbook_runner, **extra_vars) -> Path:
    playbook = tmp_path / "unit.yml"
    playbook.write_text(PLAYBOOK.format(role=ROLE))
    variables = {"out": str(tmp_path), "ansible_python_interpreter": sys.executable, **extra_vars}
    playbook_runner(playbook, inventory="localhost,", extra_vars=variables)
    return tmp_path / "kilo-mesh-routes.service"


def _verify(unit: Path) -> subprocess.CompletedProcess:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: install the Debian package systemd (hack/deps.sh does)")
    return subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, check=False)


def test_unit_restores_the_role_s_restore_file_after_the_interface(tmp_path, playbook_runner):
    unit = _render(tmp_path, playbook_runner, mesh_interface="kilo9", mesh_routes_restore_file="/srv/kilo/routes")
    text = unit.read_text()
    assert "ExecStart=ip -force -batch /srv/kilo/routes\n" in text
    assert "ConditionFileNotEmpty=/srv/kilo/routes\n" in text
    assert "After=network-online.target wg-quick@kilo9.service\n" in text
    verified = _verify(unit)
    assert verified.returncode == 0, verified.stderr


def test_systemd_refuses_a_broken_unit(tmp_path, playbook_runner):
    """The check above can fail: the same verification rejects the unit with a command that does not exist."""
    unit = _render(tmp_path, playbook_runner)
    unit.write_text(unit.read_text().replace("ExecStart=ip ", "ExecStart=kilo-no-such-command "))
    verified = _verify(unit)
    assert verified.returncode != 0
    assert "kilo-no-such-command" in verified.stderr
