# SPDX-License-Identifier: Apache-2.0
# Copyright: (c) 2026, kilo.mesh contributors
"""Static checks of the whole collection, as pytest tests.

Each linter is one test whose assertion message carries the tool's output, so CI's pytest summary
counts them and a failure shows what to fix:

* yamllint (``.yamllint``), ``ruff check`` and ``ruff format --check`` (``ruff.toml``), mypy on the
  topology engine (``.mypy.ini``), ansible-lint with the production profile (``.ansible-lint``);
* ``ansible-test sanity`` of the venv's ansible-core, on the venv's Python (each cell of the test matrix,
  ``hack/test.sh --ansible 2.X``, checks its own core), with empty ignore files (``ignore-2.X.txt``, one per
  cell: tests/release/test_support_matrix.py): run once per session on a copy of the
  tree at ``<tmp>/ansible_collections/kilo/mesh`` (ansible-test refuses a symlinked collection root),
  then one pytest test per sanity test, read from ansible-test's JUnit output;
* every role's ``meta/argument_specs.yml`` agrees with its ``defaults/main.yml`` (STYLE 5).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SANITY_DIR = REPO / "tests" / "sanity"
SHIM = REPO / "hack" / "get_pip_shim.py"
COLLECTIONS_PATH = REPO / ".cache" / "collections"  # created by tests/conftest.py

# Top-level entries never copied into the ansible-test tree (local state, not collection content).
COPY_EXCLUDES = {".venv", ".cache", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ansible", "lab-output"}

# Every sanity test ansible-test 2.19, 2.20 and 2.21 run for a collection (`ansible-test sanity --list-tests`),
# except pslint: the collection has no PowerShell and this machine has no pwsh.
SANITY_TESTS = (
    "action-plugin-docs",
    "ansible-doc",
    "changelog",
    "compile",
    "empty-init",
    "ignores",
    "import",
    "line-endings",
    "no-assert",
    "no-get-exception",
    "no-illegal-filenames",
    "no-smart-quotes",
    "pep8",
    "pylint",
    "replace-urlopen",
    "runtime-metadata",
    "shebang",
    "shellcheck",
    "symlinks",
    "use-argspec-type-path",
    "use-compat-six",
    "validate-modules",
    "yamllint",
)
SANITY_SKIPPED = ("pslint",)
# Tests that check only files this collection need not have; ansible-test then reports them as
# skipped with "No tests applicable." and that counts as a pass. Any other skip is a failure.
SANITY_MAY_NOT_APPLY = {
    "empty-init": "checks only __init__.py files under plugins/modules/ and tests/unit/",
}
NOT_APPLICABLE = "No tests applicable."
# the controller Python of the cell (a version ansible-test supports for the controller, e.g. 3.13 for 2.21)
SANITY_PYTHON = "{}.{}".format(*sys.version_info[:2])

# ansible-lint paths (the ones that exist are linted)
ANSIBLE_LINT_PATHS = ("roles", "playbooks", "extensions", "tests")


def _run(cmd: list[str], *, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: int = 900):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        cmd,
        cwd=str(cwd),
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def _explain(proc: subprocess.CompletedProcess) -> str:
    cmd = " ".join(str(part) for part in proc.args)
    return f"`{cmd}` exited {proc.returncode}:\n{proc.stdout}"


def _assert_ok(proc: subprocess.CompletedProcess) -> None:
    if proc.returncode != 0:
        pytest.fail(_explain(proc), pytrace=False)


def _tool(name: str) -> str:
    path = VENV_BIN / name
    assert path.exists(), f"{name} is not installed in {VENV_BIN}; install it into the venv"
    return str(path)


# --------------------------------------------------------------------------------------------------
# Linters run on the working tree


def test_yamllint() -> None:
    proc = _run([_tool("yamllint"), "--strict", "-f", "parsable", "-c", ".yamllint", "."])
    _assert_ok(proc)


def test_ruff_check() -> None:
    proc = _run([_tool("ruff"), "check", "--no-cache", "--output-format", "concise", "."])
    _assert_ok(proc)


def test_ruff_format() -> None:
    proc = _run([_tool("ruff"), "format", "--no-cache", "--check", "--diff", "."])
    _assert_ok(proc)


def test_mypy_topology() -> None:
    package = REPO / "plugins" / "module_utils" / "topology"
    assert package.is_dir(), f"{package} is missing"
    proc = _run(
        [
            _tool("mypy"),
            "--config-file",
            ".mypy.ini",
            "--no-incremental",
            "--cache-dir",
            os.devnull,
            "plugins/module_utils/topology",
        ]
    )
    _assert_ok(proc)


def test_ansible_lint() -> None:
    paths = [name for name in ANSIBLE_LINT_PATHS if (REPO / name).is_dir()]
    assert paths, f"none of {ANSIBLE_LINT_PATHS} exists in {REPO}"
    env = {
        # kilo.mesh resolves to this tree through .cache/collections (tests/conftest.py)
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH),
        "NO_COLOR": "1",
    }
    proc = _run(
        [_tool("ansible-lint"), "--offline", "--nocolor", "-c", ".ansible-lint", "--profile", "production", *paths],
        env=env,
    )
    _assert_ok(proc)


# --------------------------------------------------------------------------------------------------
# ansible-test sanity


def _pinned_pip_version() -> str:
    """The pip version ansible-test bootstraps into its virtual environments (from its own source)."""
    import ansible_test

    source = Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
    match = re.search(r"default_packages = dict\(\s*pip='([0-9.]+)'", source.read_text())
    assert match, f"cannot find the pinned pip version in {source}"
    return match.group(1)


def install_get_pip_shim() -> Path:
    """Put hack/get_pip_shim.py where ansible-test looks for its cached get-pip script."""
    cache = Path.home() / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"get_pip_{_pinned_pip_version().replace('.', '_')}.py"
    wanted = SHIM.read_bytes()
    if not target.exists() or target.read_bytes() != wanted:
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(wanted)
        tmp.replace(target)
    return target


def _copy_ignore(directory: str, names: list[str]) -> set[str]:
    ignored = {name for name in names if name == "__pycache__"}
    if Path(directory) == REPO:
        ignored |= COPY_EXCLUDES.intersection(names)
    if Path(directory) == REPO / "tests":
        ignored |= {"output"}.intersection(names)
    return ignored


def copy_collection(dest_root: Path) -> Path:
    """Copy the working tree to ``dest_root/ansible_collections/kilo/mesh`` (a real directory)."""
    dest = dest_root / "ansible_collections" / "kilo" / "mesh"
    shutil.copytree(REPO, dest, symlinks=True, ignore=_copy_ignore)
    return dest


@pytest.fixture(scope="session")
def sanity_result(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Run ``ansible-test sanity`` once; return the process and a map test name -> failure text ('' = passed)."""
    install_get_pip_shim()
    collection = copy_collection(tmp_path_factory.mktemp("ansible-test"))
    skip = [arg for name in SANITY_SKIPPED for arg in ("--skip-test", name)]
    proc = _run(
        [_tool("ansible-test"), "sanity", "--python", SANITY_PYTHON, "--venv", "--junit", "--color", "no", *skip],
        cwd=collection,
        timeout=1800,
    )
    results: dict[str, str] = {}
    for report in sorted((collection / "tests" / "output" / "junit").glob("ansible-test-sanity-*.xml")):
        for case in ET.parse(report).getroot().iter("testcase"):
            name = re.sub(rf"-python-{re.escape(SANITY_PYTHON)}$", "", case.get("name", ""))
            problems = [
                f"{node.get('message', '')}\n{node.text or ''}".strip()
                for node in case
                if node.tag in ("failure", "error", "skipped")
            ]
            results[name] = "\n".join(problems)
    return proc, results


