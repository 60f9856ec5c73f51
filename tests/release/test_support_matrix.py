# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""The supported ansible-core releases are stated once per place and agree everywhere.

The cells of the test matrix are the files ``tests/requirements-2.X.txt`` (exact ``ansible`` and ``ansible-core``
pins). From them: ``hack/deps.sh`` knows each cell's controller Python, ``.ci/run`` runs every cell,
``meta/runtime.yml``'s ``requires_ansible`` spans exactly those releases, every role's ``min_ansible_version``
is the oldest, ``tests/sanity`` has one (empty) ignore file per cell, and the README's support table lists
each cell with its pins.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _cells() -> dict[str, dict[str, str]]:
    """cell ("2.20") -> {"ansible": "13.8.0", "ansible-core": "2.20.10"} from tests/requirements-2.X.txt."""
    cells = {}
    for path in sorted((REPO / "tests").glob("requirements-2.*.txt")):
        cell = path.stem.removeprefix("requirements-")
        pins = dict(re.findall(r"^(ansible|ansible-core)==(\S+)$", path.read_text(), re.MULTILINE))
        assert set(pins) == {"ansible", "ansible-core"}, f"{path.name} must pin ansible==X and ansible-core==Y"
        assert pins["ansible-core"].startswith(cell + "."), f"{path.name}: ansible-core {pins['ansible-core']}"
        assert "-r requirements.txt" in path.read_text().splitlines(), f"{path.name} must include requirements.txt"
        cells[cell] = pins
    assert cells, "no tests/requirements-2.X.txt"
    return cells


def _key(cell: str) -> tuple[int, ...]:
    return tuple(int(part) for part in cell.split("."))


def _deps_pythons() -> dict[str, str]:
    text = (REPO / "hack" / "deps.sh").read_text()
    return dict(re.findall(r"^\s*(2\.\d+)\) python_version=(3\.\d+) ;;$", text, re.MULTILINE))


def test_ansible_package_matches_its_core() -> None:
    """ansible 12 ships core 2.19, 13 ships 2.20, 14 ships 2.21 (kubernetes.core comes from that package)."""
    for cell, pins in _cells().items():
        assert int(pins["ansible"].split(".")[0]) == _key(cell)[1] - 7, f"cell {cell}: {pins}"


def test_deps_and_ci_know_every_cell() -> None:
    cells = _cells()
    assert sorted(_deps_pythons()) == sorted(cells), "hack/deps.sh's cells differ from tests/requirements-2.X.txt"
    ci = (REPO / ".ci" / "run").read_text()
    ci_cells = set(re.findall(r'^\s*"(2\.\d+)\|', ci, re.MULTILINE))
    assert ci_cells == set(cells), f".ci/run runs {sorted(ci_cells)}, the matrix has {sorted(cells)}"
    default = re.search(r"^cells=\$\{KILO_MESH_CI_CELLS:-([0-9. ]+)\}$", ci, re.MULTILINE)
    assert default and set(default.group(1).split()) == set(cells), ".ci/run's default KILO_MESH_CI_CELLS"


def test_runtime_and_roles_state_the_tested_releases() -> None:
    cells = sorted(_cells(), key=_key)
    oldest, newest = cells[0], cells[-1]
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    major, minor = _key(newest)
    assert runtime["requires_ansible"] == f">={oldest}.0,<{major}.{minor + 1}.0"
    for meta in sorted((REPO / "roles").glob("*/meta/main.yml")):
        info = yaml.safe_load(meta.read_text())["galaxy_info"]
        assert str(info["min_ansible_version"]) == oldest, f"{meta.relative_to(REPO)}: {info['min_ansible_version']}"


def test_sanity_ignore_file_per_cell() -> None:
    names = sorted(path.name for path in (REPO / "tests" / "sanity").glob("ignore-*.txt"))
    assert names == sorted(f"ignore-{cell}.txt" for cell in _cells())


def test_readme_support_table_lists_every_cell() -> None:
    """One row per cell: | cell | ansible-core | ansible | controller Python | venv | tiers |."""
    readme = (REPO / "README.md").read_text()
    rows = {}
    for line in readme.splitlines():
        cols = [col.strip() for col in line.strip().strip("|").split("|")]
        if line.startswith("| 2.") and len(cols) == 6:
            rows[cols[0]] = cols
    cells = _cells()
    pythons = _deps_pythons()
    assert sorted(rows) == sorted(cells), f"README support table rows {sorted(rows)}, cells {sorted(cells)}"
    newest = max(cells, key=_key)
    for cell, pins in cells.items():
        core, ansible, python, venv, tiers = rows[cell][1:]
        assert (core, ansible, python) == (pins["ansible-core"], pins["ansible"], pythons[cell]), rows[cell]
        assert venv == ("`.venv`" if cell == newest else f"`.cache/venv-{cell}`"), rows[cell]
        assert tiers, rows[cell]
