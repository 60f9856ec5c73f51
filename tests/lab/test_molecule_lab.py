# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""``molecule test -s lab``: the agentless mesh on the lab (converge, idempotence, check, verify)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_molecule_lab_scenario() -> None:
    if os.geteuid() != 0:
        raise AssertionError("the lab scenario needs root (network namespaces, mounts); run the suite as root")
    venv_bin = Path(sys.executable).parent
    name = f"kmm{os.getpid() % 1000}"
    env = dict(os.environ)
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    env["KILO_LAB_NAME"] = name
    env["KILO_LAB_DIR"] = f"/tmp/kilo-lab-{name}"
    env["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / ".cache" / "collections")
    env.setdefault("ANSIBLE_FORCE_COLOR", "0")
    proc = subprocess.run(
        [str(venv_bin / "molecule"), "test", "-s", "lab"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=1800,
        check=False,
    )
    # molecule's destroy step runs down.sh; make sure nothing is left if molecule died before it
    subprocess.run([str(REPO / "hack" / "lab" / "down.sh")], env=env, capture_output=True, check=False)
    assert proc.returncode == 0, f"molecule test -s lab failed (rc={proc.returncode}):\n{proc.stdout[-20000:]}"
    # the scenario really ran the steps that matter
    for marker in ("converge", "idempotence", "check", "verify"):
        assert f"{marker}" in proc.stdout, f"molecule output lacks step {marker!r}"
    assert "Reachability" in proc.stdout
