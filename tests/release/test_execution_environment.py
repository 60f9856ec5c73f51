# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The execution environment definition is valid and keeps one source of truth for dependencies.

* ``execution-environment.yml`` (ansible-builder v3) and ``meta/execution-environment.yml`` point at
  ``requirements.txt`` / ``bindep.txt``; nothing is listed twice.
* ``requirements.txt`` covers every third-party Python import of the collection's plugins.
* ``requirements.yml`` carries galaxy.yml's collection dependencies with the same bounds.
* ``ansible-builder create`` (the real tool, no container engine needed) accepts the definition and
  puts the built kilo.mesh tarball and the requirement files into the build context.
* ``bindep`` parses bindep.txt and finds its packages installed on this Debian machine.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
EE_FILE = REPO / "execution-environment.yml"

# import name -> PyPI distribution name, where they differ
IMPORT_TO_DIST = {"kubernetes_validate": "kubernetes-validate", "yaml": "pyyaml"}
# provided by ansible-core itself (its own install requirements)
ANSIBLE_CORE_PROVIDES = {"yaml", "packaging", "resolvelib"}


def _requirement_names(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
            assert match, f"{path.name}: cannot parse requirement line {line!r}"
            names.append(match.group(0).lower().replace("_", "-"))
    return names


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level modules imported by plugins/ that are neither stdlib nor the collection itself."""
    found: dict[str, set[str]] = {}
    module_utils = REPO / "plugins" / "module_utils"
    first_party = {path.stem for path in module_utils.iterdir()} if module_utils.is_dir() else set()
    for path in sorted((REPO / "plugins").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".", 1)[0]
                if top in sys.stdlib_module_names or top in {"ansible", "ansible_collections", "__future__"}:
                    continue
                if top in first_party:  # e.g. `from topology import kube`, the tests' import path
                    continue
                found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def test_ee_definition_points_at_single_sources() -> None:
    ee = yaml.safe_load(EE_FILE.read_text())
    assert ee["version"] == 3, "execution-environment.yml must use the ansible-builder v3 format"
    deps = ee["dependencies"]
    assert deps["python"] == "requirements.txt", "EE Python deps must come from requirements.txt"
    assert deps["system"] == "bindep.txt", "EE system deps must come from bindep.txt"
    assert deps["galaxy"] == "requirements.yml", "EE collections must come from requirements.yml"
    meta_ee = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    assert meta_ee["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
    for name in ("requirements.txt", "bindep.txt", "requirements.yml"):
        assert (REPO / name).is_file(), f"{name} is referenced by the EE definition but missing"


def _newest_supported_core() -> tuple[int, int]:
    """The newest ansible-core meta/runtime.yml allows (``requires_ansible: ">=2.19.0,<2.22.0"`` -> (2, 21))."""
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    match = re.search(r"<\s*2\.(\d+)\.0\b", runtime["requires_ansible"])
    assert match, f"meta/runtime.yml requires_ansible {runtime['requires_ansible']!r} has no upper bound <2.N.0"
    return 2, int(match.group(1)) - 1


def test_ee_builds_on_the_newest_supported_core() -> None:
    """The EE pins the newest core CI tests and an interpreter that core runs on (2.20 and later need 3.12+)."""
    ee = yaml.safe_load(EE_FILE.read_text())
    major, minor = _newest_supported_core()
    assert (
        ee["dependencies"]["ansible_core"]["package_pip"] == f"ansible-core>={major}.{minor}.0,<{major}.{minor + 1}.0"
    )
    interpreter = ee["dependencies"]["python_interpreter"]
    match = re.fullmatch(r"/usr/bin/python3\.(\d+)", interpreter["python_path"])
    assert match, f"python_path {interpreter['python_path']!r} is not /usr/bin/python3.N"
    assert int(match.group(1)) >= 12, f"ansible-core {major}.{minor} needs Python 3.12 or later, not {match.group(0)}"
    assert interpreter["package_system"] == f"python3.{match.group(1)}"
    steps = "\n".join(ee["additional_build_steps"]["prepend_base"])
    assert f"python3.{match.group(1)}-pip" in steps, steps


def test_requirements_txt_python_packages() -> None:
    names = _requirement_names(REPO / "requirements.txt")
    assert len(names) == len(set(names)), f"duplicate entries in requirements.txt: {names}"
    assert sorted(names) == sorted({"kubernetes", "kubernetes-validate", "cryptography", "netaddr", "jinja2"}), (
        f"requirements.txt lists {sorted(names)}"
    )


def test_requirements_txt_covers_plugin_imports() -> None:
    declared = set(_requirement_names(REPO / "requirements.txt"))
    missing = {
        module: sorted(paths)
        for module, paths in _third_party_imports().items()
        if IMPORT_TO_DIST.get(module, module).lower() not in declared and module not in ANSIBLE_CORE_PROVIDES
    }
    assert not missing, f"plugins import packages that requirements.txt does not list: {missing}"


def test_requirements_yml_matches_galaxy_dependencies(galaxy_meta: dict) -> None:
    collections = yaml.safe_load((REPO / "requirements.yml").read_text())["collections"]
    listed = {entry["name"]: entry.get("version", "*") for entry in collections}
    assert listed == (galaxy_meta.get("dependencies") or {}), "requirements.yml and galaxy.yml dependencies differ"


def test_bindep_packages_resolve_on_this_machine() -> None:
    proc = subprocess.run(
        [str(VENV_BIN / "bindep"), "--brief", "--file", str(REPO / "bindep.txt")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"bindep reports missing packages or a parse error:\n{proc.stdout}"


def test_ansible_builder_creates_context(tmp_path: Path, galaxy_tarball: Path) -> None:
    if not (VENV_BIN / "ansible-builder").exists():
        pytest.fail("ansible-builder is not installed in the venv (pip install ansible-builder)")
    for name in ("execution-environment.yml", "requirements.txt", "bindep.txt", "requirements.yml"):
        shutil.copy2(REPO / name, tmp_path / name)
    shutil.copy2(galaxy_tarball, tmp_path / galaxy_tarball.name)
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-builder"), "create", "-f", "execution-environment.yml", "-c", "context", "-v", "3"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"ansible-builder create failed:\n{proc.stdout}"
    assert "No matches" not in proc.stdout, proc.stdout
    build = tmp_path / "context" / "_build"
    assert (build / "kilo-mesh" / galaxy_tarball.name).is_file(), proc.stdout
    for name in ("requirements.txt", "bindep.txt", "requirements.yml"):
        assert (build / name).read_text() == (REPO / name).read_text(), f"{name} not copied into the build context"
    containerfile = next(
        path for path in (tmp_path / "context").iterdir() if path.name in ("Containerfile", "Dockerfile")
    )
    text = containerfile.read_text()
    assert "ansible-galaxy collection install --offline /build/kilo-mesh/kilo-mesh-*.tar.gz" in text
    assert "--user-pip=requirements.txt --user-bindep=bindep.txt" in text
