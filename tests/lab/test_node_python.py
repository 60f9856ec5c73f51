# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Managed nodes on another Python than the controller: one lab host (hack/lab/lib.sh, LAB_OLD_PYTHON_HOST)
runs the modules with Python 3.9, the oldest that every supported ansible-core accepts on nodes (README,
"Requirements"); the others with Debian's /usr/bin/python3. Every lab scenario then covers both; this test
checks that the lab really is set up that way and that a kilo.mesh module runs on each interpreter."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
OLD_PYTHON_HOST = "dc2-a"
OLD_PYTHON = (3, 9)

PLAY = """\
- name: Report the interpreter and run a kilo.mesh module on it
  hosts: kilo
  gather_facts: false
  tasks:
    - name: Read the node's Python
      ansible.builtin.setup:
        gather_subset: ["!all", "!min", "python"]
    - name: Run a module of the collection on the node's Python (writes a key pair in the host's /var/lib/kilo)
      kilo.mesh.wireguard_key:
        path: /var/lib/kilo/node-python-test/key
    - name: And remove it again
      kilo.mesh.wireguard_key:
        path: /var/lib/kilo/node-python-test/key
        state: absent
"""


def _results(stdout: str) -> dict[str, list[dict[str, Any]]]:
    """host -> the results of its tasks, in order, from the ansible.builtin.json callback."""
    report = json.loads(stdout[stdout.index("{") :])
    per_host: dict[str, list[dict[str, Any]]] = {}
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                per_host.setdefault(host, []).append(result)
    return per_host


def test_one_host_runs_the_modules_on_another_python(lab: Any, tmp_path: Path) -> None:
    hostvars = lab.hostvars()
    interpreters = {host: hv["ansible_python_interpreter"] for host, hv in hostvars.items()}
    assert interpreters[OLD_PYTHON_HOST] != "/usr/bin/python3", interpreters
    assert all(path == "/usr/bin/python3" for host, path in interpreters.items() if host != OLD_PYTHON_HOST)

    playbook = tmp_path / "python.yml"
    playbook.write_text(PLAY)
    env = dict(
        os.environ,
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_HOST_KEY_CHECKING="0",
        ANSIBLE_NOCOLOR="1",
    )
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.inventory), str(playbook)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    results = _results(proc.stdout)
    assert sorted(results) == sorted(hostvars)
    versions = {}
    for host, (setup, key, removed) in results.items():
        python = setup["ansible_facts"]["ansible_python"]
        versions[host] = tuple(python["version_info"][:2])
        assert python["executable"] == interpreters[host], f"{host}: {python['executable']}"
        assert key.get("changed") and re.fullmatch(r"[A-Za-z0-9+/]{43}=", key.get("public_key") or ""), f"{host}: {key}"
        assert removed.get("changed") and not removed.get("failed"), f"{host}: {removed}"
    assert versions[OLD_PYTHON_HOST] == OLD_PYTHON, versions
    controller = sys.version_info[:2]
    assert versions[OLD_PYTHON_HOST] != controller
    # the others run Debian's Python, which is not the cells' controller Python either (3.12, 3.13)
    assert all(version != OLD_PYTHON for host, version in versions.items() if host != OLD_PYTHON_HOST), versions
