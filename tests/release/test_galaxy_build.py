# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The Galaxy release artifact: build, contents, install into a fresh venv, run a playbook from it.

``ansible-galaxy collection build`` must produce a tarball that holds the collection content and none
of the local state (virtualenv, caches, CI files, test output, lab files, keys). That tarball is then
installed with ``ansible-galaxy collection install`` into an empty collections directory of a FRESH
virtualenv that has only ansible-core (same version as the development venv; Galaxy is unreachable,
so the kubernetes.core dependency is copied from the ``ansible`` package's bundled collections first,
and the install runs ``--offline`` against it). Finally ``ansible-playbook kilo.mesh.site`` (by FQCN)
runs from that venv against the local lab with ANSIBLE_COLLECTIONS_PATH pointing only at the install
directory, so every role, module and plugin it uses comes from the tarball.
"""

from __future__ import annotations

import base64
import fnmatch
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

# Paths (relative to the collection root) that must never ship.
FORBIDDEN_PATTERNS = (
    ".venv/*",
    ".cache/*",
    ".ci/*",
    ".git/*",
    ".github/*",
    ".ansible/*",
    "tests/output/*",
    "hack/lab/*",
    "lab-output/*",
    "benchmarks/*",
    "*.tar.gz",
    "changelogs/.plugin-cache.yaml",
    "*.pyc",
    "*/__pycache__/*",
    ".mypy_cache/*",
    ".pytest_cache/*",
    ".ruff_cache/*",
)
# File names that look like key material.
KEY_NAME_PATTERNS = ("*.key", "*.pem", "*.p12", "id_rsa", "id_ed25519", "id_ecdsa", "*privatekey*", "*.next")
# Key material inside files: PEM private keys, and WireGuard "PrivateKey = <44 base64 chars>" lines whose
# key is random data (test vectors such as "cHJpdgAAAA...", b"priv" + zeros, are not key material).
PEM_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")
WG_PRIVATE_KEY = re.compile(rb"PrivateKey\s*=\s*([A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)")
# Python libraries kilo.mesh.site needs on the controller (the verify role's ansible.utils ipaddr filters).
# Taken from requirements.txt; the kubernetes libraries there serve only the kilo role and would add
# two minutes and 300 MB to the fresh venv.
SITE_PYTHON_REQUIREMENTS = ("netaddr",)
# Content directories whose every file must be in the tarball.
CONTENT_DIRS = ("plugins", "roles", "playbooks", "meta", "docs", "changelogs")
REQUIRED_FILES = (
    "README.md",
    "LICENSE",
    "meta/runtime.yml",
    "meta/execution-environment.yml",
    "requirements.txt",
    "requirements.yml",
    "bindep.txt",
    "execution-environment.yml",
    "changelogs/changelog.yaml",
    "CHANGELOG.rst",
    "CHANGELOG.md",
)


def _members(tarball: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tarball) as archive:
        return {member.name.removeprefix("./"): member for member in archive.getmembers()}


def _working_tree_files(directory: str) -> set[str]:
    root = REPO / directory
    return {
        str(path.relative_to(REPO))
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def test_tarball_holds_content_and_no_local_state(galaxy_tarball: Path, galaxy_meta: dict) -> None:
    members = _members(galaxy_tarball)
    files = {name for name, member in members.items() if member.isfile()}

    manifest = json.loads(tarfile.open(galaxy_tarball).extractfile("MANIFEST.json").read())  # noqa: SIM115
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == (
        galaxy_meta["namespace"],
        galaxy_meta["name"],
        galaxy_meta["version"],
    )

    forbidden = sorted(name for name in members if any(fnmatch.fnmatch(name, pat) for pat in FORBIDDEN_PATTERNS))
    assert not forbidden, f"local state in the tarball (extend build_ignore in galaxy.yml): {forbidden}"

    missing_required = sorted(name for name in REQUIRED_FILES if name not in files)
    assert not missing_required, f"the tarball lacks {missing_required}"

    for directory in CONTENT_DIRS:
        expected = _working_tree_files(directory)
        assert expected, f"{directory}/ is empty in the working tree"
        missing = sorted(
            name for name in expected - files if not any(fnmatch.fnmatch(name, pat) for pat in FORBIDDEN_PATTERNS)
        )
        assert not missing, f"{directory}/ files missing from the tarball (build_ignore too wide?): {missing}"

    modules = [name for name in files if fnmatch.fnmatch(name, "plugins/modules/*.py")]
    roles = [name for name in files if fnmatch.fnmatch(name, "roles/*/tasks/main.yml")]
    playbooks = [name for name in files if fnmatch.fnmatch(name, "playbooks/*.yml")]
    assert modules and roles and playbooks, f"modules={modules} roles={roles} playbooks={playbooks}"


# FQCN uses in tasks (`ns.coll.module:`), Jinja filters/tests (`| ns.coll.name`) and lookups
FQCN_USES = (
    re.compile(r"^\s*-?\s*([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+:\s*$", re.M),
    re.compile(r"\|\s*([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+"),
    re.compile(r"\bis\s+(?:not\s+)?([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+"),
    re.compile(r"\b(?:lookup|query|q)\(\s*['\"]([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+"),
)


def test_used_collections_are_declared(galaxy_meta: dict) -> None:
    """Every collection the content uses is kilo.mesh itself, ansible.builtin or a galaxy.yml dependency."""
    allowed = {"ansible.builtin", "ansible.legacy", f"{galaxy_meta['namespace']}.{galaxy_meta['name']}"}
    allowed |= set(galaxy_meta.get("dependencies") or {})
    undeclared: dict[str, set[str]] = {}
    for directory in ("roles", "playbooks"):
        for path in sorted((REPO / directory).rglob("*")):
            if not path.is_file() or path.suffix not in (".yml", ".yaml", ".j2"):
                continue
            text = path.read_text()
            for pattern in FQCN_USES:
                for namespace, name in pattern.findall(text):
                    if f"{namespace}.{name}" not in allowed:
                        undeclared.setdefault(f"{namespace}.{name}", set()).add(str(path.relative_to(REPO)))
    assert not undeclared, f"collections used but not in galaxy.yml dependencies: {undeclared}"


def _random_key(encoded: bytes) -> bool:
    """A real X25519 private key is 32 random bytes: it has (far) more than 16 distinct byte values."""
    return len(set(base64.b64decode(encoded))) >= 16


def _key_material(data: bytes) -> bool:
    return bool(PEM_PRIVATE_KEY.search(data)) or any(_random_key(key) for key in WG_PRIVATE_KEY.findall(data))


def test_tarball_holds_no_keys(galaxy_tarball: Path) -> None:
    offenders = []
    with tarfile.open(galaxy_tarball) as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            base = member.name.rsplit("/", 1)[-1]
            if any(fnmatch.fnmatch(base, pattern) for pattern in KEY_NAME_PATTERNS):
                offenders.append(f"{member.name}: file name looks like key material")
                continue
            handle = archive.extractfile(member)
            if handle is not None and _key_material(handle.read()):
                offenders.append(f"{member.name}: contains a private key")
    assert not offenders, "key material in the release tarball:\n" + "\n".join(offenders)


# --------------------------------------------------------------------------------------------------
# Fresh venv install + playbook by FQCN against the lab


def _run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd,
        cwd=str(cwd),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        timeout=timeout,
    )


def _ok(proc: subprocess.CompletedProcess) -> str:
    if proc.returncode != 0:
        pytest.fail(f"`{' '.join(map(str, proc.args))}` exited {proc.returncode}:\n{proc.stdout}", pytrace=False)
    return proc.stdout


def _ansible_core_version() -> str:
    from ansible.release import __version__

    return __version__


def _bundled_collection(fqcn: str) -> Path:
    """A collection as shipped inside the `ansible` package of the development venv."""
    import ansible_collections

    namespace, name = fqcn.split(".")
    for base in ansible_collections.__path__:
        candidate = Path(base) / namespace / name
        if (candidate / "MANIFEST.json").is_file():
            return candidate
    raise AssertionError(f"{fqcn} is not bundled in the venv's ansible package; cannot install it offline")


def _load_lab_helpers() -> Any:
    """tests/lab/conftest.py (the LAB helper's fixture code), loaded by path: start_lab / stop_lab."""
    path = REPO / "tests" / "lab" / "conftest.py"
    spec = importlib.util.spec_from_file_location("mesh_lab_helpers", path)
    assert spec and spec.loader, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def release_lab() -> Iterator[Any]:
    """A lab of its own (namespace prefix ``kr<pid>``), so it never collides with tests/lab's ``kt<pid>``."""
    if os.geteuid() != 0:
        pytest.fail("the lab needs root (network namespaces, mounts); run the suite as root")
    helpers = _load_lab_helpers()
    lab = helpers.start_lab(f"kr{os.getpid() % 1000}")
    try:
        yield lab
    finally:
        proc = helpers.stop_lab(lab)
        assert proc.returncode == 0, f"hack/lab/down.sh failed:\n{proc.stdout}{proc.stderr}"


@pytest.fixture(scope="module")
def fresh_install(tmp_path_factory: pytest.TempPathFactory, galaxy_tarball: Path, galaxy_meta: dict) -> dict[str, Any]:
    """A new venv with only ansible-core, and the tarball installed into an empty collections dir."""
    root = tmp_path_factory.mktemp("fresh-install")
    venv = root / "venv"
    collections = root / "collections"
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    env["ANSIBLE_NOCOLOR"] = "1"

    _ok(_run([str(base_python), "-m", "venv", str(venv)], env, root))
    requirements = {
        re.split(r"[<>=!~;\s\[]", line, maxsplit=1)[0].lower(): line.strip()
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    extra = [requirements[name] for name in SITE_PYTHON_REQUIREMENTS]  # KeyError = requirements.txt lost it
    pip = [str(venv / "bin" / "pip"), "install", f"ansible-core=={_ansible_core_version()}", *extra]
    _ok(_run(pip, env, root, 900))

    # dependencies declared in galaxy.yml and their own (e.g. community.general 13 needs
    # community.library_inventory_filtering_v1), from the `ansible` package (Galaxy is unreachable)
    pending, copied = sorted(galaxy_meta.get("dependencies") or {}), set()
    while pending:
        fqcn = pending.pop()
        if fqcn in copied:
            continue
        copied.add(fqcn)
        source = _bundled_collection(fqcn)
        namespace, name = fqcn.split(".")
        shutil.copytree(source, collections / "ansible_collections" / namespace / name)
        manifest = json.loads((source / "MANIFEST.json").read_text())
        pending.extend(sorted(manifest["collection_info"].get("dependencies") or {}))

    install = [str(venv / "bin" / "ansible-galaxy"), "collection", "install", "--offline", str(galaxy_tarball)]
    _ok(_run([*install, "-p", str(collections)], env, root))
    return {"root": root, "venv": venv, "collections": collections, "env": env}


def test_fresh_venv_has_only_the_installed_collection(fresh_install: dict[str, Any], galaxy_meta: dict) -> None:
    venv, env, root = fresh_install["venv"], fresh_install["env"], fresh_install["root"]
    installed_at = fresh_install["collections"] / "ansible_collections"
    fqcn = f"{galaxy_meta['namespace']}.{galaxy_meta['name']}"

    listing = json.loads(
        _ok(_run([str(venv / "bin" / "ansible-galaxy"), "collection", "list", fqcn, "--format", "json"], env, root))
    )
    holders = {path: found[fqcn]["version"] for path, found in listing.items() if fqcn in found}
    assert holders == {str(installed_at): galaxy_meta["version"]}, f"{fqcn} found at {holders}"

    # the venv is really fresh: no `ansible` package with bundled collections, no repo on the path
    probe = _run([str(venv / "bin" / "python"), "-c", "import ansible_collections"], env, root)
    assert probe.returncode != 0, "the fresh venv must not contain the `ansible` package"

    doc = json.loads(
        _ok(_run([str(venv / "bin" / "ansible-doc"), "--json", "-t", "module", f"{fqcn}.wireguard_key"], env, root))
    )
    filename = doc[f"{fqcn}.wireguard_key"]["doc"]["filename"]
    assert filename.startswith(str(installed_at)), f"module loaded from {filename}, not from the install"


def test_site_playbook_by_fqcn_from_installed_tarball(
    fresh_install: dict[str, Any], release_lab: Any, galaxy_meta: dict
) -> None:
    venv, env, root = fresh_install["venv"], fresh_install["env"], fresh_install["root"]
    fqcn = f"{galaxy_meta['namespace']}.{galaxy_meta['name']}"
    proc = _run(
        [str(venv / "bin" / "ansible-playbook"), "-vv", f"{fqcn}.site", "-i", str(release_lab.inventory)],
        env,
        root,
        timeout=1200,
    )
    output = _ok(proc)
    recap = re.findall(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output, re.M)
    assert sorted(row[0] for row in recap) == sorted(release_lab.hosts), output
    assert all(row[3] == "0" and row[4] == "0" for row in recap), output  # unreachable, failed
    # every task ran from the installed collection, not from the working tree
    installed_at = str(fresh_install["collections"] / "ansible_collections" / "kilo" / "mesh")
    task_paths = re.findall(r"^task path: (\S+)", output, re.M)
    assert task_paths, output
    elsewhere = sorted({path for path in task_paths if not path.startswith(installed_at)})
    assert not elsewhere, f"tasks ran from outside {installed_at}: {elsewhere}"