@pytest.mark.parametrize("name", SANITY_TESTS)
def test_ansible_test_sanity(name: str, sanity_result: tuple[subprocess.CompletedProcess, dict[str, str]]) -> None:
    proc, results = sanity_result
    assert name in results, f"ansible-test reported no result for sanity test {name!r}\n{_explain(proc)}"
    if name in SANITY_MAY_NOT_APPLY and results[name] == NOT_APPLICABLE:
        return
    assert results[name] == "", f"ansible-test sanity --test {name}:\n{results[name]}"


def test_ansible_test_sanity_overall(sanity_result: tuple[subprocess.CompletedProcess, dict[str, str]]) -> None:
    """The whole run passes and covers exactly the tests listed above (a new ansible-test test shows up here)."""
    proc, results = sanity_result
    assert sorted(results) == sorted(SANITY_TESTS), (
        f"sanity tests run {sorted(results)} differ from the expected {sorted(SANITY_TESTS)}; update SANITY_TESTS"
    )
    _assert_ok(proc)


def test_sanity_ignore_files_empty() -> None:
    ignore_files = sorted(SANITY_DIR.glob("ignore-*.txt"))
    assert ignore_files, f"no ignore-*.txt in {SANITY_DIR}"
    filled = {path.name: path.read_text() for path in ignore_files if path.read_text().strip()}
    assert not filled, f"sanity ignore files must stay empty (fix the finding instead): {filled}"


