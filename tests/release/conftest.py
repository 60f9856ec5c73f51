# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Fixtures for the release tests: the collection tarball built once per session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def galaxy_meta() -> dict:
    return yaml.safe_load((REPO / "galaxy.yml").read_text())


@pytest.fixture(scope="session")
def galaxy_tarball(tmp_path_factory: pytest.TempPathFactory, galaxy_meta: dict) -> Path:
    """``ansible-galaxy collection build`` of the working tree, as a release would do it."""
    out = tmp_path_factory.mktemp("galaxy-build")
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(REPO)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, f"ansible-galaxy collection build failed:\n{proc.stdout}"
    tarball = out / f"{galaxy_meta['namespace']}-{galaxy_meta['name']}-{galaxy_meta['version']}.tar.gz"
    assert tarball.is_file(), f"expected {tarball.name}; build printed:\n{proc.stdout}"
    return tarball
