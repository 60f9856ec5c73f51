# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The mesh role's kilo-mesh-watchdog units (roles/mesh/tasks/watchdog.yml), rendered by a real ansible-playbook
and checked by systemd. tests/lab/test_rotate_keys.py runs the service's command on a lab leader."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROLE = Path(__file__).resolve().parents[2] / "roles" / "mesh"
UNITS = ("kilo-mesh-watchdog.service", "kilo-mesh-watchdog.timer")
PLAYBOOK = """---
- name: Render the watchdog units of the mesh role
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Load the role's defaults
      ansible.builtin.include_vars:
        file: {role}/defaults/main.yml
    - name: Load the role's variables
      ansible.builtin.include_vars:
        file: {role}/vars/main.yml
    - name: Render the units
      ansible.builtin.template:
        src: "{role}/templates/{{{{ item }}}}.j2"
        dest: "{{{{ out }}}}/{{{{ item }}}}"
        mode: "0644"
      loop: {units}
"""


def render(tmp_path: Path, playbook_runner, **extra_vars) -> dict[str, Path]:
    playbook = tmp_path / "units.yml"
    playbook.write_text(PLAYBOOK.format(role=ROLE, units=list(UNITS)))
    variables = {"out": str(tmp_path), "ansible_python_interpreter": sys.executable, **extra_vars}
    playbook_runner(playbook, inventory="localhost,", extra_vars=variables)
    return {unit: tmp_path / unit for unit in UNITS}


def exec_start(service: Path) -> list[str]:
    """The argv of the service's ExecStart= line (systemd's quoting is the shell's for this line)."""
    line = next(line for line in service.read_text().splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def _verify(*units: Path) -> subprocess.CompletedProcess:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: install the Debian package systemd (hack/deps.sh does)")
    return subprocess.run(
        [analyze, "verify", "--man=no", *map(str, units)], capture_output=True, text=True, check=False
    )


def test_watchdog_units_are_valid_and_watch_the_role_s_interface(tmp_path, playbook_runner):
    units = render(tmp_path, playbook_runner, mesh_interface="kilo9", mesh_config_dir="/srv/wg")
    service = units["kilo-mesh-watchdog.service"].read_text()
    assert "ConditionPathExists=/srv/wg/kilo9.conf\n" in service
    assert "After=network-online.target wg-quick@kilo9.service\n" in service
    argv = exec_start(units["kilo-mesh-watchdog.service"])
    assert argv[0] == "/bin/sh" and argv[-1] == "kilo9", argv
    timer = units["kilo-mesh-watchdog.timer"].read_text()
    assert "OnUnitInactiveSec=30s\n" in timer and "WantedBy=timers.target\n" in timer
    verified = _verify(*units.values())
    assert verified.returncode == 0, verified.stderr


def test_watchdog_command_does_nothing_while_the_interface_exists(tmp_path, playbook_runner):
    """The service's command run as is: with the interface present (here: lo) it changes nothing, exits 0."""
    units = render(tmp_path, playbook_runner, mesh_interface="lo")
    proc = subprocess.run(exec_start(units["kilo-mesh-watchdog.service"]), capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == "", proc


def test_systemd_refuses_a_broken_watchdog(tmp_path, playbook_runner):
    """The check above can fail: the same verification rejects the service with a command that does not exist."""
    units = render(tmp_path, playbook_runner)
    service = units["kilo-mesh-watchdog.service"]
    service.write_text(service.read_text().replace("ExecStart=/bin/sh ", "ExecStart=/kilo-no-such-sh "))
    verified = _verify(*units.values())
    assert verified.returncode != 0
    assert "kilo-no-such-sh" in verified.stderr
