# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The changelog: fragments and changelog.yaml pass antsibull-changelog's linters, the current
galaxy.yml version is released with a summary, and CHANGELOG.rst / CHANGELOG.md are exactly what
``antsibull-changelog generate`` makes of changelogs/changelog.yaml."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CHANGELOG_YAML = REPO / "changelogs" / "changelog.yaml"


def _antsibull(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(
        [str(VENV_BIN / "antsibull-changelog"), *args],
        cwd=str(cwd),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        timeout=600,
    )


def _ok(proc: subprocess.CompletedProcess) -> None:
    if proc.returncode != 0 or proc.stdout.strip():
        pytest.fail(f"`{' '.join(proc.args)}` exited {proc.returncode}:\n{proc.stdout}", pytrace=False)


def test_fragments_lint() -> None:
    _ok(_antsibull("lint"))


def test_changelog_yaml_lint() -> None:
    assert CHANGELOG_YAML.is_file(), "changelogs/changelog.yaml is missing: run antsibull-changelog release"
    _ok(_antsibull("lint-changelog-yaml", str(CHANGELOG_YAML)))


def test_current_version_released_with_summary(galaxy_meta: dict) -> None:
    changelog = yaml.safe_load(CHANGELOG_YAML.read_text())
    release = (changelog.get("releases") or {}).get(galaxy_meta["version"])
    assert release, f"changelog.yaml has no release {galaxy_meta['version']} (galaxy.yml version)"
    summary = (release.get("changes") or {}).get("release_summary", "")
    assert summary.strip(), f"release {galaxy_meta['version']} has no release_summary"


def test_config_uses_fqcn_and_both_formats() -> None:
    config = yaml.safe_load((REPO / "changelogs" / "config.yaml").read_text())
    assert config["use_fqcn"] is True
    assert sorted(entry["format"] for entry in config["output"]) == ["md", "rst"]


def test_generated_changelogs_are_current(tmp_path: Path) -> None:
    """Regenerate in a copy of the collection and compare with the committed files."""
    copy = tmp_path / "ansible_collections" / "kilo" / "mesh"
    copy.mkdir(parents=True)
    for name in ("galaxy.yml", "CHANGELOG.rst", "CHANGELOG.md"):
        assert (REPO / name).is_file(), f"{name} is missing: run antsibull-changelog generate"
        shutil.copy2(REPO / name, copy / name)
    shutil.copytree(REPO / "changelogs", copy / "changelogs", ignore=shutil.ignore_patterns(".plugin-cache.yaml"))
    for fragment in (copy / "changelogs" / "fragments").glob("*"):
        fragment.unlink()  # generate renders releases only; unreleased fragments must not matter
    # the plugin cache records the collection's plugins; `generate` needs it, not the plugins themselves
    cache = REPO / "changelogs" / ".plugin-cache.yaml"
    if cache.is_file():
        shutil.copy2(cache, copy / "changelogs" / ".plugin-cache.yaml")
    else:
        for directory in ("plugins", "roles", "playbooks", "meta"):
            if (REPO / directory).is_dir():
                shutil.copytree(REPO / directory, copy / directory, ignore=shutil.ignore_patterns("__pycache__"))
    proc = _antsibull("generate", cwd=copy)
    assert proc.returncode == 0, proc.stdout
    for name in ("CHANGELOG.rst", "CHANGELOG.md"):
        assert (copy / name).read_text() == (REPO / name).read_text(), (
            f"{name} differs from `antsibull-changelog generate`; regenerate it"
        )


def _added_in(version: str) -> dict[str, set[str]]:
    """Content whose documentation says version_added == version: {'module': {...}, 'lookup': {...}, 'role': {...}}."""
    pattern = re.compile(rf"^\s*version_added:\s*[\"']?{re.escape(version)}[\"']?\s*$", re.M)
    found: dict[str, set[str]] = {}
    for kind in ("modules", "lookup", "inventory", "filter", "test"):
        directory = REPO / "plugins" / kind
        for path in sorted(directory.glob("*.py")) + sorted(directory.glob("*.yml")):
            text = path.read_text()
            head = text[: text.find("options:")] if "options:" in text else text  # the plugin's own version_added
            if path.suffix == ".py" and kind == "filter":
                continue  # filter docs live in the .yml sidecars
            if pattern.search(head):
                found.setdefault("module" if kind == "modules" else kind, set()).add(path.stem)
    for role in sorted((REPO / "roles").iterdir()):
        spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text()) if role.is_dir() else None
        main = ((spec or {}).get("argument_specs") or {}).get("main") or {}
        if str(main.get("version_added", "")) == version:
            found.setdefault("role", set()).add(role.name)
    return found


def test_release_lists_all_new_content(galaxy_meta: dict) -> None:
    """Every module, plugin and role documented as added in this version is in its release's changelog."""
    version = galaxy_meta["version"]
    release = yaml.safe_load(CHANGELOG_YAML.read_text())["releases"][version]
    listed = {"module": {entry["name"] for entry in release.get("modules") or []}}
    for kind, entries in (release.get("plugins") or {}).items():
        listed[kind] = {entry["name"] for entry in entries}
    for kind, entries in (release.get("objects") or {}).items():
        listed[kind] = {entry["name"] for entry in entries}
    missing = {}
    for kind, names in _added_in(version).items():
        if names - listed.get(kind, set()):
            missing[kind] = sorted(names - listed.get(kind, set()))
    assert not missing, f"not in the {version} changelog (run `antsibull-changelog generate --refresh`): {missing}"