def test_get_pip_shim_bootstraps_pip(tmp_path: Path) -> None:
    """The shim creates a working pip in a bare venv and installs what it is asked for, like get-pip.py."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    python = tmp_path / "venv" / "bin" / "python"
    version = _pinned_pip_version()
    proc = _run([str(python), str(SHIM), "--no-setuptools", "--no-wheel", f"pip=={version}"], timeout=600)
    _assert_ok(proc)
    check = _run([str(python), "-m", "pip", "--version"])
    _assert_ok(check)
    assert check.stdout.startswith(f"pip {version} "), check.stdout


# --------------------------------------------------------------------------------------------------
# Roles: meta/argument_specs.yml agrees with defaults/main.yml (STYLE 5)


def _roles() -> list[str]:
    roles_dir = REPO / "roles"
    return sorted(path.name for path in roles_dir.iterdir() if path.is_dir()) if roles_dir.is_dir() else []


def _load_yaml(path: Path) -> dict:
    data = yaml.safe_load(path.read_text()) if path.exists() else None
    return data or {}


def argument_spec_problems(role_dir: Path) -> list[str]:
    """Differences between a role's argument specs and its defaults, as readable messages."""
    spec_file = role_dir / "meta" / "argument_specs.yml"
    defaults_file = role_dir / "defaults" / "main.yml"
    if not spec_file.exists():
        return [f"{spec_file.relative_to(REPO)} is missing"]
    specs = _load_yaml(spec_file).get("argument_specs") or {}
    defaults = _load_yaml(defaults_file)
    if "main" not in specs:
        return [f"{spec_file.relative_to(REPO)} has no 'main' entry point"]
    problems = []
    main_options = specs["main"].get("options") or {}
    optional = {name for name, option in main_options.items() if not (option or {}).get("required", False)}
    for name in sorted(set(defaults) - set(main_options)):
        problems.append(f"{name}: in defaults/main.yml but not an option of argument_specs main")
    for name in sorted(optional - set(defaults)):
        problems.append(f"{name}: optional in argument_specs main but has no value in defaults/main.yml")
    for name in sorted(set(defaults) & set(main_options) - optional):
        problems.append(f"{name}: required in argument_specs main but has a value in defaults/main.yml")
    for entry_point, spec in sorted(specs.items()):
        for name, option in sorted((spec.get("options") or {}).items()):
            option = option or {}
            if name not in defaults:
                if "default" in option:
                    problems.append(f"{entry_point}.{name}: spec default {option['default']!r} missing in defaults")
                continue
            if "default" not in option:
                problems.append(f"{entry_point}.{name}: spec has no default; defaults/main.yml has {defaults[name]!r}")
            elif option["default"] != defaults[name]:
                problems.append(
                    f"{entry_point}.{name}: spec default {option['default']!r} != defaults/main.yml {defaults[name]!r}"
                )
    return problems


@pytest.mark.parametrize("role", _roles() or ["<no roles>"])
def test_role_argument_specs_match_defaults(role: str) -> None:
    role_dir = REPO / "roles" / role
    assert role_dir.is_dir(), f"no roles found under {REPO / 'roles'}"
    problems = argument_spec_problems(role_dir)
    assert not problems, f"roles/{role}: meta/argument_specs.yml vs defaults/main.yml:\n" + "\n".join(problems)
